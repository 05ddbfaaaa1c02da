package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/templates"
)

// template writes the templates partners download for a dataset (package
// templates) into a folder: a CSV with a README beside it, or a workbook.
// With --tenant, the example rows name the tenant's own groups and accounts,
// so that the template imports into that tenant as it is.
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
	shapes, err := templates.Of(fs.Arg(0))
	if err != nil {
		return err
	}
	fill := templates.Fill(templates.Examples)
	if *tenant != "" {
		if fill, err = tenantExamples(*tenant); err != nil {
			return err
		}
	}
	var written []string
	for _, t := range shapes {
		paths, err := writeTemplate(*dir, t, *asXLSX, fill)
		if err != nil {
			return err
		}
		written = append(written, paths...)
	}
	fmt.Println(strings.Join(written, "\n"))
	return nil
}

// writeTemplate writes one template into dir: name.xlsx, or name.csv and
// name-README.txt.
func writeTemplate(dir string, t templates.Template, asXLSX bool, fill templates.Fill) ([]string, error) {
	rows, rules := t.Rows(fill)
	if asXLSX {
		path := filepath.Join(dir, t.Name+".xlsx")
		return []string{path}, writeFile(path, func(f *os.File) error { return t.WriteXLSX(f, rows, rules) })
	}
	path, readme := filepath.Join(dir, t.Name+".csv"), filepath.Join(dir, t.Name+"-README.txt")
	if err := writeFile(path, func(f *os.File) error { return templates.WriteCSV(f, rows) }); err != nil {
		return nil, err
	}
	if err := os.WriteFile(readme, []byte(t.Readme(rules)), 0o644); err != nil {
		return nil, err
	}
	return []string{path, readme}, nil
}

// writeFile creates path and writes it with write.
func writeFile(path string, write func(*os.File) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// tenantExamples reads a tenant's examples (templates.ForTenant) as the
// read-only ClickHouse user.
func tenantExamples(tenant string) (templates.Fill, error) {
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
	return templates.ForTenant(ctx, conn, cfg.ClickHouse.Database, tenant)
}
