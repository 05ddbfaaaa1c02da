package e2e

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v4"

	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// The dashboard, its datasources' uids, and the alert rules.
const (
	dashboardFile = "../deploy/grafana/dashboards/sluice.json"
	alertsFile    = "../deploy/prometheus/alerts.yml"
	promUID       = "prometheus"
	clickhouseUID = "clickhouse"
)

// panel is a Grafana panel as far as its queries go; rows hold panels.
type panel struct {
	Title      string `json:"title"`
	Datasource struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Datasource struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		Expr   string `json:"expr"`
		RawSQL string `json:"rawSql"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

// TestDashboardAndAlertsNameExportedMetrics uploads a file with rejected
// rows and an empty one as the tenant metrics, scrapes the running `sluice
// up`, and checks:
//   - what sluice exports: each stage's consumer's JetStream state, the
//     DLQ's depth, the imports in flight by age, the rejections of the
//     tenant by code, the summaries mailed; and only bounded labels;
//   - that every sluice metric a query of the dashboard or an expression
//     of an alert rule names (by name, or by a __name__ matcher) is one
//     sluice exports, and that the dashboard shows the metrics above;
//   - that the notify panel has data;
//   - that the dashboard's ClickHouse queries run as sluice_reader (the
//     datasource's user) and find the imports.
func TestDashboardAndAlertsNameExportedMetrics(t *testing.T) {
	t.Parallel()
	const tenant = "metrics"
	bad := upload(t, tenant+"/clients/bad.csv", []byte("firstName,email\nAda,ada@metrics.example\nBob,not-an-email\n"), "ops@metrics.example")
	empty := upload(t, tenant+"/clients/empty.csv", nil, "ops@metrics.example")
	if bad.Status != schemas.StatusCompletedWithErrors || empty.Status != schemas.StatusRejected {
		t.Fatalf("imports: got %s and %s, want %s and %s", bad.Status, empty.Status, schemas.StatusCompletedWithErrors, schemas.StatusRejected)
	}

	var families map[string]*dto.MetricFamily
	// notify counts the summary it mailed once the import's status is
	// saved, which upload waits for: the scrape may come first.
	err := waitScrape(func(f map[string]*dto.MetricFamily) bool {
		families = f
		return sample(f, "sluice_notify_emails_total", "kind", "summary", "result", "sent") >= 2
	})
	if err != nil {
		t.Fatalf("no two summaries counted as sent: %v", err)
	}

	t.Run("exported", func(t *testing.T) {
		consumers := []string{schemas.DurableIngest, schemas.DurableIngestSync, schemas.DurableValidate, schemas.DurableTransform,
			schemas.DurableLoad, schemas.DurableNotify}
		for _, c := range consumers {
			for _, name := range []string{"sluice_jetstream_consumer_pending_messages", "sluice_jetstream_consumer_ack_pending_messages",
				"sluice_jetstream_consumer_redelivered_messages"} {
				if sample(families, name, "consumer", c) < 0 {
					t.Errorf("%s{consumer=%q}: not exported", name, c)
				}
			}
		}
		if n := sample(families, "sluice_jetstream_dlq_messages", "kind", "rows"); n < 1 {
			t.Errorf("sluice_jetstream_dlq_messages{kind=rows} = %v, want bad.csv's dead letters at least", n)
		}
		if n := sample(families, "sluice_jetstream_collect_errors_total"); n != 0 {
			t.Errorf("sluice_jetstream_collect_errors_total = %v, want 0", n)
		}
		if n := sample(families, "sluice_validate_rejections_total", "tenant", tenant, "code", schemas.CodeFormat); n != 1 {
			t.Errorf("sluice_validate_rejections_total{tenant=%s, code=format} = %v, want 1 (bad.csv's email)", tenant, n)
		}
		if n := sample(families, "sluice_ingest_rejections_total", "tenant", tenant, "code", schemas.CodeEmptyFile); n != 1 {
			t.Errorf("sluice_ingest_rejections_total{tenant=%s, code=empty_file} = %v, want 1 (empty.csv)", tenant, n)
		}
		// Bounded labels: a tenant is one configured in this run
		// (TestTenantAddedWhileUp's newco, removed since, included), and
		// nothing names an import, a file or a person.
		configured := func(tenant string) bool {
			_, ok := tenants[tenant]
			return ok || tenant == "newco"
		}
		for name, f := range families {
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "tenant" && !configured(l.GetValue()) {
						t.Errorf("%s: tenant %q is not a configured tenant", name, l.GetValue())
					}
					if slices.Contains([]string{"import", "import_id", "key", "file", "uploader", "email"}, l.GetName()) {
						t.Errorf("%s: label %s (unbounded)", name, l.GetName())
					}
				}
			}
		}
		for _, b := range []string{"0-1m", "1m-15m", "15m-1h", "1h-6h", "6h+"} {
			if sample(families, "sluice_notify_imports_in_flight", "age", b) < 0 {
				t.Errorf("sluice_notify_imports_in_flight{age=%q}: not exported", b)
			}
		}
	})

	exported := exportedNames(families)
	var dashboard struct {
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal(readFile(t, dashboardFile), &dashboard); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	var promQueries, sqlQueries []string
	var notifyPanel *panel
	var walk func([]panel)
	walk = func(ps []panel) {
		for i := range ps {
			p := &ps[i]
			walk(p.Panels)
			if strings.HasPrefix(p.Title, "notify:") {
				notifyPanel = p
			}
			for _, tg := range p.Targets {
				switch uid := cmp.Or(tg.Datasource.UID, p.Datasource.UID); uid {
				case promUID:
					promQueries = append(promQueries, tg.Expr)
				case clickhouseUID:
					sqlQueries = append(sqlQueries, tg.RawSQL)
				default:
					t.Errorf("panel %q: datasource %q, want %q or %q (the provisioned ones)", p.Title, uid, promUID, clickhouseUID)
				}
			}
		}
	}
	walk(dashboard.Panels)

	t.Run("dashboard", func(t *testing.T) {
		shown := map[string]bool{}
		for _, q := range promQueries {
			for _, name := range checkNames(t, "dashboard: "+q, q, exported) {
				shown[name] = true
			}
		}
		for _, name := range []string{"sluice_jetstream_consumer_pending_messages", "sluice_jetstream_consumer_ack_pending_messages",
			"sluice_jetstream_consumer_redelivered_messages", "sluice_jetstream_dlq_messages", "sluice_notify_imports_in_flight",
			"sluice_validate_rejections_total", "sluice_ingest_rejections_total", "sluice_notify_emails_total", "sluice_notify_imports_total"} {
			if !shown[name] {
				t.Errorf("the dashboard shows no %s", name)
			}
		}
	})

	t.Run("notify panel", func(t *testing.T) {
		if notifyPanel == nil {
			t.Fatal("the dashboard has no notify panel")
		}
		for _, tg := range notifyPanel.Targets {
			for _, name := range checkNames(t, tg.Expr, tg.Expr, exported) {
				if sum(families, name) <= 0 {
					t.Errorf("notify panel %q: %s has no data after two imports", notifyPanel.Title, name)
				}
			}
		}
	})

	t.Run("alerts", func(t *testing.T) {
		var file struct {
			Groups []struct {
				Rules []struct {
					Alert string `yaml:"alert"`
					Expr  string `yaml:"expr"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		}
		if err := yaml.Unmarshal(readFile(t, alertsFile), &file); err != nil {
			t.Fatalf("%s: %v", alertsFile, err)
		}
		rules := 0
		for _, g := range file.Groups {
			for _, r := range g.Rules {
				rules++
				checkNames(t, r.Alert, r.Expr, exported)
			}
		}
		if rules == 0 {
			t.Errorf("%s: no rules", alertsFile)
		}
	})

	t.Run("clickhouse", func(t *testing.T) {
		if len(sqlQueries) == 0 {
			t.Fatal("the dashboard has no ClickHouse query")
		}
		ctx := context.Background()
		reader, err := warehouse.Open(ctx, stack.ch.Config, stack.ch.Config.Reader)
		if err != nil {
			t.Fatal(err)
		}
		defer reader.Close()
		now := time.Now()
		for _, q := range sqlQueries {
			sql := expandMacros(t, q, now.Add(-time.Hour), now.Add(time.Minute))
			rows, err := reader.Query(ctx, sql)
			if err != nil {
				t.Errorf("as sluice_reader: %v\n%s", err, sql)
				continue
			}
			n := 0
			for rows.Next() {
				n++
			}
			if err := rows.Err(); err != nil {
				t.Errorf("%v\n%s", err, sql)
			}
			rows.Close()
			if n == 0 {
				t.Errorf("no rows, want this test's imports at least:\n%s", sql)
			}
		}
	})
}

// waitScrape scrapes `sluice up`'s /metrics until ok accepts what it
// parsed, for up to 30 s.
func waitScrape(ok func(map[string]*dto.MetricFamily) bool) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		f, err := scrape()
		if err == nil && ok(f) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("scrape: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func scrape() (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get("http://" + stack.metrics + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// sample sums the samples of the family name whose labels have the given
// pairs (name, value, ...); -1 when there is none.
func sample(families map[string]*dto.MetricFamily, name string, pairs ...string) float64 {
	f, ok := families[name]
	if !ok {
		return -1
	}
	total, found := 0.0, false
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for i := 0; i+1 < len(pairs); i += 2 {
			match = match && have[pairs[i]] == pairs[i+1]
		}
		if match {
			found = true
			total += m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
	}
	if !found {
		return -1
	}
	return total
}

// sum is the sum of every sample of a metric: a family's name, or one of
// the series names of a histogram (..._bucket, _sum, _count) as its count.
func sum(families map[string]*dto.MetricFamily, name string) float64 {
	for _, suffix := range []string{"", "_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if _, exported := families[base]; exported {
				return sample(families, base)
			}
		}
	}
	return -1
}

// exportedNames are the series names the scrape holds: a family's name,
// and a histogram's or summary's _bucket, _sum and _count.
func exportedNames(families map[string]*dto.MetricFamily) []string {
	var names []string
	for name, f := range families {
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			names = append(names, name+"_bucket", name+"_sum", name+"_count")
		case dto.MetricType_SUMMARY:
			names = append(names, name, name+"_sum", name+"_count")
		default:
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// checkNames parses the PromQL expression expr and fails t unless every
// sluice metric it names is exported: a selector's name (__name__="..."),
// or a __name__ regular expression, which must match one at least. It
// returns the sluice names it selects.
func checkNames(t *testing.T, what, expr string, exported []string) []string {
	t.Helper()
	e, err := parser.ParseExpr(expr)
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return nil
	}
	var selected []string
	parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		for _, m := range vs.LabelMatchers {
			if m.Name != labels.MetricName {
				continue
			}
			switch m.Type {
			case labels.MatchEqual:
				if !strings.HasPrefix(m.Value, "sluice_") {
					continue // Prometheus's own (up), another exporter's
				}
				if !slices.Contains(exported, m.Value) {
					t.Errorf("%s: %s is not a metric sluice exports", what, m.Value)
				}
				selected = append(selected, m.Value)
			case labels.MatchRegexp:
				var matched []string
				for _, name := range exported {
					if strings.HasPrefix(name, "sluice_") && m.Matches(name) {
						matched = append(matched, name)
					}
				}
				if len(matched) == 0 {
					t.Errorf("%s: %s matches no metric sluice exports", what, m)
				}
				selected = append(selected, matched...)
			}
		}
		return nil
	})
	return selected
}

// timeFilter is the ClickHouse datasource's $__timeFilter(column) macro.
var timeFilter = regexp.MustCompile(`\$__timeFilter\((\w+)\)`)

// expandMacros expands the macros of a ClickHouse panel's query for the
// range from-to, as the datasource does; a macro it does not know fails t
// (teach it the macro first).
func expandMacros(t *testing.T, sql string, from, to time.Time) string {
	t.Helper()
	sql = timeFilter.ReplaceAllString(sql, fmt.Sprintf("$1 >= toDateTime(%d) AND $1 <= toDateTime(%d)", from.Unix(), to.Unix()))
	if strings.Contains(sql, "$__") {
		t.Errorf("a macro expandMacros does not know:\n%s", sql)
	}
	return sql
}
