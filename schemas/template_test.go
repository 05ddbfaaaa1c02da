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
