package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/operate"
	"github.com/sluicehq/sluice/schemas"
)

// rejectionsPerPage is how many rejected rows one page of an import lists.
const rejectionsPerPage = 50

// importRoutes adds the imports' pages.
func (s *Server) importRoutes() {
	s.mux.Handle("GET /imports", s.user(s.importsPage))
	s.mux.Handle("GET /imports/follow", s.user(s.follow))
	s.mux.Handle("GET /imports/{id}", s.user(s.importPage))
	s.mux.Handle("GET /imports/{id}/errors.csv", s.user(s.errorsCSV))
	s.mux.Handle("GET /progress", s.user(s.progress))
	s.mux.Handle("POST /imports/{id}/stop", s.admin(s.act("stop", (*operate.Ops).Cancel, func(i operate.Import) bool { return i.Final() })))
	s.mux.Handle("POST /imports/{id}/continue", s.admin(s.act("continue", (*operate.Ops).Continue,
		func(i operate.Import) bool { return i.Resumed != "" })))
}

// scope is what the account may see: its tenant, or every tenant for an
// operator (operate.AllTenants).
func scope(a Account) operate.Scope { return operate.Scope(a.Tenant) }

func (s *Server) importsPage(w http.ResponseWriter, r *http.Request, req *request) {
	q := r.URL.Query()
	sc, tenant := scope(req.account), ""
	if req.account.Operator() {
		tenant = s.tenantOf(r, req.account)
		sc = operate.Scope(tenant)
	}
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	// One more than a page: whether there is a next page.
	f := operate.Filter{Status: q.Get("status"), Dataset: q.Get("dataset"), Offset: (page - 1) * importsPerPage, Limit: importsPerPage + 1}
	if f.Status != "" && !slices.Contains(schemas.Statuses, f.Status) {
		f.Status = ""
	}
	imports, err := s.ops.List(r.Context(), sc, f)
	if err != nil {
		s.fail(w, err)
		return
	}
	data := map[string]any{"Filter": f, "Tenant": tenant, "Statuses": schemas.Statuses, "Datasets": folders(),
		"Tenants": s.tenantNames(req.account), "Now": time.Now()}
	if len(imports) > importsPerPage {
		imports, data["Next"] = imports[:importsPerPage], pageURL(r, page+1)
	}
	if page > 1 {
		data["Prev"] = pageURL(r, page-1)
	}
	data["Imports"] = imports
	s.render(w, http.StatusOK, "imports", req, data)
}

// importsPerPage is how many imports one page of the list shows, newest first.
const importsPerPage = 50

// pageURL is the request's URL on another page.
func pageURL(r *http.Request, page int) string {
	q := r.URL.Query()
	q.Set("page", strconv.Itoa(page))
	return r.URL.Path + "?" + q.Encode()
}

// lookup returns import id if the account may see it; it answers 404 for
// an import of another tenant as for one that does not exist.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request, req *request) (*operate.Import, bool) {
	i, err := s.ops.Get(r.Context(), scope(req.account), r.PathValue("id"))
	switch {
	case errors.Is(err, operate.ErrNotFound):
		s.notFound(w, req)
		return nil, false
	case err != nil:
		s.fail(w, err)
		return nil, false
	}
	return &i, true
}

