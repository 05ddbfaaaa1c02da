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
// and an example row, with its rules beside it (a second sheet of the
// workbook, or a README next to the CSV).
func template(args []string) error {
	fs := flag.NewFlagSet("template", flag.ContinueOnError)
	asXLSX := fs.Bool("xlsx", false, "write an .xlsx workbook instead of a .csv")
	dir := fs.String("o", ".", "the folder to write into")
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
	example := make([]string, len(ds.Fields))
	rules := [][]string{{"column", "rule"}}
	for i, f := range ds.Fields {
		example[i] = f.Example
		rules = append(rules, []string{f.Name, f.Rule()})
	}
	var written []string
	if *asXLSX {
		path := fmt.Sprintf("%s/%s.xlsx", *dir, ds.Name)
		if err := writeWorkbook(path, ds, example, rules); err != nil {
			return err
		}
		written = append(written, path)
	} else {
		path := fmt.Sprintf("%s/%s.csv", *dir, ds.Name)
		if err := writeCSV(path, [][]string{ds.Headers(), example}); err != nil {
			return err
		}
		readme := fmt.Sprintf("%s/%s-README.txt", *dir, ds.Name)
		var b strings.Builder
		fmt.Fprintf(&b, "%s.csv: one %s per row, under this header row. Keep the headers; leave optional cells empty.\n", ds.Name, strings.TrimSuffix(ds.Name, "s"))
		fmt.Fprintf(&b, "Upload it to <your tenant>/%s/<file name>. Save as CSV (UTF-8) or .xlsx; no macros.\n\n", ds.Name)
		for _, r := range rules[1:] {
			fmt.Fprintf(&b, "%s: %s\n", r[0], r[1])
		}
		if err := os.WriteFile(readme, []byte(b.String()), 0o644); err != nil {
			return err
		}
		written = append(written, path, readme)
	}
	fmt.Println(strings.Join(written, "\n"))
	return nil
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

func writeWorkbook(path string, ds *schemas.Dataset, example []string, rules [][]string) error {
	wb := excelize.NewFile()
	defer wb.Close()
	if err := wb.SetSheetName("Sheet1", ds.Name); err != nil {
		return err
	}
	if _, err := wb.NewSheet("Rules"); err != nil {
		return err
	}
	sheets := map[string][][]string{ds.Name: {ds.Headers(), example}, "Rules": rules}
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
