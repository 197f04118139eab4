package metricstest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

func TestScrapeAndValue(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_total", Help: "x"}, []string{"kind", "dir"})
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "y", Help: "y"})
	reg.MustRegister(c, g)
	c.WithLabelValues("a", "rx").Add(3)
	c.WithLabelValues("b", "tx").Inc()
	g.Set(2.5)

	want := "x_total{dir=\"rx\",kind=\"a\"} 3\nx_total{dir=\"tx\",kind=\"b\"} 1\n"
	if diff := cmp.Diff(want, Scrape(t, reg, "x_total")); diff != "" {
		t.Errorf("Scrape(x_total) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want+"y{} 2.5\n", Scrape(t, reg)); diff != "" {
		t.Errorf("Scrape() (-want +got):\n%s", diff)
	}
	for _, tc := range []struct{ name, metric, labels, want string }{
		{"counter", "x_total", `dir="tx",kind="b"`, "1"},
		{"gauge", "y", "", "2.5"},
		{"label subset is not a match", "x_total", `kind="a"`, "absent"},
		{"unknown metric", "z", "", "absent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Value(t, reg, tc.metric, tc.labels); got != tc.want {
				t.Errorf("Value = %q, want %q", got, tc.want)
			}
		})
	}
}
