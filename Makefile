# probox build, test and release targets. `make help` lists them.

GO        ?= go
PREFIX    ?= /usr
DESTDIR   ?=
BIN       := bin/probox
VERSION   := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION  := $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS   := -s -w -X github.com/probox/probox/control.version=$(VERSION) -X github.com/probox/probox/control.revision=$(REVISION)
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(CURDIR)/bin/staticcheck
FUZZTIME  ?= 3s
VM        ?= ../shared/vm/kernel-vm
# Packages whose tests need the kernel VM; make test-kernel runs them in one boot.
KERNEL_TEST_PKGS ?= kernel/linux e2e
# Debian packages the e2e tests add to the guest image: tshark decodes the captures,
# iperf3 measures throughput (bench-kernel). They change the image's cache key, so the
# image lives in a cache of its own, apart from the plain one of ../shared/vm (which
# would otherwise be rebuilt each time either is used: kernel-vm keeps one image per cache).
export KVM_EXTRA_PACKAGES ?= tshark iperf3
export KVM_CACHE ?= $(if $(filter 0,$(shell id -u)),/var/cache/kernel-vm-probox,$(HOME)/.cache/kernel-vm-probox)
KVM_MEM   ?= 1536
LINKS     := prol2tpd propppd proacd prol2tp prol2tpwatch propppctl propppwatch proac_manage proac_info

.PHONY: help build test test-short test-kernel bench-kernel bench lint fuzz-smoke demo install symlinks docs check-docs clean tools

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build the static probox binary into bin/
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

test: ## run every test (root runs the namespace tests too); the one command CI runs
	$(GO) test -race -count=1 -timeout 30m ./...

test-short: ## unit tests only (no root, no namespaces)
	$(GO) test -race -short ./...

test-kernel: ## run the kernel data plane and e2e tests in the kernel VM, one boot (../shared/vm/README.md)
	@mkdir -p bin/kernel-tests
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/kernel-tests/probox .
	@set -e; args=; for p in $(KERNEL_TEST_PKGS); do \
	  b=bin/kernel-tests/$$(echo $$p | tr / -).test; \
	  echo "build $$b"; \
	  CGO_ENABLED=0 $(GO) test -c -o $$b ./$$p; \
	  args="$$args $$p=$$b"; \
	done; \
	$(VM) --mem $(KVM_MEM) --timeout 2400 -e PROBOX_E2E_BIN=$(CURDIR)/bin/kernel-tests/probox \
	  $(if $(KERNEL_TEST_ARGS),-e 'KERNEL_TEST_ARGS=$(KERNEL_TEST_ARGS)') -- ./scripts/kernel-tests.sh $$args

BENCH_SESSIONS ?= 10

bench-kernel: ## kernel vs userspace data plane in the kernel VM: iperf3 throughput, session setup rate
	@mkdir -p bin/kernel-tests
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/kernel-tests/probox .
	CGO_ENABLED=0 $(GO) test -c -o bin/kernel-tests/e2e.test ./e2e
	$(VM) --mem $(KVM_MEM) --timeout 900 -e PROBOX_E2E_BIN=$(CURDIR)/bin/kernel-tests/probox -- bash -c '\
	  cd e2e && set -e; \
	  ../bin/kernel-tests/e2e.test -test.run "^$$" -test.bench "^BenchmarkDataplaneThroughput$$" -test.benchtime 1x; \
	  ../bin/kernel-tests/e2e.test -test.run "^$$" -test.bench "^BenchmarkDataplaneSessionSetup$$" -test.benchtime $(BENCH_SESSIONS)x'

bench: ## run the benchmarks (figures go into BENCHMARKS.md)
	$(GO) test -run '^$$' -bench . -benchmem ./...

tools: $(STATICCHECK)

$(STATICCHECK):
	GOBIN=$(CURDIR)/bin $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: $(STATICCHECK) ## go vet, staticcheck, gofmt and the docs check
	$(GO) vet ./...
	$(STATICCHECK) ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	@$(MAKE) --no-print-directory check-docs

fuzz-smoke: ## run every fuzz target for $(FUZZTIME)
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

demo: build ## show probox at work (see README.md)
	./scripts/demo.sh

install: build ## install the binary, its links, the systemd unit and the example config
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/sbin/probox
	for l in $(LINKS); do ln -sf probox $(DESTDIR)$(PREFIX)/sbin/$$l; done
	install -D -m 0644 deploy/systemd/probox.service $(DESTDIR)/lib/systemd/system/probox.service
	install -D -m 0644 deploy/probox.toml $(DESTDIR)/usr/share/doc/probox/examples/probox.toml
	install -d -m 0755 $(DESTDIR)/etc/probox/hooks

symlinks: build ## create the mode symlinks next to bin/probox
	./$(BIN) install-links bin

docs: ## regenerate the configuration reference in README.md
	$(GO) run . config reference > .reference.md
	awk 'BEGIN{r=0} /<!-- config-reference:begin -->/{print; while((getline l < ".reference.md")>0) print l; r=1; next} /<!-- config-reference:end -->/{r=0} !r' README.md > README.md.new
	mv README.md.new README.md; rm -f .reference.md

check-docs: ## fail if README.md's configuration reference is out of date
	$(GO) test -count=1 -run TestReferenceInREADME ./config/

clean:
	rm -rf bin
