package ppp

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var (
	ip   = netip.MustParseAddr
	lns  = IPCPConfig{Local: ip("10.0.0.1"), Peer: ip("10.0.0.2"), DNS: [2]netip.Addr{ip("8.8.8.8"), ip("8.8.4.4")}}
	lnsN = IPCPConfig{Local: ip("10.0.0.1"), Peer: ip("10.0.0.2"), NBNS: [2]netip.Addr{ip("10.1.1.1")}}
	cli  = IPCPConfig{RequestDNS: true}
)

var cmpAddr = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

func TestIPCPRequest(t *testing.T) {
	tests := []struct {
		name string
		cfg  IPCPConfig
		want string
	}{
		{"server", lns, "03 06 0a 00 00 01"},
		{"client", IPCPConfig{}, "03 06 00 00 00 00"},
		{"client with DNS", cli, "03 06 00 00 00 00 81 06 00 00 00 00 83 06 00 00 00 00"},
		{"client with DNS and NBNS", IPCPConfig{RequestDNS: true, RequestNBNS: true}, "03 06 00 00 00 00 81 06 00 00 00 00 82 06 00 00 00 00 83 06 00 00 00 00 84 06 00 00 00 00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := newIPCP(tt.cfg).appendRequest(nil)
			if diff := cmp.Diff(ohex(tt.want), got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestIPCPJudge(t *testing.T) {
	tests := []struct {
		name       string
		cfg        IPCPConfig
		req        string
		rejectNaks bool
		wantCode   Code
		wantReply  string
		want       IPCPResult
	}{
		// IP-Address, RFC 1332 §3.3, server role.
		{name: "peer asks for an address", cfg: lns, req: "03 06 00 00 00 00", wantCode: CodeConfigureNak, wantReply: "03 06 0a 00 00 02"},
		{name: "peer asks for a wrong address", cfg: lns, req: "03 06 0a 00 00 05", wantCode: CodeConfigureNak, wantReply: "03 06 0a 00 00 02"},
		{name: "peer asks for its address", cfg: lns, req: "03 06 0a 00 00 02", wantCode: CodeConfigureAck, want: IPCPResult{Peer: ip("10.0.0.2")}},
		{name: "wrong address, Max-Failure reached", cfg: lns, req: "03 06 0a 00 00 05", rejectNaks: true, wantCode: CodeConfigureReject, wantReply: "03 06 0a 00 00 05"},
		{name: "address missing: hint", cfg: lns, req: "", wantCode: CodeConfigureNak, wantReply: "03 06 0a 00 00 02"},
		{name: "address missing at Max-Failure: ack", cfg: lns, req: "", rejectNaks: true, wantCode: CodeConfigureAck, want: IPCPResult{Peer: ip("10.0.0.2")}},
		{name: "address bad length", cfg: lns, req: "03 04 0a 00", wantCode: CodeConfigureReject, wantReply: "03 04 0a 00"},
		// IP-Address, client role.
		{name: "server announces its address", cfg: cli, req: "03 06 0a 00 00 01", wantCode: CodeConfigureAck, want: IPCPResult{Peer: ip("10.0.0.1")}},
		{name: "server asks us for an address", cfg: cli, req: "03 06 00 00 00 00", wantCode: CodeConfigureReject, wantReply: "03 06 00 00 00 00"},
		{name: "server claims our address", cfg: IPCPConfig{Local: ip("10.0.0.9")}, req: "03 06 0a 00 00 09", wantCode: CodeConfigureReject, wantReply: "03 06 0a 00 00 09"},
		// Name servers, RFC 1877.
		{name: "DNS asked", cfg: lns, req: "03 06 0a 00 00 02 81 06 00 00 00 00 83 06 00 00 00 00", wantCode: CodeConfigureNak, wantReply: "81 06 08 08 08 08 83 06 08 08 04 04"},
		{name: "DNS stale", cfg: lns, req: "03 06 0a 00 00 02 81 06 01 01 01 01", wantCode: CodeConfigureNak, wantReply: "81 06 08 08 08 08"},
		{name: "DNS agreed", cfg: lns, req: "03 06 0a 00 00 02 81 06 08 08 08 08 83 06 08 08 04 04", wantCode: CodeConfigureAck, want: IPCPResult{Peer: ip("10.0.0.2"), DNS: [2]netip.Addr{ip("8.8.8.8"), ip("8.8.4.4")}}},
		{name: "NBNS agreed", cfg: lnsN, req: "03 06 0a 00 00 02 82 06 0a 01 01 01", wantCode: CodeConfigureAck, want: IPCPResult{Peer: ip("10.0.0.2"), NBNS: [2]netip.Addr{ip("10.1.1.1")}}},
		{name: "NBNS asked", cfg: lnsN, req: "82 06 00 00 00 00", wantCode: CodeConfigureNak, wantReply: "82 06 0a 01 01 01 03 06 0a 00 00 02"},
		{name: "secondary NBNS not configured", cfg: lnsN, req: "03 06 0a 00 00 02 84 06 00 00 00 00", wantCode: CodeConfigureReject, wantReply: "84 06 00 00 00 00"},
		{name: "NBNS not configured", cfg: lns, req: "03 06 0a 00 00 02 82 06 00 00 00 00", wantCode: CodeConfigureReject, wantReply: "82 06 00 00 00 00"},
		{name: "DNS bad length", cfg: lns, req: "81 04 00 00", wantCode: CodeConfigureReject, wantReply: "81 04 00 00"},
		{name: "client gives no DNS", cfg: cli, req: "03 06 0a 00 00 01 81 06 00 00 00 00", wantCode: CodeConfigureReject, wantReply: "81 06 00 00 00 00"},
		// Always rejected.
		{name: "VJ compression", cfg: lns, req: "03 06 0a 00 00 02 02 06 00 2d 0f 01", wantCode: CodeConfigureReject, wantReply: "02 06 00 2d 0f 01"},
		{name: "IP-Addresses", cfg: lns, req: "01 0a 0a 00 00 02 0a 00 00 01", wantCode: CodeConfigureReject, wantReply: "01 0a 0a 00 00 02 0a 00 00 01"},
		{name: "unknown", cfg: lns, req: "03 06 0a 00 00 02 90 02", wantCode: CodeConfigureReject, wantReply: "90 02"},
		{name: "repeated address", cfg: lns, req: "03 06 0a 00 00 02 03 06 0a 00 00 02", wantCode: CodeConfigureReject, wantReply: "03 06 0a 00 00 02"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newIPCP(tt.cfg)
			req := ohex(tt.req)
			code, reply, err := n.judgeRequest(nil, req, tt.rejectNaks)
			if err != nil {
				t.Fatal(err)
			}
			wantReply := ohex(tt.wantReply)
			if tt.wantCode == CodeConfigureAck {
				wantReply = req
			}
			if code != tt.wantCode {
				t.Errorf("code = %d, want %d", code, tt.wantCode)
			}
			if diff := cmp.Diff(wantReply, reply, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("reply (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, n.result(), cmpAddr); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
		})
	}
	if _, _, err := newIPCP(lns).judgeRequest(nil, ohex("03 06 0a"), false); err == nil {
		t.Error("malformed request accepted")
	}
}

func TestIPCPReplies(t *testing.T) {
	type reply struct {
		code          Code
		opts          string
		treatAsReject bool
	}
	tests := []struct {
		name    string
		cfg     IPCPConfig
		replies []reply
		want    string
		wantErr error
		wantRes IPCPResult // after an Ack of the next request
	}{
		{
			name: "client takes the address and servers Nak'd", cfg: cli,
			replies: []reply{{CodeConfigureNak, "03 06 0a 00 00 02 81 06 08 08 08 08 83 06 08 08 04 04", false}},
			want:    "03 06 0a 00 00 02 81 06 08 08 08 08 83 06 08 08 04 04",
			wantRes: IPCPResult{Local: ip("10.0.0.2"), DNS: [2]netip.Addr{ip("8.8.8.8"), ip("8.8.4.4")}},
		},
		{
			name: "client ignores a zero address", cfg: cli,
			replies: []reply{{CodeConfigureNak, "03 06 00 00 00 00", false}},
			want:    "03 06 00 00 00 00 81 06 00 00 00 00 83 06 00 00 00 00",
		},
		{
			name: "client drops a rejected server option", cfg: cli,
			replies: []reply{{CodeConfigureReject, "83 06 00 00 00 00", false}},
			want:    "03 06 00 00 00 00 81 06 00 00 00 00",
		},
		{
			name: "client drops a server option Nak'd too often", cfg: cli,
			replies: []reply{{CodeConfigureNak, "81 06 08 08 08 08", true}},
			want:    "03 06 00 00 00 00 83 06 00 00 00 00",
		},
		{
			name: "client without address rejected fails", cfg: cli,
			replies: []reply{{CodeConfigureReject, "03 06 00 00 00 00", false}},
			wantErr: ErrNotConverging,
		},
		{
			name: "client without address Nak'd too often fails", cfg: cli,
			replies: []reply{{CodeConfigureNak, "03 06 0a 00 00 02", true}},
			wantErr: ErrNotConverging,
		},
		{
			name: "server keeps its address when Nak'd", cfg: lns,
			replies: []reply{{CodeConfigureNak, "03 06 0a 00 00 07", false}},
			want:    "03 06 0a 00 00 01",
			wantRes: IPCPResult{Local: ip("10.0.0.1")},
		},
		{
			name: "server stops announcing a rejected address", cfg: lns,
			replies: []reply{{CodeConfigureReject, "03 06 0a 00 00 01", false}},
			want:    "",
			wantRes: IPCPResult{Local: ip("10.0.0.1")},
		},
		{
			name: "server ignores server hints", cfg: lns,
			replies: []reply{{CodeConfigureNak, "81 06 01 01 01 01 90 02", false}},
			want:    "03 06 0a 00 00 01",
			wantRes: IPCPResult{Local: ip("10.0.0.1")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newIPCP(tt.cfg)
			var err error
			for _, r := range tt.replies {
				if r.code == CodeConfigureNak {
					err = n.gotNak(ohex(r.opts), r.treatAsReject)
				} else {
					err = n.gotReject(ohex(r.opts))
				}
				if err != nil {
					break
				}
			}
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			got := n.appendRequest(nil)
			if diff := cmp.Diff(ohex(tt.want), got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("next request (-want +got):\n%s", diff)
			}
			n.gotAck(got)
			if diff := cmp.Diff(tt.wantRes, n.result(), cmpAddr); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIPCPConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     IPCPConfig
		wantErr bool
	}{
		{"zero", IPCPConfig{}, false},
		{"server", lns, false},
		{"IPv6 local", IPCPConfig{Local: ip("::1")}, true},
		{"IPv6 DNS", IPCPConfig{DNS: [2]netip.Addr{{}, ip("2001:db8::1")}}, true},
		{"same local and peer", IPCPConfig{Local: ip("10.0.0.1"), Peer: ip("10.0.0.1")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); (err != nil) != tt.wantErr {
				t.Errorf("Validate() = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

// TestIPCPBackToBack runs an LNS-style server against a client.
func TestIPCPBackToBack(t *testing.T) {
	tests := []struct {
		name           string
		server, client IPCPConfig
		wantS, wantC   IPCPResult
		wantStateC     State
		wantErrC       error
	}{
		{
			name: "address and DNS", server: lns, client: cli,
			wantS:      IPCPResult{Local: ip("10.0.0.1"), Peer: ip("10.0.0.2"), DNS: [2]netip.Addr{ip("8.8.8.8"), ip("8.8.4.4")}},
			wantC:      IPCPResult{Local: ip("10.0.0.2"), Peer: ip("10.0.0.1"), DNS: [2]netip.Addr{ip("8.8.8.8"), ip("8.8.4.4")}},
			wantStateC: StateOpened,
		},
		{
			name: "no DNS on the server", server: IPCPConfig{Local: ip("10.0.0.1"), Peer: ip("10.0.0.2")}, client: cli,
			wantS:      IPCPResult{Local: ip("10.0.0.1"), Peer: ip("10.0.0.2")},
			wantC:      IPCPResult{Local: ip("10.0.0.2"), Peer: ip("10.0.0.1")},
			wantStateC: StateOpened,
		},
		{
			name: "server without an address for the client", server: IPCPConfig{Local: ip("10.0.0.1")}, client: cli,
			wantStateC: StateClosed, wantErrC: ErrNotConverging,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, a, b := memPair(t)
			ns, nc := newIPCP(tt.server), newIPCP(tt.client)
			fs, fc := a.add(FSMConfig{}, ns), b.add(FSMConfig{}, nc)
			fs.Open()
			fc.Open()
			fs.Up()
			fc.Up()
			l.run(a, b)
			if fc.State() != tt.wantStateC {
				t.Fatalf("client state %v, want %v", fc.State(), tt.wantStateC)
			}
			if !errors.Is(fc.Err(), tt.wantErrC) || (tt.wantErrC == nil && fc.Err() != nil) {
				t.Errorf("client Err() = %v, want %v", fc.Err(), tt.wantErrC)
			}
			if tt.wantStateC != StateOpened {
				return
			}
			if fs.State() != StateOpened {
				t.Errorf("server state %v", fs.State())
			}
			if diff := cmp.Diff(tt.wantS, ns.result(), cmpAddr); diff != "" {
				t.Errorf("server (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantC, nc.result(), cmpAddr); diff != "" {
				t.Errorf("client (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIPCPSetPeerAddress(t *testing.T) {
	n := newIPCP(IPCPConfig{Local: ip("10.0.0.1")})
	n.setPeerAddress(ip("10.9.9.9"))
	code, reply, err := n.judgeRequest(nil, ohex("03 06 00 00 00 00"), false)
	if err != nil || code != CodeConfigureNak {
		t.Fatalf("code %d err %v", code, err)
	}
	if diff := cmp.Diff(ohex("03 06 0a 09 09 09"), reply); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestIPCPCodeReject checks that IPCP answers LCP-only codes with Code-Reject.
func TestIPCPCodeReject(t *testing.T) {
	o := &recOwner{}
	f := newFSM(FSMConfig{}, newIPCP(lns), o)
	f.Open()
	f.Up()
	f.Input(CodeEchoRequest, 4, ohex("00 00 00 00"))
	want := sentPacket{CodeCodeReject, 2, ohex("09 04 00 08 00 00 00 00")}
	if diff := cmp.Diff(want, o.last(), cmp.AllowUnexported(sentPacket{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
