package schemas_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/schemas"
)

// TestTemplateFields: the template partners download must describe every
// field, and its example row must pass every rule.
func TestTemplateFields(t *testing.T) {
	ctx := schemas.Context{Region: "RU", Password: schemas.DefaultPasswordPolicy}
	for name, ds := range schemas.Datasets {
		for _, shape := range append([]*schemas.Dataset{ds}, ds.Layouts...) {
			for _, f := range shape.Fields {
				t.Run(name+"/"+shape.Name+"/"+f.Name, func(t *testing.T) {
					if f.Help == "" || f.Example == "" {
						t.Errorf("help %q, example %q: want both", f.Help, f.Example)
					}
					if v, ok := f.Check(f.Example, ctx, f.Required); !ok {
						t.Errorf("example %q breaks a rule: %s", f.Example, v.Message)
					}
					if rule := f.Rule(); f.Required != strings.HasPrefix(rule, "required") {
						t.Errorf("rule %q for a field required=%v", rule, f.Required)
					}
				})
			}
		}
	}
}

// TestMoreExamples: the template's further example rows name fields the
// dataset has, pass every rule, and fill every required field.
func TestMoreExamples(t *testing.T) {
	ctx := schemas.Context{Region: "RU", Password: schemas.DefaultPasswordPolicy}
	for name, ds := range schemas.Datasets {
		for n, row := range ds.MoreExamples {
			for field, v := range row {
				i := ds.Index(field)
				if i < 0 {
					t.Errorf("%s example row %d: no field %q", name, n+2, field)
					continue
				}
				if bad, ok := ds.Fields[i].Check(v, ctx, true); !ok {
					t.Errorf("%s example row %d: %s %q breaks a rule: %s", name, n+2, field, v, bad.Message)
				}
			}
			for _, f := range ds.Fields {
				if f.Required && row[f.Name] == "" {
					t.Errorf("%s example row %d: no %s, which is required", name, n+2, f.Name)
				}
			}
		}
	}
}

// TestMaxCell: a field with no length of its own still bounds its cells.
func TestMaxCell(t *testing.T) {
	f := schemas.Clients.Fields[schemas.Clients.Index("project")]
	long := strings.Repeat("a", schemas.MaxCell+1)
	v, ok := f.Check(long, schemas.Context{}, false)
	if ok || v.Code != schemas.CodeTooLong || v.Message != schemas.MsgTooLong("project", schemas.MaxCell) {
		t.Errorf("a %d-character project: got %+v %v, want %s", len(long), v, ok, schemas.CodeTooLong)
	}
}

// TestDatasetsFitTheEmptyMask: Row.Empty marks empty cells in a 64-bit mask.
func TestDatasetsFitTheEmptyMask(t *testing.T) {
	for name, ds := range schemas.Datasets {
		if len(ds.Fields) > schemas.MaxFields {
			t.Errorf("%s has %d fields, at most %d fit Row.Empty", name, len(ds.Fields), schemas.MaxFields)
		}
	}
}
