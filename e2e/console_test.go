package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/schemas"
)

// TestConsole drives the web console in Debian's chromium (scripts/parts.sh
// installs it): portal's admin signs in with the keyboard, uploads a file
// with a bad row through the page, watches it end, and downloads its
// errors, the same CSV as the email's; watches a running import's progress
// bar move, stops it, and continues one that requires intervention.
// portal's viewer can do neither, rival's admin gets 404 for portal's
// import and sees none of its users, and an operator sees every tenant. Every page has labelled
// controls, text of enough contrast, and a keyboard order that reaches its
// actions. Screenshots go to the test's artifacts (go test -artifacts: make
// test keeps them under e2e/artifacts/).
func TestConsole(t *testing.T) {
	t.Parallel()
	addConsoleAccount(t, "ann", "--tenant", "portal", "--role", "admin", "--email", "ann@portal.example")
	addConsoleAccount(t, "vic", "--tenant", "portal", "--role", "viewer")
	addConsoleAccount(t, "rita", "--tenant", "rival", "--role", "admin")
	browser := newBrowser(t)
	ann := signIn(t, browser, "ann")

	// Upload through the page: the browser puts the file into portal's
	// folder with a URL presigned with portal's key, then follows it.
	const file = "console-upload.csv"
	path := filepath.Join(t.TempDir(), file)
	body := "firstName,email\nAda,ada@portal.example\nBob,bob@@portal.example\nCy,cy@portal.example\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	do(t, ann, chromedp.Navigate(stack.console+"/upload"))
	checkPage(t, ann, "upload")
	do(t, ann, chromedp.SetValue(chromedp.ID("dataset"), "clients"),
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{path}),
		chromedp.Click(chromedp.CSS(`#upload button[type="submit"]`)))
	id := awaitImportPage(t, ann, schemas.StatusCompletedWithErrors)
	checkPage(t, ann, "upload-ended")
	// Upload a corrected file: the upload page, for the same dataset.
	get(t, ann, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(`a.button.secondary`))))
	if ds := get(t, ann, chromedp.Value(chromedp.ID("dataset"))); ds != "clients" {
		t.Errorf("Upload a corrected file chose dataset %q, want clients", ds)
	}
	got := importsOf(t, "portal/clients/"+file)[id]
	if want := (schemas.Counts{Rows: 3, Created: 2, Rejected: 1}); got.Counts != want {
		t.Errorf("uploaded import: %+v, want %+v", got.Counts, want)
	}
	// Download all errors: the same CSV as the email's attachment.
	csv := fetchText(t, ann, "/imports/"+id+"/errors.csv", http.StatusOK)
	mails := mailsAbout(t, "ann@portal.example", file)
	if len(mails) != 1 || len(mails[0].Attachments) != 1 {
		t.Fatalf("emails to ann about %s: %d, want one with the report", file, len(mails))
	}
	for _, a := range mails[0].Attachments {
		if string(a) != csv || !strings.Contains(csv, "bob@@portal.example") {
			t.Errorf("downloaded errors:\n%s\nthe email's:\n%s", csv, a)
		}
	}

	// Another tenant's admin: portal's import does not exist for rita.
	rita := signIn(t, browser, "rita")
	if status := navigateStatus(t, rita, "/imports/"+id); status != http.StatusNotFound {
		t.Errorf("rival's admin opening portal's import: %d, want 404", status)
	}
	do(t, rita, chromedp.Navigate(stack.console+"/imports"))
	if list := text(t, rita, "main"); strings.Contains(list, file) {
		t.Errorf("rival's list shows portal's %s", file)
	}
	fetchText(t, rita, "/imports/"+id+"/errors.csv", http.StatusNotFound)

	// Continue an import that requires intervention.
	held := putAsPartner(t, "portal/clients/console-held.csv", body, map[string]string{"on-error": "abort"})
	awaitStatus(t, "portal/clients/console-held.csv", held, schemas.StatusRequiresIntervention)
	vic := signIn(t, browser, "vic")
	viewerCannotAct(t, vic, held, "continue")
	do(t, ann, chromedp.Navigate(stack.console+"/imports/"+held))
	checkPage(t, ann, "requires-intervention")
	reachByKeyboard(t, ann, "Continue")
	do(t, ann, chromedp.KeyEvent("\r"))
	awaitText(t, ann, "#status", schemas.StatusCompletedWithErrors)
	checkPage(t, ann, "continued")

	// Stop a running import.
	var big strings.Builder
	big.WriteString("firstName,email\n")
	for i := range 3000 {
		fmt.Fprintf(&big, "P%d,p%d@stop.portal.example\n", i, i)
	}
	running := putAsPartner(t, "portal/clients/console-big.csv", big.String(), nil)
	do(t, ann, chromedp.Navigate(stack.console+"/imports"))
	liveProgress(t, ann, running)
	checkPage(t, ann, "running")
	viewerCannotAct(t, vic, running, "stop")
	// The viewer keeps the list open meanwhile: when the import ends, its
	// row says so in place, and the list is not loaded again.
	do(t, vic, chromedp.Navigate(stack.console+"/imports"))
	if !get(t, vic, chromedp.Evaluate[bool](fmt.Sprintf(`(() => { window.stayed = true; return !!document.getElementById("p-%s") })()`, running))) {
		t.Fatalf("the viewer's list has no progress bar for running import %s: %q", running, text(t, vic, "main"))
	}
	do(t, ann, chromedp.Navigate(stack.console+"/imports/"+running))
	reachByKeyboard(t, ann, "Stop")
	do(t, ann, chromedp.KeyEvent("\r"))
	awaitText(t, ann, "#status", schemas.StatusCancelled)
	checkPage(t, ann, "stopped")
	rowEndsInPlace(t, vic, running, schemas.StatusCancelled, 3000)
	checkPage(t, vic, "list-ended")
	// Its rejected rows come a page at a time, in row order.
	rows := `[...document.querySelectorAll("table[aria-labelledby=rejected] tbody td:first-child")].map(td => +td.textContent)`
	first := get(t, ann, chromedp.Evaluate[[]int](rows))
	get(t, ann, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(`a[href="?page=2#rejected"]`))))
	second := get(t, ann, chromedp.Evaluate[[]int](rows))
	if len(first) != 50 || len(second) == 0 || second[0] <= first[len(first)-1] {
		t.Errorf("rejected rows: page 1 %v, page 2 %v; want 50 rows, then later ones", first, second)
	}
	if i := importsOf(t, "portal/clients/console-big.csv")[running]; i.Status != schemas.StatusCancelled || i.Counts.Rows != 3000 {
		t.Errorf("stopped import: %s %+v, want cancelled with 3000 rows", i.Status, i.Counts)
	}

	// Templates and users.
	do(t, ann, chromedp.Navigate(stack.console+"/templates"))
	checkPage(t, ann, "templates")
	if tpl := fetchText(t, ann, "/templates/clients.csv", http.StatusOK); !strings.HasPrefix(tpl, "ID,firstName,lastName,email") {
		t.Errorf("clients template:\n%s", tpl)
	}
	// Seed 001's users, searched by name; another tenant's are not shown.
	const users = "portal/users/console-users.csv"
	awaitStatus(t, users, putAsPartner(t, users, "login,email,firstName,lastName\nzed.q,zed@portal.example,Zed,Quinn\n", nil), schemas.StatusCompleted)
	do(t, vic, chromedp.Navigate(stack.console+"/users?q=quinn"))
	checkPage(t, vic, "users")
	if found := text(t, vic, "tbody"); !strings.Contains(found, "zed.q") || !strings.Contains(found, "zed@portal.example") {
		t.Errorf("portal's users searched for quinn: %q", found)
	}
	do(t, rita, chromedp.Navigate(stack.console+"/users?q=quinn"))
	if found := text(t, rita, "tbody"); strings.Contains(found, "zed") {
		t.Errorf("rival's users page shows portal's user: %q", found)
	}

	// An operator sees every tenant's imports: the newest, of every
	// tenant, in the list (the other tests' imports run meanwhile: of
	// portal's, only its users import made a moment ago is sure to be on
	// the first page of users imports), and any import's page, portal's
	// upload's among them.
	addConsoleAccount(t, "olga", "--operator", "--role", "viewer")
	olga := signIn(t, browser, "olga")
	do(t, olga, chromedp.Navigate(stack.console+"/imports?dataset=users"))
	if list := text(t, olga, "tbody"); !strings.Contains(list, "portal\tconsole-users.csv") {
		t.Errorf("the operator's list: %q, want portal's console-users.csv", list)
	}
	if page := fetchText(t, olga, "/imports/"+id, http.StatusOK); !strings.Contains(page, file) {
		t.Errorf("the operator's page of portal's %s: %q", file, page)
	}
}

