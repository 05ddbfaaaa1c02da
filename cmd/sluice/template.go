package main

import (
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/sluicehq/sluice/schemas"
)

// template writes the template partners download for a dataset: its headers
// and example rows (schemas.Dataset.MoreExamples after the fields'
// Examples), with its rules beside it (a second sheet of the
// workbook, or a README next to the CSV).
func template(args []string) error {
	fs := flag.NewFlagSet("template", flag.ContinueOnError)
	asXLSX := fs.Bool("xlsx", false, "write an .xlsx workbook instead of a .csv")
	dir := fs.String("o", ".", "the folder to write into")
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		args = append(args[1:], args[0]) // the dataset first, as the usage says
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: sluice template <dataset> [--xlsx] [-o folder]")
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
		paths, err := writeTemplate(*dir, fs.Arg(0), name, shape, *asXLSX)
		if err != nil {
			return err
		}
		written = append(written, paths...)
	}
	fmt.Println(strings.Join(written, "\n"))
	return nil
}

// writeTemplate writes the template of one shape of a dataset uploaded to
// folder: a repeated field's column twice, to show that it repeats.
func writeTemplate(dir, folder, name string, ds *schemas.Dataset, asXLSX bool) ([]string, error) {
	var header, example []string
	more := make([][]string, len(ds.MoreExamples))
	rules := [][]string{{"column", "rule"}}
	for _, f := range ds.Fields {
		header, example = append(header, f.Name), append(example, f.Example)
		for i, m := range ds.MoreExamples {
			more[i] = append(more[i], m[f.Name])
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
