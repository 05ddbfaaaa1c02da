package schemas_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/schemas"
)

// TestEveryCodeHasAHint: each rule code declared in the package (a Code...
// constant, found in the source, so that a new code cannot be forgotten)
// has its one-line solution.
func TestEveryCodeHasAHint(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	codes := 0
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, id := range vs.Names {
				if !strings.HasPrefix(id.Name, "Code") || i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				code, _ := strconv.Unquote(lit.Value)
				codes++
				if schemas.Hint(code) == "" {
					t.Errorf("%s (%q) has no hint", id.Name, code)
				}
			}
			return true
		})
	}
	if codes < 30 {
		t.Fatalf("found %d codes in the source, want every Code constant (30 or more)", codes)
	}
	if schemas.Hint("no_such_code") != "" {
		t.Error("an unknown code has a hint")
	}
}