// addConsoleAccount runs `sluice console user add` with the password
// Secret123 on stdin.
func addConsoleAccount(t *testing.T, login string, flags ...string) {
	t.Helper()
	cmd := exec.Command(stack.bin, append(append([]string{"console", "user", "add"}, flags...), login)...)
	cmd.Env, cmd.Stdin = stack.cmdEnv, strings.NewReader("Secret123\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sluice console user add %s: %v\n%s", login, err, out)
	}
}

// newBrowser starts headless chromium for the test; each account signs in
// in a browser context of its own (signIn).
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: run scripts/parts.sh")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.WindowSize(1280, 900))
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return browser
}

// signIn signs login in, in a browser context of its own, with the
// keyboard only: the login field has the focus, Tab goes to the password,
// Enter submits.
func signIn(t *testing.T, browser context.Context, login string) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancelTimeout)
	do(t, ctx, chromedp.Navigate(stack.console+"/imports"))
	checkPage(t, ctx, "signin-"+login)
	do(t, ctx, chromedp.KeyEvent(login), chromedp.KeyEvent("\t"), chromedp.KeyEvent("Secret123"))
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.KeyEvent("\r"))); err != nil {
		t.Fatalf("sign in %s: %v", login, err)
	}
	if loc := get(t, ctx, chromedp.Location()); !strings.HasSuffix(loc, "/imports") {
		t.Fatalf("%s signed in to %s, want the imports", login, loc)
	}
	checkPage(t, ctx, "imports-"+login)
	return ctx
}

