package console

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/sluicehq/sluice/operate"
	"github.com/sluicehq/sluice/platform/bus"
)

// sessionTTL is how long a sign-in lasts: as long as the sessions bucket
// keeps it.
const sessionTTL = bus.SessionTTL

// pageNames are the pages, each pages/<name>.html in pages/layout.html.
var pageNames = []string{"signin", "imports", "import", "upload", "templates", "users", "notfound", "invite"}

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05")
	},
	"duration": func(d time.Duration) string {
		if d <= 0 {
			return ""
		}
		return d.Round(time.Second).String()
	},
	"row": func(i operate.Import, operator bool, now time.Time) importRow {
		return importRow{&i, operator, now}
	},
	// delimiter names a CSV delimiter.
	"delimiter": func(d string) string {
		names := map[string]string{",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
		if n, ok := names[d]; ok {
			return n
		}
		return d
	},
}

// importRow is what the list's template "row" shows of an import: the
// tenant's column only to an operator, the running time until now.
type importRow struct {
	*operate.Import
	Operator bool
	Now      time.Time
}

func parsePages() (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(pageFiles, "pages/layout.html", "pages/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console: page %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// render writes page name with data, and what the layout shows of req
// (nil before sign-in): the account, the CSRF token of its forms.
func (s *Server) render(w http.ResponseWriter, status int, name string, req *request, data map[string]any) {
	if data == nil {
		data = map[string]any{}
	}
	data["Page"] = name
	if req != nil {
		data["Account"], data["CSRF"] = req.account, req.session.CSRF
	}
	var b bytes.Buffer
	if err := s.pages[name].Execute(&b, data); err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = b.WriteTo(w)
}
