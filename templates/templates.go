// Package templates makes the templates partners download to fill in
// (`sluice template` and the console's Templates page): a dataset's headers
// and example rows (its fields' Examples, then MoreExamples), with its rules
// beside them, as CSV (with a README) or as an XLSX workbook (rules in a
// second sheet). For a tenant (ForTenant), the examples name the tenant's
// own groups and accounts, so that the template imports into it as it is.
package templates

import (
	"cmp"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/xuri/excelize/v2"

	"github.com/sluicehq/sluice/schemas"
)

// Fill gives a field's value in every example row instead of its Example,
// when it says so.
type Fill func(*schemas.Dataset, *schemas.Field) (string, bool)

// Examples is the Fill that keeps the fields' own examples.
func Examples(*schemas.Dataset, *schemas.Field) (string, bool) { return "", false }

// Template is the template of one shape of a dataset: the dataset itself,
// or one of its layouts.
type Template struct {
	Name    string // the file's name without extension: the folder, then -<layout>
	Folder  string // the dataset's folder under the tenant's prefix
	Dataset *schemas.Dataset
}

// Of returns the templates of the dataset uploaded to folder: one per
// layout, or the dataset's own.
func Of(folder string) ([]Template, error) {
	ds, ok := schemas.Lookup(folder)
	if !ok {
		var known []string
		for name := range schemas.Datasets {
			known = append(known, name)
		}
		sort.Strings(known)
		return nil, fmt.Errorf("there is no dataset %q; there are: %s", folder, strings.Join(known, ", "))
	}
	if ds.Layouts == nil {
		return []Template{{Name: folder, Folder: folder, Dataset: ds}}, nil
	}
	var out []Template
	for _, shape := range ds.Layouts {
		out = append(out, Template{Name: folder + "-" + shape.Name, Folder: folder, Dataset: shape})
	}
	return out, nil
}

// Rows returns the template's rows (header, then examples) and its rules
// (a header row, then column and rule): a repeated field's column twice,
// to show that it repeats.
func (t Template) Rows(fill Fill) (rows, rules [][]string) {
	ds := t.Dataset
	var header, example []string
	more := make([][]string, len(ds.MoreExamples))
	rules = [][]string{{"column", "rule"}}
	for _, f := range ds.Fields {
		v, filled := fill(ds, &f)
		if !filled {
			v = f.Example
		}
		header, example = append(header, f.Name), append(example, v)
		for i, m := range ds.MoreExamples {
			if !filled {
				v = m[f.Name]
			}
			more[i] = append(more[i], v)
		}
		rule := f.Rule()
		if f.Repeated {
			header, example = append(header, f.Name), append(example, "")
			for i := range more {
				more[i] = append(more[i], "")
			}
			rule += "; add more " + f.Name + " columns for more values, leave the ones you do not use empty"
		}
		rules = append(rules, []string{f.Name, rule})
	}
	return append([][]string{header, example}, more...), rules
}

// Readme is the README beside the CSV template: how to fill and upload it,
// and its rules.
func (t Template) Readme(rules [][]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s.csv: one row per record, under this header row. Keep the headers; leave optional cells empty.\n", t.Name)
	fmt.Fprintf(&b, "Upload it to <your tenant>/%s/<file name>. Save as CSV (UTF-8) or .xlsx; no macros.\n", t.Folder)
	if groups, _ := schemas.Lookup(t.Folder); groups == schemas.Groups {
		fmt.Fprintf(&b, "Under <your tenant>/%s/<type>/<file name>, its groups get that type (%s); a group no file gives a type is untyped,\n"+
			"and any users column may name it.\n", t.Folder, strings.Join(schemas.UserGroupTypes, ", "))
		if t.Dataset != schemas.RenameGroups {
			b.WriteString("Uploaded with X-Amz-Meta-Mode: remove, it removes the memberships or groups it names.\n")
		}
	}
	b.WriteString("\n")
	for _, r := range rules[1:] {
		fmt.Fprintf(&b, "%s: %s\n", r[0], r[1])
	}
	return b.String()
}

