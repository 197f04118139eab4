package ppp

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// scrape gathers reg and renders the samples of the named metrics as sorted
// `name{label="value",...} value` lines (a small stand-in for prometheus/testutil, whose
// dependencies this module does not carry).
func scrape(t testing.TB, reg prometheus.Gatherer, names ...string) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, mf := range mfs {
		if !slices.Contains(names, mf.GetName()) {
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

// counterValue returns the value of one sample, as scrape renders it.
func counterValue(t testing.TB, reg prometheus.Gatherer, name, labels string) string {
	t.Helper()
	for _, l := range strings.Split(scrape(t, reg, name), "\n") {
		if strings.HasPrefix(l, name+"{"+labels+"} ") {
			return strings.TrimPrefix(l, name+"{"+labels+"} ")
		}
	}
	return "absent"
}