// viewerCannotAct: a viewer's page of an import has no buttons, and its
// POST of the action, with its own CSRF token, is refused.
func viewerCannotAct(t *testing.T, vic context.Context, id, action string) {
	t.Helper()
	do(t, vic, chromedp.Navigate(stack.console+"/imports/"+id))
	checkPage(t, vic, "viewer-"+action)
	if n := get(t, vic, chromedp.Evaluate[int](`document.querySelectorAll("main button").length`)); n != 0 {
		t.Errorf("the viewer's page of %s has %d buttons", id, n)
	}
	status := get(t, vic, chromedp.Evaluate[int](fmt.Sprintf(`fetch("/imports/%s/%s", {method: "POST",
		headers: {"X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content}}).then(r => r.status)`, id, action),
		chromedp.EvalAwaitPromise))
	if status != http.StatusForbidden {
		t.Errorf("the viewer's %s of %s: %d, want 403", action, id, status)
	}
}

// putAsPartner uploads as the partner would and returns the new import's
// id once it exists.
func putAsPartner(t *testing.T, key, body string, md map[string]string) string {
	t.Helper()
	before := importsOf(t, key)
	if _, err := partner(key).PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(stack.s3cfg.Bucket),
		Key: aws.String(key), Body: strings.NewReader(body), Metadata: md}); err != nil {
		t.Fatal(err)
	}
	var id string
	err := parts.WaitFor(context.Background(), 60*time.Second, func() (bool, error) {
		for i := range importsOf(t, key) {
			if _, old := before[i]; !old {
				id = i
			}
		}
		return id != "", nil
	})
	if err != nil {
		t.Fatalf("no import of %s: %v", key, err)
	}
	return id
}

// awaitStatus waits for import id of key to reach status.
func awaitStatus(t *testing.T, key, id, status string) {
	t.Helper()
	err := parts.WaitFor(context.Background(), 120*time.Second, func() (bool, error) {
		return importsOf(t, key)[id].Status == status, nil
	})
	if err != nil {
		t.Fatalf("%s did not become %s: %+v", id, status, importsOf(t, key)[id])
	}
}

var importPath = regexp.MustCompile(`/imports/([0-9A-Za-z_-]+)$`)

// awaitImportPage waits for the browser to follow an upload to its
// import's page and the page to show status, and returns the import's id.
func awaitImportPage(t *testing.T, ctx context.Context, status string) string {
	t.Helper()
	var id string
	err := parts.WaitFor(ctx, 90*time.Second, func() (bool, error) {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		if m := importPath.FindStringSubmatch(loc); m != nil {
			id = m[1]
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		checkPage(t, ctx, "upload-failed")
		t.Fatalf("the upload did not lead to its import: %v; the page says %q", err, text(t, ctx, "main"))
	}
	awaitText(t, ctx, "#status", status)
	return id
}

// awaitText waits until the element sel says want, as the page moves on
// by itself (its progress events reload it when the import ends).
func awaitText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	var got string
	err := parts.WaitFor(ctx, 120*time.Second, func() (bool, error) {
		got, _ = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		return strings.TrimSpace(got) == want, nil
	})
	if err != nil {
		checkPage(t, ctx, "await-"+want)
		t.Fatalf("%s says %q, want %q", sel, got, want)
	}
}

// liveProgress checks that the list's progress bar of the running import
// id moves while the page stays as it was loaded.
func liveProgress(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	bar := fmt.Sprintf(`(() => { window.stayed = true; const b = document.getElementById("p-%s"); return b ? b.value : -1 })()`, id)
	first := get(t, ctx, chromedp.Evaluate[float64](bar))
	if first < 0 {
		t.Fatalf("the list has no progress bar for running import %s: %q", id, text(t, ctx, "main"))
	}
	moved := fmt.Sprintf(`window.stayed === true && document.getElementById("p-%s").value > %v`, id, first)
	err := parts.WaitFor(ctx, 30*time.Second, func() (bool, error) {
		ok, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](moved))
		return ok, nil
	})
	if err != nil {
		t.Errorf("the progress bar of %s stayed at %v", id, first)
	}
}

