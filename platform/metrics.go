package platform

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	httppprof "net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluicehq/sluice/schemas"
)

// Metrics are one stage's metrics, named sluice_<stage>_<what>_<unit>. Label
// values are bounded: outcomes, statuses, rule codes, datasets and the
// configured tenants (ingest refuses any other's upload), never import ids,
// keys or addresses. A stage sets to zero the label values it knows in
// advance, so that a dashboard or an alert finds its series before the
// first event. The state of the JetStream consumers and of the DLQ is
// read at scrape time (bus.Collector).
type Metrics struct {
	// Rows counts rows by outcome (valid, rejected, created, updated, ...).
	Rows *prometheus.CounterVec
	// Chunk observes how long a message took to handle, by result.
	Chunk *prometheus.HistogramVec
	// Poisoned counts messages sent to the poison subject.
	Poisoned prometheus.Counter
	// Imports counts the imports the stage ended, by status (notify ends
	// them).
	Imports *prometheus.CounterVec
	// Waiting counts the messages nak'd to wait for a part that is away, by
	// part (clickhouse, nats, s3, smtp, or "" when the error names none).
	Waiting *prometheus.CounterVec
	// Stalled is how many imports have made no progress for a while, by
	// tenant and dataset (both bounded: configured tenants, known
	// datasets); notify sets it.
	Stalled *prometheus.GaugeVec
	// Refused counts the uploads not imported because the key that put them
	// is not their tenant's, by reason (ingest sets it).
	Refused *prometheus.CounterVec
	// Rejections counts rejections by tenant and code: each rule a rejected
	// row broke (validate, load: a line of the error report), or a file
	// rejected whole (ingest).
	Rejections *prometheus.CounterVec
	// InFlight is how many imports are received or processing, by how long
	// ago they were received (age: one of notify's age bands); notify sets
	// it from ClickHouse every minute.
	InFlight *prometheus.GaugeVec
	// Emails counts the emails the stage sent or failed to send, by kind
	// (summary, invitation) and result (sent, failed); notify sends them.
	Emails *prometheus.CounterVec
}

// NewMetrics registers a stage's metrics on reg.
func NewMetrics(reg prometheus.Registerer, stage string) (*Metrics, error) {
	m := &Metrics{
		Rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: fmt.Sprintf("sluice_%s_rows_total", stage),
			Help: "Rows the stage handled, by outcome.",
		}, []string{"outcome"}),
		Chunk: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    fmt.Sprintf("sluice_%s_message_duration_seconds", stage),
			Help:    "Time to handle one message (a chunk of rows or an event), by result.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}, []string{"result"}),
		Poisoned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: fmt.Sprintf("sluice_%s_poisoned_messages_total", stage),
			Help: "Messages sent to the poison subject after their retries.",
		}),
		Imports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: fmt.Sprintf("sluice_%s_imports_total", stage),
			Help: "Imports the stage ended, by status.",
		}, []string{"status"}),
		Waiting: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: fmt.Sprintf("sluice_%s_waiting_messages_total", stage),
			Help: "Messages put back to wait for a part that is away (a transient error), by part.",
		}, []string{"part"}),
		Stalled: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: fmt.Sprintf("sluice_%s_stalled_imports", stage),
			Help: "Imports received or processing that made no progress for a while, by tenant and dataset.",
		}, []string{"tenant", "dataset"}),
		Refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: fmt.Sprintf("sluice_%s_refused_uploads_total", stage),
			Help: "Uploads not imported because the key that put them is not their tenant's, by reason.",
		}, []string{"reason"}),
		Rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: fmt.Sprintf("sluice_%s_rejections_total", stage),
			Help: "Rejections by tenant and code: a rule a rejected row broke, or a file rejected whole.",
		}, []string{"tenant", "code"}),
		InFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: fmt.Sprintf("sluice_%s_imports_in_flight", stage),
			Help: "Imports received or processing, by how long ago they were received.",
		}, []string{"age"}),
		Emails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: fmt.Sprintf("sluice_%s_emails_total", stage),
			Help: "Emails sent or not, by kind (summary, invitation) and result (sent, failed).",
		}, []string{"kind", "result"}),
	}
	for _, c := range []prometheus.Collector{m.Rows, m.Chunk, m.Poisoned, m.Imports, m.Waiting, m.Stalled, m.Refused, m.Rejections, m.InFlight, m.Emails} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	return m, nil
}

// CountRejections adds the rules the rows of tenant rejected broke to
// Rejections, by code.
func (m *Metrics) CountRejections(tenant string, rejected []schemas.Rejected) {
	for _, r := range rejected {
		for _, v := range r.Violations {
			m.Rejections.WithLabelValues(tenant, v.Code).Inc()
		}
	}
}

// Serve serves /metrics from g and /healthz (200 while healthy() is nil) on
// addr until ctx ends, and Go's profiles under /debug/pprof/ when pprof is
// set (SLUICE_PPROF=1; off by default: profiles show what the process holds).
func Serve(ctx context.Context, addr string, g prometheus.Gatherer, healthy func() error, pprof bool) error {
	mux := http.NewServeMux()
	if pprof {
		mux.HandleFunc("/debug/pprof/", httppprof.Index)
		mux.HandleFunc("/debug/pprof/profile", httppprof.Profile)
	}
	mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := healthy(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics: listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}
