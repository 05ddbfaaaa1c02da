// Package deploy holds the configuration the docker-compose stack runs with
// (NATS, Prometheus, Grafana, ClickHouse's users, the image). Its tests
// check the Prometheus configuration with Prometheus's own promtool, which
// scripts/parts.sh installs; the metrics the rules and the dashboard name
// are checked against a running sluice by e2e/dashboard_test.go.
package deploy

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/platform/parts"
)

// promtool runs Prometheus's promtool with args in this directory.
func promtool(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := parts.FindBinary("promtool")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestAlertRules runs the unit tests of the alert rules
// (prometheus/alerts_test.yml): each alert fires on its case and not on
// the series beside it.
func TestAlertRules(t *testing.T) {
	out := promtool(t, "test", "rules", "prometheus/alerts_test.yml")
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool test rules: no SUCCESS:\n%s", out)
	}
}

// TestPrometheusConfig checks prometheus.yml as Prometheus reads it, its
// rule files included (they must resolve, and parse).
func TestPrometheusConfig(t *testing.T) {
	out := promtool(t, "check", "config", "prometheus.yml")
	if !strings.Contains(out, "prometheus/alerts.yml") {
		t.Errorf("promtool check config read no rule file prometheus/alerts.yml:\n%s", out)
	}
}
