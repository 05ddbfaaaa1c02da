package e2e

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v4"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/schemas"
)

// TestAlertRulesNameRealMetrics: deploy/alerts.yml parses, every rule has a
// name and an expression, and every sluice metric an expression names (or
// matches with __name__=~) is one the stages register.
func TestAlertRulesNameRealMetrics(t *testing.T) {
	b, err := os.ReadFile("../deploy/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &file); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	reg := prometheus.NewRegistry()
	for _, stage := range schemas.Stages {
		if _, err := platform.NewMetrics(reg, stage); err != nil {
			t.Fatal(err)
		}
	}
	descs := make(chan *prometheus.Desc, 100)
	go func() { reg.Describe(descs); close(descs) }()
	var names []string
	for d := range descs {
		names = append(names, regexp.MustCompile(`fqName: "([^"]+)"`).FindStringSubmatch(d.String())[1])
	}
	rules := 0
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			rules++
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("rule %+v: want an alert name and an expression", r)
			}
			for _, m := range regexp.MustCompile(`sluice_[a-z_]+`).FindAllString(r.Expr, -1) {
				if !slices.Contains(names, m) {
					t.Errorf("%s: %s is not a metric sluice registers", r.Alert, m)
				}
			}
			for _, pat := range regexp.MustCompile(`__name__=~"([^"]+)"`).FindAllStringSubmatch(r.Expr, -1) {
				re := regexp.MustCompile("^(?:" + pat[1] + ")$")
				if !slices.ContainsFunc(names, re.MatchString) {
					t.Errorf("%s: %s matches no metric sluice registers", r.Alert, pat[1])
				}
			}
		}
	}
	if rules < 4 {
		t.Errorf("%d rules, want the failed, poisoned, stalled and waiting alerts", rules)
	}
	if !strings.Contains(string(b), "sluice_notify_imports_total") {
		t.Error("no alert on failed imports")
	}
	if !strings.Contains(string(b), "sluice_ingest_refused_uploads_total") {
		t.Error("no alert on refused uploads")
	}
}