func (s *Server) importPage(w http.ResponseWriter, r *http.Request, req *request) {
	i, ok := s.lookup(w, r, req)
	if !ok {
		return
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	// One row more than a page: whether there is a next page.
	lines, err := s.ops.Rejections(r.Context(), scope(req.account), i.ID, (page-1)*rejectionsPerPage, rejectionsPerPage+1)
	if err != nil {
		s.fail(w, err)
		return
	}
	data := map[string]any{"Import": i, "Message": r.URL.Query().Get("done"), "Now": time.Now()}
	rows := 0
	for n, l := range lines {
		if n == 0 || l.Row != lines[n-1].Row {
			rows++
		}
		if rows > rejectionsPerPage {
			lines, data["Next"] = lines[:n], page+1
			break
		}
	}
	if page > 1 {
		data["Prev"] = page - 1
	}
	data["Rejections"] = lines
	s.render(w, http.StatusOK, "import", req, data)
}

// errorsCSV serves "Download all errors": the report the email attaches.
func (s *Server) errorsCSV(w http.ResponseWriter, r *http.Request, req *request) {
	i, ok := s.lookup(w, r, req)
	if !ok {
		return
	}
	var b bytes.Buffer
	if err := s.ops.WriteReport(r.Context(), scope(req.account), i.ID, &b); err != nil {
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
const progressEvery = operate.FollowInterval

// maxFollowed bounds the imports one progress stream follows.
const maxFollowed = 100

// progress streams server-sent events of the progress of the imports its
// query names (id=...&id=..., those the account may see), every
// progressEvery, until each has ended or the page goes: one stream per
// page, however many imports run. An import that has ended is sent once
// more, with its row of the list, and then asked no more.
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
		// Row is the list's row of an import that has ended, which
		// takes the place of the running one's (console.js).
		Row string `json:"row,omitempty"`
	}
	for len(ids) > 0 {
		states := []state{}  // [], not null, when none could be read
		var running []string // asked again at the next tick
		for _, id := range ids {
			i, err := s.ops.Get(r.Context(), scope(req.account), id)
			if errors.Is(err, operate.ErrNotFound) {
				continue
			}
			if err != nil {
				running = append(running, id)
				continue
			}
			st := state{ID: i.ID, Status: i.Status, Rows: i.Rows, Done: i.Done, Final: i.Final()}
			if st.Final {
				var row strings.Builder
				if err := s.pages["imports"].ExecuteTemplate(&row, "row", importRow{&i, req.account.Operator(), time.Now()}); err != nil {
					s.logger.Error("console: progress", "import", i.ID, "err", err) // the page is loaded again instead
				} else {
					st.Row = row.String()
				}
			} else {
				running = append(running, id)
			}
			states = append(states, st)
		}
		ids = running
		b, _ := json.Marshal(states)
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil || rc.Flush() != nil || len(ids) == 0 {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
	}
}

// actWait bounds how long an action waits to be carried out before its
// page shows the import again (whose progress bar then follows it).
const actWait = 5 * time.Second

// act runs an action on import id (stop, continue) and waits, up to
// actWait, until done says the pipeline carried it out; then it shows the
// import's page again, saying what was done or why it was refused.
func (s *Server) act(name string, do func(*operate.Ops, context.Context, operate.Scope, string) error,
	done func(operate.Import) bool) func(http.ResponseWriter, *http.Request, *request) {
	return func(w http.ResponseWriter, r *http.Request, req *request) {
		i, ok := s.lookup(w, r, req)
		if !ok {
			return
		}
		sc := scope(req.account)
		msg := name + ": done"
		switch err := do(s.ops, r.Context(), sc, i.ID); {
		case errors.Is(err, operate.ErrRefused):
			msg = name + " refused: " + err.Error()
		case err != nil:
			s.fail(w, err)
			return
		default:
			ctx, cancel := context.WithTimeout(r.Context(), actWait)
			if err := s.ops.Follow(ctx, sc, i.ID, done); err != nil {
				msg = name + ": sent; the import has not ended yet"
			}
			cancel()
		}
		s.logger.Info("console: "+name, "import", i.ID, "account", req.account.Login, "result", msg)
		http.Redirect(w, r, "/imports/"+i.ID+"?done="+url.QueryEscape(msg), http.StatusSeeOther)
	}
}

// follow waits, for the upload script, until the import of the object key
// uploaded since a time exists, then goes to its page.
func (s *Server) follow(w http.ResponseWriter, r *http.Request, req *request) {
	key := r.URL.Query().Get("key")
	since, _ := time.Parse(time.RFC3339Nano, r.URL.Query().Get("since"))
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	for {
		imports, err := s.ops.List(ctx, scope(req.account), operate.Filter{Key: key, Limit: 1})
		if err != nil && ctx.Err() == nil {
			s.fail(w, err)
			return
		}
		// received_at has whole seconds.
		if len(imports) > 0 && !imports[0].ReceivedAt.Before(since.Truncate(time.Second)) {
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
