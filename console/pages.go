package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/schemas"
	"github.com/sluicehq/sluice/templates"
)

// routes adds the pages a signed-in account uses.
func (s *Server) routes() {
	s.mux.Handle("GET /templates", s.user(s.templatesPage))
	s.mux.Handle("GET /templates/{file}", s.user(s.template))
	s.mux.Handle("GET /users", s.user(s.usersPage))
	s.mux.Handle("GET /upload", s.admin(s.uploadPage))
	s.mux.Handle("POST /upload", s.admin(s.presign))
	s.importRoutes()
}

// folders are the datasets' folders, in name order.
func folders() []string {
	var out []string
	for name := range schemas.Datasets {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// tenantOf is the tenant a request is about: the account's, or for an
// operator the one it names (form or query field tenant); "" when an
// operator names none or an unknown one.
func (s *Server) tenantOf(r *http.Request, a Account) string {
	if !a.Operator() {
		return a.Tenant
	}
	t := r.FormValue("tenant")
	if _, ok := s.tenants()[t]; !ok {
		return ""
	}
	return t
}

// tenantNames are the tenants an account may pick: its own, or all for an
// operator.
func (s *Server) tenantNames(a Account) []string {
	if !a.Operator() {
		return []string{a.Tenant}
	}
	var out []string
	for name := range s.tenants() {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// templateFile is one template file the Templates page offers.
type templateFile struct {
	Dataset, Name, File, Format string
}

func (s *Server) templatesPage(w http.ResponseWriter, r *http.Request, req *request) {
	var files []templateFile
	for _, folder := range folders() {
		shapes, _ := templates.Of(folder)
		for _, t := range shapes {
			for _, ext := range []string{"csv", "xlsx"} {
				files = append(files, templateFile{Dataset: folder, Name: t.Name, File: t.Name + "." + ext, Format: strings.ToUpper(ext)})
			}
		}
	}
	s.render(w, http.StatusOK, "templates", req, map[string]any{"Files": files,
		"Tenants": s.tenantNames(req.account), "Tenant": s.tenantOf(r, req.account)})
}

// template serves one template: its examples filled with the tenant's own
// groups and accounts (templates.ForTenant) when the page is a tenant's.
func (s *Server) template(w http.ResponseWriter, r *http.Request, req *request) {
	file := r.PathValue("file")
	name, ext, _ := strings.Cut(file, ".")
	folder, _, _ := strings.Cut(name, "-")
	shapes, err := templates.Of(folder)
	i := slices.IndexFunc(shapes, func(t templates.Template) bool { return t.Name == name })
	if err != nil || i < 0 || (ext != "csv" && ext != "xlsx") {
		s.notFound(w, req)
		return
	}
	t := shapes[i]
	fill := templates.Fill(templates.Examples)
	if tenant := s.tenantOf(r, req.account); tenant != "" {
		if fill, err = templates.ForTenant(r.Context(), s.warehouse, s.database, tenant); err != nil {
			s.fail(w, err)
			return
		}
	}
	rows, rules := t.Rows(fill)
	var b bytes.Buffer
	if ext == "csv" {
		err = templates.WriteCSV(&b, rows)
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	} else {
		err = t.WriteXLSX(&b, rows, rules)
		w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", file))
	_, _ = b.WriteTo(w)
}

// user is a row of the Users page (seed 001).
type user struct {
	Tenant, Name, Email, Login, Status string
	Imported                           time.Time
}

// usersPageSize bounds the users one page lists.
const usersPageSize = 200

// usersPage lists the tenant's users (seed 001's User Management): name,
// email, login, when first imported and status, searched by name, email
// or login.
func (s *Server) usersPage(w http.ResponseWriter, r *http.Request, req *request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	where, args := "1", []any{}
	if !req.account.Operator() {
		where, args = "tenant = ?", append(args, req.account.Tenant)
	}
	if q != "" {
		like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(strings.ToLower(q)) + "%"
		where += " AND (lower(concat(first_name, ' ', last_name)) LIKE ? OR lower(email) LIKE ? OR lower(login) LIKE ?)"
		args = append(args, like, like, like)
	}
	rows, err := s.warehouse.Query(r.Context(), fmt.Sprintf(`SELECT tenant, concat(first_name, ' ', last_name), email, login, status, loaded_at
		FROM %s.%s FINAL WHERE %s ORDER BY tenant, login LIMIT %d`, s.database, schemas.Users.Table, where, usersPageSize+1), args...)
	if err != nil {
		s.fail(w, err)
		return
	}
	defer rows.Close()
	var users []user
	for rows.Next() {
		var u user
		if err := rows.Scan(&u.Tenant, &u.Name, &u.Email, &u.Login, &u.Status, &u.Imported); err != nil {
			s.fail(w, err)
			return
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		s.fail(w, err)
		return
	}
	more := len(users) > usersPageSize
	if more {
		users = users[:usersPageSize]
	}
	s.render(w, http.StatusOK, "users", req, map[string]any{"Users": users, "Q": q, "More": more})
}

// option is an upload option the form offers: what the tenant allows.
type option struct {
	Name, Label, Kind string // Kind: select, check or text
	Choices           []string
}

// uploadOptions are the options an upload of tenant may set, as form fields.
func uploadOptions(t platform.Tenant) []option {
	all := []option{
		{Name: schemas.OptionMode, Label: "Mode", Kind: "select", Choices: []string{schemas.ModeCreate, schemas.ModeUpdate, schemas.ModeSync, schemas.ModeRemove}},
		{Name: schemas.OptionOnError, Label: "On errors", Kind: "select", Choices: []string{schemas.OnErrorContinue, schemas.OnErrorAbort}},
		{Name: schemas.OptionInvite, Label: "Send invitations to new users", Kind: "check"},
		{Name: schemas.OptionAssignGroups, Label: "Assign groups (separated by ;)", Kind: "text"},
		{Name: schemas.OptionMirrorUser, Label: "Mirror user (login)", Kind: "text"},
		{Name: schemas.OptionPreview, Label: "Preview first", Kind: "check"},
		{Name: schemas.OptionForce, Label: "Force (a sync may deactivate more than the limit)", Kind: "check"},
	}
	var out []option
	for _, o := range all {
		if t.AllowsOption(o.Name) {
			out = append(out, o)
		}
	}
	return out
}

func (s *Server) uploadPage(w http.ResponseWriter, r *http.Request, req *request) {
	tenant := s.tenantOf(r, req.account)
	data := map[string]any{"Datasets": folders(), "Tenants": s.tenantNames(req.account), "Tenant": tenant, "Dataset": r.FormValue("dataset"),
		"Off": s.uploads == nil}
	if tenant != "" {
		data["Options"] = uploadOptions(s.tenants()[tenant])
	}
	s.render(w, http.StatusOK, "upload", req, data)
}

// presign answers the upload script (POST /upload, with the CSRF header):
// a presigned PUT of the file into the tenant's dataset folder, with the
// options the tenant allows and the account's address as the uploader.
func (s *Server) presign(w http.ResponseWriter, r *http.Request, req *request) {
	if s.uploads == nil {
		http.Error(w, "uploads are off: the console has no MinIO admin keys", http.StatusServiceUnavailable)
		return
	}
	tenant, dataset := s.tenantOf(r, req.account), r.PostFormValue("dataset")
	key := objectKey(tenant, dataset, r.PostFormValue("file"))
	if _, ok := schemas.Datasets[dataset]; !ok || tenant == "" || key == "" {
		http.Error(w, "choose a tenant, a dataset and a file", http.StatusBadRequest)
		return
	}
	md := map[string]string{}
	if req.account.Email != "" {
		md["uploader"] = req.account.Email
	}
	for _, o := range uploadOptions(s.tenants()[tenant]) {
		if v := strings.TrimSpace(r.PostFormValue(o.Name)); v != "" {
			if o.Kind == "check" {
				v = "true"
			}
			md[o.Name] = v
		}
	}
	p, err := s.uploads.Presign(r.Context(), tenant, key, md)
	if err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(p)
}