// rowEndsInPlace waits until the list's row of import id, which was
// running when the page was loaded (and window.stayed set), shows status
// and rows, with no progress bar left and no reload.
func rowEndsInPlace(t *testing.T, ctx context.Context, id, status string, rows int) {
	t.Helper()
	row := fmt.Sprintf(`(() => {
		const a = document.querySelector('a[href="/imports/%[1]s"]');
		if (window.stayed !== true || !a || document.getElementById("p-%[1]s")) return "";
		return [...a.closest("tr").cells].map(c => c.textContent.trim()).join("|");
	})()`, id)
	want := fmt.Sprintf("|%s|%d|", status, rows)
	var got string
	err := parts.WaitFor(ctx, 60*time.Second, func() (bool, error) {
		got, _ = chromedp.Run(ctx, chromedp.Evaluate[string](row))
		return strings.Contains(got, want), nil
	})
	if err != nil {
		t.Fatalf("the list's row of %s: %q, want %q in place", id, got, want)
	}
}

// reachByKeyboard tabs from the top of the page until the focus is on the
// button labelled label; it fails if no Tab reaches it, or if the first
// does not reach the link that skips to the page's content.
func reachByKeyboard(t *testing.T, ctx context.Context, label string) {
	t.Helper()
	do(t, ctx, chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur(); window.focus()`))
	for n := range 40 {
		do(t, ctx, chromedp.KeyEvent("\t"))
		focused := get(t, ctx, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.textContent.trim() : ""`))
		if n == 0 && focused != "Skip to content" {
			t.Errorf("the first Tab reaches %q, want the skip link", focused)
		}
		if focused == label {
			return
		}
	}
	t.Fatalf("no Tab reaches %q", label)
}

// fetchText fetches path in the page (with its session) and returns the
// body, checking the status.
func fetchText(t *testing.T, ctx context.Context, path string, want int) string {
	t.Helper()
	type answer struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	}
	got := get(t, ctx, chromedp.Evaluate[answer](fmt.Sprintf(`fetch(%q).then(async r => ({status: r.status, body: await r.text()}))`, path),
		chromedp.EvalAwaitPromise))
	if got.Status != want {
		t.Errorf("GET %s: %d, want %d", path, got.Status, want)
	}
	return got.Body
}

// navigateStatus opens path and returns the HTTP status of its page.
func navigateStatus(t *testing.T, ctx context.Context, path string) int {
	t.Helper()
	resp := get(t, ctx, chromedp.NavigateResponse(stack.console+path))
	return int(resp.Status)
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return get(t, ctx, chromedp.Text(chromedp.CSS(sel)))
}

// a11yProblems lists what keeps a keyboard or low-vision user from a page:
// a form control with no label, and text whose contrast with its
// background is under 4.5:1 (WCAG AA).
const a11yProblems = `(() => {
  const out = [];
  for (const c of document.querySelectorAll("input:not([type=hidden]), select, textarea, button")) {
    const named = (c.labels && c.labels.length > 0) || c.getAttribute("aria-label") || (c.tagName === "BUTTON" && c.textContent.trim());
    if (!named) out.push("no label: " + c.outerHTML.slice(0, 80));
  }
  const rgb = s => (s.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); })
    .reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
  const bg = el => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor); if (c.length === 3 || c[3] > 0) return c.slice(0, 3); } return [255, 255, 255]; };
  for (const el of document.querySelectorAll("h1, h2, p, a, button, label, th, td, dt, dd, span, legend, option")) {
    if (!el.textContent.trim() || el.offsetParent === null) continue;
    const a = lum(rgb(getComputedStyle(el).color)), b = lum(bg(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) out.push("contrast " + ratio.toFixed(2) + ": " + el.outerHTML.slice(0, 80));
  }
  return out;
})()`

// checkPage saves a screenshot of the page as name.png among the test's
// artifacts, and fails the test on what a11yProblems finds.
func checkPage(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(filepath.Join(t.ArtifactDir(), name+".png"), png, 0o644)
	}
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
	}
	for _, p := range get(t, ctx, chromedp.Evaluate[[]string](a11yProblems)) {
		t.Errorf("page %s: %s", name, p)
	}
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

func get[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
