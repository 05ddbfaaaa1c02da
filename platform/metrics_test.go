package platform_test

import (
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/schemas"
)

func TestNewMetrics(t *testing.T) {
	for _, stage := range schemas.Stages {
		t.Run(stage, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m, err := platform.NewMetrics(reg, stage)
			if err != nil {
				t.Fatalf("NewMetrics(%q): %v", stage, err)
			}
			// Vectors export nothing until a label value is used.
			m.Rows.WithLabelValues("valid").Inc()
			m.Chunk.WithLabelValues("ok").Observe(0.02)
			m.Poisoned.Inc()
			m.Imports.WithLabelValues(schemas.StatusCompleted).Inc()
			m.Waiting.WithLabelValues("clickhouse").Inc()
			m.Stalled.WithLabelValues("acme", "clients").Set(2)
			m.Refused.WithLabelValues("unknown_key").Inc()
			m.CountRejections("acme", []schemas.Rejected{
				{N: 2, Violations: []schemas.Violation{{Column: "email", Code: "format"}, {Column: "firstName", Code: "required"}}},
				{N: 3, Violations: []schemas.Violation{{Column: "email", Code: "format"}}},
			})
			m.InFlight.WithLabelValues("0-1m").Set(1)
			m.Emails.WithLabelValues("summary", "failed").Inc()
			// A rule broken is one rejection, by tenant and code.
			if got := testutil.ToFloat64(m.Rejections.WithLabelValues("acme", "format")); got != 2 {
				t.Errorf("rejections{acme, format} = %v, want 2", got)
			}
			if got := testutil.ToFloat64(m.Rejections.WithLabelValues("acme", "required")); got != 1 {
				t.Errorf("rejections{acme, required} = %v, want 1", got)
			}

			for name, c := range map[string]prometheus.Collector{"Rows": m.Rows, "Chunk": m.Chunk, "Poisoned": m.Poisoned, "Imports": m.Imports,
				"Waiting": m.Waiting, "Stalled": m.Stalled, "Refused": m.Refused, "Rejections": m.Rejections, "InFlight": m.InFlight, "Emails": m.Emails} {
				problems, err := testutil.CollectAndLint(c)
				if err != nil {
					t.Fatalf("CollectAndLint(%s): %v", name, err)
				}
				if len(problems) != 0 {
					t.Errorf("CollectAndLint(%s) problems: %+v", name, problems)
				}
			}

			families, err := reg.Gather()
			if err != nil {
				t.Fatalf("Gather: %v", err)
			}
			var names []string
			for _, f := range families {
				names = append(names, f.GetName())
			}
			want := []string{
				"sluice_" + stage + "_emails_total",
				"sluice_" + stage + "_imports_in_flight",
				"sluice_" + stage + "_imports_total",
				"sluice_" + stage + "_message_duration_seconds",
				"sluice_" + stage + "_poisoned_messages_total",
				"sluice_" + stage + "_refused_uploads_total",
				"sluice_" + stage + "_rejections_total",
				"sluice_" + stage + "_rows_total",
				"sluice_" + stage + "_stalled_imports",
				"sluice_" + stage + "_waiting_messages_total",
			}
			if !slices.Equal(names, want) {
				t.Errorf("registered metrics = %q, want %q", names, want)
			}

			if _, err := platform.NewMetrics(reg, stage); err == nil {
				t.Errorf("NewMetrics(%q) twice on one registry: no error, want one", stage)
			}
		})
	}
}
