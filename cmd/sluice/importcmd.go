package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/schollz/progressbar/v3"

	"github.com/sluicehq/sluice/operate"
	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/schemas"
)

const importUsage = `usage: sluice import FILE --tenant T --dataset D [--group-type TYPE] [--name NAME]
         [--uploader ADDRESS] [--mode M] [--on-error E] [--invite B] [--assign-groups G]
         [--mirror-user U] [--preview B] [--force B] [--access-key K --secret-key S]

Uploads FILE to <bucket>/T/D/[TYPE/]NAME as partner T does: with T's own
MinIO key (--access-key and --secret-key, else SLUICE_TENANT_ACCESS_KEY and
SLUICE_TENANT_SECRET_KEY: the key sluice tenant add printed), the uploader
(X-Amz-Meta-Uploader, who is mailed the result) and each option given as
the object's metadata (X-Amz-Meta-<option>: only those T allows, else the
file is rejected). Then it follows the import with a progress bar (on
standard error) to its end, prints its counts and where its errors are
(sluice errors ID), reading ClickHouse as the read-only user.

Exit status: 0 completed or previewed; 3 completed_with_errors (the good
rows are loaded, the rejected ones are in the error report); 1 anything
else: the file rejected, failed, cancelled, an import that requires
intervention (nothing loaded), or the command failing.`

// importAppearWait is how long `sluice import` waits for the import of its
// upload to start (ingest to claim it).
const importAppearWait = 2 * time.Minute

// exitCompletedWithErrors is the exit status of `sluice import` when the
// import completed with errors.
const exitCompletedWithErrors = 3

// exitError is an error that sets the command's exit status.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

// importArgs is what `sluice import` was asked.
type importArgs struct {
	file, tenant, dataset, groupType, name, uploader string
	accessKey, secretKey                             string
	options                                          map[string]string // the options given, by name
}

// key is the object's key: <tenant>/<dataset>/[<group type>/]<name>.
func (a importArgs) key() string {
	return path.Join(a.tenant, a.dataset, a.groupType, a.name)
}

func parseImportArgs(cfg config, args []string, out io.Writer) (importArgs, error) {
	var a importArgs
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() { fmt.Fprintln(out, importUsage) }
	fs.StringVar(&a.tenant, "tenant", "", "the tenant, whose prefix the file goes under")
	fs.StringVar(&a.dataset, "dataset", "", "the dataset (clients, users, groups, ...: sluice template lists them)")
	fs.StringVar(&a.groupType, "group-type", "", "groups only: the type the file gives its groups")
	fs.StringVar(&a.name, "name", "", "the file's name in the bucket (default: FILE's)")
	fs.StringVar(&a.uploader, "uploader", "", "X-Amz-Meta-Uploader: the address mailed the result (one the tenant allows, else its contact is)")
	fs.StringVar(&a.accessKey, "access-key", cfg.tenantKey.access, "the tenant's access key (default SLUICE_TENANT_ACCESS_KEY)")
	fs.StringVar(&a.secretKey, "secret-key", cfg.tenantKey.secret, "the tenant's secret key (default SLUICE_TENANT_SECRET_KEY)")
	options := map[string]*string{}
	for _, o := range schemas.Options {
		options[o] = fs.String(o, "", "X-Amz-Meta-"+o+", if the tenant allows uploads to set it")
	}
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return a, err
	}
	if len(files) != 1 || a.tenant == "" || a.dataset == "" {
		return a, fmt.Errorf("import: want one file, --tenant and --dataset\n%s", importUsage)
	}
	if a.accessKey == "" || a.secretKey == "" {
		return a, errors.New("import: the tenant's key is needed: --access-key and --secret-key, or SLUICE_TENANT_ACCESS_KEY and SLUICE_TENANT_SECRET_KEY")
	}
	a.file = files[0]
	if a.name == "" {
		a.name = filepath.Base(a.file)
	}
	a.options = map[string]string{}
	for o, v := range options {
		if *v != "" {
			a.options[o] = *v
		}
	}
	return a, nil
}

// importFile runs `sluice import`: it uploads the file as its tenant does,
// finds the import the upload started, and follows it to its end.
func importFile(ctx context.Context, cfg config, args []string, out io.Writer) error {
	a, err := parseImportArgs(cfg, args, out)
	if err != nil {
		return err
	}
	f, err := os.Open(a.file)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	ops, err := openOps(ctx, cfg)
	if err != nil {
		return err
	}
	defer ops.Close()
	scope, key := operate.Scope(a.tenant), a.key()
	seen, err := importsOfKey(ctx, ops, scope, key)
	if err != nil {
		return err
	}
	if err := upload(ctx, cfg.S3, a, f); err != nil {
		return err
	}
	fmt.Fprintf(out, "uploaded %s to s3://%s/%s\n", a.file, cfg.S3.Bucket, key)
	id, err := awaitNewImport(ctx, ops, scope, key, seen)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "import %s\n", id)
	imp, err := follow(ctx, ops, scope, id, a.name, os.Stderr)
	if err != nil {
		return err
	}
	return ended(imp, out)
}

