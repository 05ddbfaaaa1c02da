package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/schemas"
)

// Import is an import as the console shows it.
type Import struct {
	ID, Tenant, Dataset, Key, FileName, Uploader string
	Status, Reason                               string
	Format, Encoding, Delimiter                  string
	Options                                      string // as set, "mode=update, on-error=abort"
	Counts                                       schemas.Counts
	Done                                         int // rows handled so far, while it runs
	Started, Finished                            time.Time
}

// Running reports whether the import has not ended.
func (i Import) Running() bool { return !schemas.FinalStatus(i.Status) }

// Ended reports whether it ended: a corrected file may follow.
func (i Import) Ended() bool { return schemas.FinalStatus(i.Status) }

// NeedsIntervention reports whether it waits for Continue.
func (i Import) NeedsIntervention() bool { return i.Status == schemas.StatusRequiresIntervention }

// Rows is how many rows the file has, once ingest counted them.
func (i Import) Rows() int { return i.Counts.Rows }

// Duration is how long it ran, or has run so far.
func (i Import) Duration() time.Duration {
	switch {
	case i.Started.IsZero():
		return 0
	case i.Finished.IsZero():
		return time.Since(i.Started)
	}
	return i.Finished.Sub(i.Started)
}

// Rejection is a rejected value of a row: its row, column, value, message
// and solution.
type Rejection struct {
	Row                              int
	Column, Value, Message, Solution string
}

// Filter chooses imports: each field that is set must match.
type Filter struct {
	Tenant, Status, Dataset, Key string
	Since                        time.Time // received at or after
}

// ErrNotFound says there is no such import.
var ErrNotFound = errors.New("no such import")

// Operations are what the console reads of imports and does to them (the
// operations package operate shares with the CLI).
type Operations interface {
	List(ctx context.Context, f Filter) ([]Import, error)
	Get(ctx context.Context, id string) (Import, error)
	Rejections(ctx context.Context, id string, offset, limit int) ([]Rejection, error)
	WriteReport(ctx context.Context, w io.Writer, id string) error
	Cancel(ctx context.Context, id string) error
	Continue(ctx context.Context, id string) error
}

// rejectionsPage is how many rejected values one page of an import lists.
const rejectionsPage = 50

// importRoutes adds the imports' pages.
func (s *Server) importRoutes() {
	s.mux.Handle("GET /imports", s.user(s.importsPage))
	s.mux.Handle("GET /imports/follow", s.user(s.follow))
	s.mux.Handle("GET /imports/{id}", s.user(s.importPage))
	s.mux.Handle("GET /imports/{id}/errors.csv", s.user(s.errorsCSV))
	s.mux.Handle("GET /progress", s.user(s.progress))
	s.mux.Handle("POST /imports/{id}/stop", s.admin(s.act("stop", Operations.Cancel)))
	s.mux.Handle("POST /imports/{id}/continue", s.admin(s.act("continue", Operations.Continue)))
}

// statuses are the statuses an import may have, for the filter.
var statuses = []string{schemas.StatusReceived, schemas.StatusProcessing, schemas.StatusCompleted, schemas.StatusCompletedWithErrors,
	schemas.StatusRequiresIntervention, schemas.StatusRejected, schemas.StatusCancelled, schemas.StatusFailed, schemas.StatusPreviewed}

func (s *Server) importsPage(w http.ResponseWriter, r *http.Request, req *request) {
	q := r.URL.Query()
	f := Filter{Status: q.Get("status"), Dataset: q.Get("dataset"), Tenant: req.account.Tenant}
	if req.account.Operator() {
		f.Tenant = q.Get("tenant")
	}
	imports, err := s.ops.List(r.Context(), f)
	if err != nil {
		s.fail(w, err)
		return
	}
	s.render(w, http.StatusOK, "imports", req, map[string]any{"Imports": imports, "Filter": f, "Statuses": statuses,
		"Datasets": folders(), "Tenants": s.tenantNames(req.account)})
}

// lookup returns import id if the account may see it; it answers 404 for
// an import of another tenant as for one that does not exist.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request, req *request) (Import, bool) {
	i, err := s.ops.Get(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, ErrNotFound) || err == nil && !req.account.Sees(i.Tenant):
		notFound(w)
		return Import{}, false
	case err != nil:
		s.fail(w, err)
		return Import{}, false
	}
	return i, true
}