// WriteCSV writes rows as CSV.
func WriteCSV(w io.Writer, rows [][]string) error {
	cw := csv.NewWriter(w)
	return cw.WriteAll(rows)
}

// WriteXLSX writes the template as a workbook: its rows in a sheet named
// after it, its rules in a second sheet.
func (t Template) WriteXLSX(w io.Writer, rows, rules [][]string) error {
	wb := excelize.NewFile()
	defer wb.Close()
	if err := wb.SetSheetName("Sheet1", t.Name); err != nil {
		return err
	}
	if _, err := wb.NewSheet("Rules"); err != nil {
		return err
	}
	sheets := map[string][][]string{t.Name: rows, "Rules": rules}
	for sheet, rows := range sheets {
		for i, r := range rows {
			cells := make([]any, len(r))
			for j, c := range r {
				cells[j] = c
			}
			cell, _ := excelize.CoordinatesToCellName(1, i+1)
			if err := wb.SetSheetRow(sheet, cell, &cells); err != nil {
				return err
			}
		}
	}
	return wb.Write(w)
}

// ForTenant reads what a tenant has that a template's examples name, from
// the warehouse db on conn (the read-only user): each users column of a
// group type takes a group of that type the tenant has (tenantGroups), or
// stays empty, as a group must exist; a group member takes one of the
// tenant's accounts, if it has any (else the accounts template's example,
// which that template creates).
func ForTenant(ctx context.Context, conn driver.Conn, db, tenant string) (Fill, error) {
	groups, err := tenantGroups(ctx, conn, db, tenant)
	if err != nil {
		return nil, err
	}
	var account string
	err = conn.QueryRow(ctx, fmt.Sprintf("SELECT min(email) FROM %s.accounts FINAL WHERE tenant = ?", db), tenant).Scan(&account)
	if err != nil {
		return nil, fmt.Errorf("template: the accounts of %s: %w", tenant, err)
	}
	return func(ds *schemas.Dataset, f *schemas.Field) (string, bool) {
		switch {
		case ds == schemas.Users && f.Ref != nil && f.Ref.Table == "groups":
			return groups[f.Name], true
		case ds.Records == schemas.Memberships && f.Column == "email" && account != "":
			return account, true
		}
		return "", false
	}, nil
}

// tenantGroups returns, by type, a group a users column of that type may
// name: one of the tenant's groups of the type, else one of its untyped
// groups (any column may name those), else none.
func tenantGroups(ctx context.Context, conn driver.Conn, db, tenant string) (map[string]string, error) {
	rows, err := conn.Query(ctx, fmt.Sprintf(`SELECT name, t FROM (
			SELECT name, argMax(%[3]s, version) AS t, argMax(%[4]s, version) AS gone
			FROM %[1]s.%[2]s WHERE tenant = ? GROUP BY name
		) WHERE gone = 0 ORDER BY name`, db, schemas.GroupRecords.Table, schemas.GroupType, schemas.Removed), tenant)
	if err != nil {
		return nil, fmt.Errorf("template: the groups of %s: %w", tenant, err)
	}
	defer rows.Close()
	typed, untyped := map[string]string{}, ""
	for rows.Next() {
		var name, t string
		if err := rows.Scan(&name, &t); err != nil {
			return nil, fmt.Errorf("template: the groups of %s: %w", tenant, err)
		}
		switch {
		case t == "" && untyped == "":
			untyped = name
		case t != "" && typed[t] == "":
			typed[t] = name
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("template: the groups of %s: %w", tenant, err)
	}
	out := map[string]string{}
	for _, t := range schemas.UserGroupTypes {
		out[t] = cmp.Or(typed[t], untyped)
	}
	return out, nil
}