// upload puts the file at its key with the tenant's key, its uploader and
// options as the object's metadata.
func upload(ctx context.Context, s3cfg platform.S3Config, a importArgs, body io.ReadSeeker) error {
	s3cfg.AccessKey, s3cfg.SecretKey = a.accessKey, a.secretKey
	md := map[string]string{}
	for o, v := range a.options {
		md[o] = v
	}
	if a.uploader != "" {
		md["uploader"] = a.uploader
	}
	_, err := platform.NewS3Client(s3cfg).PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s3cfg.Bucket), Key: aws.String(a.key()), Body: body, Metadata: md,
	})
	if err != nil {
		return fmt.Errorf("import: upload: %w", err)
	}
	return nil
}

// importsOfKey returns the ids of the latest imports of the key.
func importsOfKey(ctx context.Context, ops *operate.Ops, scope operate.Scope, key string) (map[string]bool, error) {
	list, err := ops.List(ctx, scope, operate.Filter{Key: key})
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	ids := map[string]bool{}
	for _, imp := range list {
		ids[imp.ID] = true
	}
	return ids, nil
}

// awaitNewImport waits for the import of the key that started after the
// upload: the newest, and not one of those seen before it.
func awaitNewImport(ctx context.Context, ops *operate.Ops, scope operate.Scope, key string, seen map[string]bool) (string, error) {
	deadline := time.Now().Add(importAppearWait)
	for {
		list, err := ops.List(ctx, scope, operate.Filter{Key: key, Limit: 1})
		if err != nil {
			return "", fmt.Errorf("import: %w", err)
		}
		if len(list) == 1 && !seen[list[0].ID] {
			return list[0].ID, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("import: no import of %s started within %s (is the pipeline running?)", key, importAppearWait)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(operate.FollowInterval):
		}
	}
}

// follow shows the import's progress on w (the rows load has reported, of
// the rows ingest read) until it ends, and returns it as it ended.
func follow(ctx context.Context, ops *operate.Ops, scope operate.Scope, id, name string, w io.Writer) (operate.Import, error) {
	bar := progressbar.NewOptions(-1, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(name),
		progressbar.OptionShowCount(), progressbar.OptionSetItsString("rows"), progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetElapsedTime(true), progressbar.OptionFullWidth())
	var last operate.Import
	known := false
	err := ops.Follow(ctx, scope, id, func(imp operate.Import) bool {
		last = imp
		if !known && imp.Rows > 0 {
			bar.ChangeMax(imp.Rows)
			known = true
		}
		bar.Describe(name + " " + imp.Status)
		_ = bar.Set(imp.Done)
		return imp.Final()
	})
	_ = bar.Exit()
	fmt.Fprintln(w)
	if err != nil {
		return last, fmt.Errorf("import %s: %w", id, err)
	}
	return last, nil
}

// ended prints how the import ended, its counts and where its errors are,
// and returns the error that sets the exit status (importUsage).
func ended(imp operate.Import, out io.Writer) error {
	k := imp.Counts
	fmt.Fprintf(out, "import %s: %s: %d rows, %d created, %d updated, %d unchanged, %d rejected\n",
		imp.ID, imp.Status, k.Rows, k.Created, k.Updated, k.Unchanged, k.Rejected)
	if imp.Reason.Message != "" {
		fmt.Fprintf(out, "reason: %s\n", imp.Reason.Message)
	}
	if k.Bad() > 0 && imp.Status != schemas.StatusRejected {
		fmt.Fprintf(out, "errors: sluice errors %s (the error report the uploader was mailed)\n", imp.ID)
	}
	switch imp.Status { // the counts say what was decided; nothing is loaded yet
	case schemas.StatusRequiresIntervention:
		fmt.Fprintf(out, "nothing was loaded: upload a corrected file, or sluice continue %s loads the good rows\n", imp.ID)
	case schemas.StatusPreviewed:
		fmt.Fprintf(out, "nothing was loaded: sluice confirm %s imports it as previewed\n", imp.ID)
	}
	switch imp.Status {
	case schemas.StatusCompleted, schemas.StatusPreviewed:
		return nil
	case schemas.StatusCompletedWithErrors:
		return exitError{exitCompletedWithErrors, fmt.Errorf("import %s completed with errors", imp.ID)}
	}
	return fmt.Errorf("import %s ended %s", imp.ID, imp.Status)
}
