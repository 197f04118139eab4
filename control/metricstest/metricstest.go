// Package metricstest renders Prometheus samples as text for tests, a small stand-in for
// prometheus/testutil, whose dependencies this module does not carry.
package metricstest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Scrape gathers reg and renders the samples of the named metrics (all of them when
// names is empty) as sorted `name{label="value",...} value` lines (labels in name order,
// as the registry gives them), each ending in a
// newline. Counters and gauges are rendered; other kinds render as 0.
func Scrape(t testing.TB, reg prometheus.Gatherer, names ...string) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, mf := range mfs {
		if len(names) > 0 && !slices.Contains(names, mf.GetName()) {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			lines = append(lines, fmt.Sprintf("%s{%s} %g", mf.GetName(), strings.Join(labels, ","), v))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}

// Value returns the value of the sample of metric name with exactly the labels given
// (as Scrape renders them: `a="x",b="y"`), or "absent".
func Value(t testing.TB, reg prometheus.Gatherer, name, labels string) string {
	t.Helper()
	prefix := name + "{" + labels + "} "
	for _, l := range strings.Split(Scrape(t, reg, name), "\n") {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			return v
		}
	}
	return "absent"
}
