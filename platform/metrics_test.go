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

			for name, c := range map[string]prometheus.Collector{"Rows": m.Rows, "Chunk": m.Chunk, "Poisoned": m.Poisoned, "Imports": m.Imports, "Waiting": m.Waiting, "Stalled": m.Stalled} {
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
				"sluice_" + stage + "_imports_total",
				"sluice_" + stage + "_message_duration_seconds",
				"sluice_" + stage + "_poisoned_messages_total",
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