func (s *Server) importPage(w http.ResponseWriter, r *http.Request, req *request) {
	i, ok := s.lookup(w, r, req)
	if !ok {
		return
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	rejections, err := s.ops.Rejections(r.Context(), i.ID, (page-1)*rejectionsPage, rejectionsPage+1)
	if err != nil {
		s.fail(w, err)
		return
	}
	data := map[string]any{"Import": i, "Message": r.URL.Query().Get("done")}
	if len(rejections) > rejectionsPage {
		rejections, data["Next"] = rejections[:rejectionsPage], page+1
	}
	if page > 1 {
		data["Prev"] = page - 1
	}
	data["Rejections"] = rejections
	s.render(w, http.StatusOK, "import", req, data)
}

// errorsCSV serves "Download all errors": the report the email attaches.
func (s *Server) errorsCSV(w http.ResponseWriter, r *http.Request, req *request) {
	i, ok := s.lookup(w, r, req)
	if !ok {
		return
	}
	var b bytes.Buffer
	if err := s.ops.WriteReport(r.Context(), &b, i.ID); err != nil {
		s.fail(w, err)
		return
	}
	name := strings.TrimSuffix(i.FileName, "."+extension(i.FileName)) + "-errors.csv"
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	_, _ = b.WriteTo(w)
}

func extension(name string) string {
	if dot := strings.LastIndexByte(name, '.'); dot >= 0 {
		return name[dot+1:]
	}
	return ""
}

// progressEvery is how often the progress events say where imports are.
const progressEvery = 500 * time.Millisecond

// maxFollowed bounds the imports one progress stream follows.
const maxFollowed = 100

// progress streams server-sent events of the progress of the imports its
// query names (id=...&id=..., those the account may see), every
// progressEvery, until each has ended or the page goes: one stream per
// page, however many imports run.
func (s *Server) progress(w http.ResponseWriter, r *http.Request, req *request) {
	ids := r.URL.Query()["id"]
	if len(ids) == 0 || len(ids) > maxFollowed {
		http.Error(w, "name 1 to 100 imports", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	rc := http.NewResponseController(w)
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	type state struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Rows   int    `json:"rows"`
		Done   int    `json:"done"`
		Final  bool   `json:"final"`
	}
	for {
		var states []state
		running := false
		for _, id := range ids {
			i, err := s.ops.Get(r.Context(), id)
			if err != nil || !req.account.Sees(i.Tenant) {
				continue
			}
			states = append(states, state{ID: i.ID, Status: i.Status, Rows: i.Counts.Rows, Done: i.Done, Final: !i.Running()})
			running = running || i.Running()
		}
		b, _ := json.Marshal(states)
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil || rc.Flush() != nil || !running {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
	}
}

// act runs an action on import id (stop, continue) and shows its page
// again, saying what was done or why it was refused.
func (s *Server) act(name string, do func(Operations, context.Context, string) error) func(http.ResponseWriter, *http.Request, *request) {
	return func(w http.ResponseWriter, r *http.Request, req *request) {
		i, ok := s.lookup(w, r, req)
		if !ok {
			return
		}
		msg := name + ": done"
		if err := do(s.ops, r.Context(), i.ID); err != nil {
			s.logger.Info("console: "+name+" refused", "import", i.ID, "account", req.account.Login, "err", err)
			msg = name + " refused: " + err.Error()
		}
		http.Redirect(w, r, "/imports/"+i.ID+"?done="+url.QueryEscape(msg), http.StatusSeeOther)
	}
}

// follow waits, for the upload script, until the import of the object key
// uploaded since a time exists, then goes to its page.
func (s *Server) follow(w http.ResponseWriter, r *http.Request, req *request) {
	key := r.URL.Query().Get("key")
	since, _ := time.Parse(time.RFC3339Nano, r.URL.Query().Get("since"))
	tenant, _, _ := strings.Cut(key, "/")
	if !req.account.Sees(tenant) {
		notFound(w)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	for {
		imports, err := s.ops.List(ctx, Filter{Tenant: tenant, Key: key, Since: since.Add(-time.Second).Truncate(time.Second)})
		if err != nil && ctx.Err() == nil {
			s.fail(w, err)
			return
		}
		if len(imports) > 0 {
			sort.Slice(imports, func(a, b int) bool { return imports[a].Started.After(imports[b].Started) })
			http.Redirect(w, r, "/imports/"+imports[0].ID, http.StatusSeeOther)
			return
		}
		select {
		case <-ctx.Done():
			http.Redirect(w, r, "/imports", http.StatusSeeOther)
			return
		case <-time.After(progressEvery):
		}
	}
}
