package main

import (
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/xuri/excelize/v2"

	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// template writes the template partners download for a dataset: its headers
// and example rows (schemas.Dataset.MoreExamples after the fields'
// Examples), with its rules beside it (a second sheet of the
// workbook, or a README next to the CSV). With --tenant, the example rows
// name the tenant's own groups and accounts (tenantExamples), so that the
// template imports into that tenant as it is.
func template(args []string) error {
	fs := flag.NewFlagSet("template", flag.ContinueOnError)
	asXLSX := fs.Bool("xlsx", false, "write an .xlsx workbook instead of a .csv")
	dir := fs.String("o", ".", "the folder to write into")
	tenant := fs.String("tenant", "", "fill the examples with this tenant's groups and accounts (reads ClickHouse as SLUICE_READER_CLICKHOUSE_USER)")
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		args = append(args[1:], args[0]) // the dataset first, as the usage says
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: sluice template <dataset> [--xlsx] [-o folder] [--tenant name]")
	}
	ds, ok := schemas.Lookup(fs.Arg(0))
	if !ok {
		var known []string
		for name := range schemas.Datasets {
			known = append(known, name)
		}
		sort.Strings(known)
		return fmt.Errorf("there is no dataset %q; there are: %s", fs.Arg(0), strings.Join(known, ", "))
	}
	fill := func(*schemas.Dataset, *schemas.Field) (string, bool) { return "", false }
	if *tenant != "" {
		var err error
		if fill, err = tenantExamples(*tenant); err != nil {
			return err
		}
	}
	var written []string
	shapes := []*schemas.Dataset{ds}
	if ds.Layouts != nil {
		shapes = ds.Layouts
	}
	for _, shape := range shapes {
		name := fs.Arg(0)
		if shape != ds {
			name += "-" + shape.Name
		}
		paths, err := writeTemplate(*dir, fs.Arg(0), name, shape, *asXLSX, fill)
		if err != nil {
			return err
		}
		written = append(written, paths...)
	}
	fmt.Println(strings.Join(written, "\n"))
	return nil
}

// writeTemplate writes the template of one shape of a dataset uploaded to
// folder: a repeated field's column twice, to show that it repeats. fill
// gives a field's value in every example row instead of its Example, if it
// says so.
func writeTemplate(dir, folder, name string, ds *schemas.Dataset, asXLSX bool, fill func(*schemas.Dataset, *schemas.Field) (string, bool)) ([]string, error) {
	var header, example []string
	more := make([][]string, len(ds.MoreExamples))
	rules := [][]string{{"column", "rule"}}
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
	rows := append([][]string{header, example}, more...)
	if asXLSX {
		path := fmt.Sprintf("%s/%s.xlsx", dir, name)
		return []string{path}, writeWorkbook(path, name, rows, rules)
	}
	path := fmt.Sprintf("%s/%s.csv", dir, name)
	if err := writeCSV(path, rows); err != nil {
		return nil, err
	}
	readme := fmt.Sprintf("%s/%s-README.txt", dir, name)
	var b strings.Builder
	fmt.Fprintf(&b, "%s.csv: one row per record, under this header row. Keep the headers; leave optional cells empty.\n", name)
	fmt.Fprintf(&b, "Upload it to <your tenant>/%s/<file name>. Save as CSV (UTF-8) or .xlsx; no macros.\n", folder)
	if groups, _ := schemas.Lookup(folder); groups == schemas.Groups {
		fmt.Fprintf(&b, "Under <your tenant>/%s/<type>/<file name>, its groups get that type (%s); a group no file gives a type is untyped,\n"+
			"and any users column may name it.\n", folder, strings.Join(schemas.UserGroupTypes, ", "))
		if ds != schemas.RenameGroups {
			b.WriteString("Uploaded with X-Amz-Meta-Mode: remove, it removes the memberships or groups it names.\n")
		}
	}
	b.WriteString("\n")
	for _, r := range rules[1:] {
		fmt.Fprintf(&b, "%s: %s\n", r[0], r[1])
	}
	if err := os.WriteFile(readme, []byte(b.String()), 0o644); err != nil {
		return nil, err
	}
	return []string{path, readme}, nil
}

func writeCSV(path string, rows [][]string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	if err := w.WriteAll(rows); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeWorkbook(path, name string, rows, rules [][]string) error {
	wb := excelize.NewFile()
	defer wb.Close()
	if err := wb.SetSheetName("Sheet1", name); err != nil {
		return err
	}
	if _, err := wb.NewSheet("Rules"); err != nil {
		return err
	}
	sheets := map[string][][]string{name: rows, "Rules": rules}
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
	return wb.SaveAs(path)
}

// tenantExamples reads what a tenant has that a template's examples name,
// as the read-only ClickHouse user: each users column of a group type takes
// a group of that type the tenant has (tenantGroups), or stays empty, as a
// group must exist; a group member takes one of the tenant's accounts, if
// it has any (else the accounts template's example, which that template
// creates).
func tenantExamples(tenant string) (func(*schemas.Dataset, *schemas.Field) (string, bool), error) {
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	conn, err := warehouse.Open(ctx, cfg.ClickHouse, cfg.ClickHouse.Reader)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	groups, err := tenantGroups(ctx, conn, cfg.ClickHouse.Database, tenant)
	if err != nil {
		return nil, err
	}
	var account string
	err = conn.QueryRow(ctx, fmt.Sprintf("SELECT min(email) FROM %s.accounts FINAL WHERE tenant = ?", cfg.ClickHouse.Database), tenant).Scan(&account)
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
