package notify

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/schemas"
)

func TestStatus(t *testing.T) {
	cases := []struct {
		name      string
		onError   string
		counts    schemas.Counts
		cancelled int
		want      string
	}{
		{name: "continue, no rejected row", onError: schemas.OnErrorContinue,
			counts: schemas.Counts{Rows: 3, Created: 3}, want: schemas.StatusCompleted},
		{name: "on_error unset, no rejected row", counts: schemas.Counts{Rows: 3, Updated: 3}, want: schemas.StatusCompleted},
		{name: "abort, no rejected row", onError: schemas.OnErrorAbort,
			counts: schemas.Counts{Rows: 3, Created: 1, Unchanged: 2}, want: schemas.StatusCompleted},
		{name: "empty file", onError: schemas.OnErrorAbort, want: schemas.StatusCompleted},
		{name: "continue, rejected rows", onError: schemas.OnErrorContinue,
			counts: schemas.Counts{Rows: 3, Created: 2, Rejected: 1}, want: schemas.StatusCompletedWithErrors},
		{name: "on_error unset, rejected rows", counts: schemas.Counts{Rows: 3, Rejected: 3}, want: schemas.StatusCompletedWithErrors},
		{name: "abort, rejected rows", onError: schemas.OnErrorAbort,
			counts: schemas.Counts{Rows: 3, Created: 2, Rejected: 1}, want: schemas.StatusRequiresIntervention},
		{name: "continue, a partial row", onError: schemas.OnErrorContinue,
			counts: schemas.Counts{Rows: 3, Created: 2, Partial: 1}, want: schemas.StatusCompletedWithErrors},
		{name: "abort, a partial row: nothing is added", onError: schemas.OnErrorAbort,
			counts: schemas.Counts{Rows: 3, Created: 2, Partial: 1}, want: schemas.StatusRequiresIntervention},
		{name: "continue, cancelled rows", onError: schemas.OnErrorContinue,
			counts: schemas.Counts{Rows: 3, Created: 1, Rejected: 2}, cancelled: 2, want: schemas.StatusCancelled},
		{name: "abort, cancelled rows", onError: schemas.OnErrorAbort,
			counts: schemas.Counts{Rows: 3, Rejected: 3}, cancelled: 1, want: schemas.StatusCancelled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			imp := &schemas.Import{ID: "imp-1", Tenant: "acme", Dataset: "clients", OnError: tc.onError}
			if got := Status(imp, tc.counts, tc.cancelled); got != tc.want {
				t.Errorf("Status(on_error %q, %+v, %d cancelled) = %q, want %q", tc.onError, tc.counts, tc.cancelled, got, tc.want)
			}
		})
	}
}

func TestStatusRank(t *testing.T) {
	cases := []struct {
		status string
		want   uint64
	}{
		{status: schemas.StatusReceived, want: 1},
		{status: schemas.StatusProcessing, want: 2},
		{status: schemas.StatusCompleted, want: 3},
		{status: schemas.StatusCompletedWithErrors, want: 3},
		{status: schemas.StatusRequiresIntervention, want: 3},
		{status: schemas.StatusCancelled, want: 3},
		{status: schemas.StatusRejected, want: 3},
	}
	for _, tc := range cases {
		t.Run(tc.status, func(t *testing.T) {
			if got := statusRank(tc.status); got != tc.want {
				t.Errorf("statusRank(%q) = %d, want %d", tc.status, got, tc.want)
			}
		})
	}
}

func TestHasReport(t *testing.T) {
	cases := []struct {
		name     string
		status   string
		rejected int
		want     bool
	}{
		{name: "completed", status: schemas.StatusCompleted, want: false},
		{name: "completed with errors", status: schemas.StatusCompletedWithErrors, rejected: 1, want: true},
		{name: "requires intervention", status: schemas.StatusRequiresIntervention, rejected: 2, want: true},
		{name: "cancelled", status: schemas.StatusCancelled, rejected: 3, want: true},
		{name: "cancelled with no rejected row", status: schemas.StatusCancelled, want: false},
		{name: "file rejected whole", status: schemas.StatusRejected, want: false},
		{name: "file rejected whole, rejected rows counted", status: schemas.StatusRejected, rejected: 4, want: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := ImportRecord{Status: tc.status, Counts: schemas.Counts{Rejected: tc.rejected}}
			if got := HasReport(rec); got != tc.want {
				t.Errorf("HasReport(status %q, %d rejected) = %t, want %t", tc.status, tc.rejected, got, tc.want)
			}
		})
	}
}

func TestCompose(t *testing.T) {
	report := []byte("row,column,rule,value,message\n3,email,format,john.doe,the entered value does not match the format\n")
	rec := func(status, fileName string, k schemas.Counts) ImportRecord {
		return ImportRecord{
			Import: schemas.Import{ID: "imp-1", Tenant: "acme", Dataset: "clients", Key: "acme/clients/june.csv", FileName: fileName},
			Status: status, Counts: k,
		}
	}
	rejected := rec(schemas.StatusRejected, "june.csv", schemas.Counts{})
	rejected.Reason = schemas.Violation{Code: "missing_column", Message: "the column email is missing"}
	rejectedCounted := rejected
	rejectedCounted.Counts.Rejected = 2

	const (
		cwe = "Your clients import of \"june.csv\" has finished: completed with errors.\n\n" +
			"Rows:      12\nCreated:   4\nUpdated:   3\nUnchanged: 3\nRejected:  2\n\n" +
			"The rejected rows are listed in the attached errors-june.csv: row, column, rule, value, message and how to fix it.\n"
		cweFix = "Fix them in your file and upload it again: the rows already loaded stay as they are.\n\nImport: imp-1\n"
		ri     = "Your clients import of \"june.csv\" has finished: requires intervention.\n\n" +
			"No row was loaded: the import was set to stop on errors, and 2 of its 12 rows were rejected.\n" +
			"Fix them and upload the corrected file at the same place (acme/clients/june.csv): it is imported afresh.\n\n" +
			"Rows:      12\nGood:      10 (not loaded)\nRejected:  2\n\n" +
			"The rejected rows are listed in the attached errors-june.csv: row, column, rule, value, message and how to fix it.\n"
	)
	withErrors := schemas.Counts{Rows: 12, Created: 4, Updated: 3, Unchanged: 3, Rejected: 2}
	failed := func(k schemas.Counts) ImportRecord {
		r := rec(schemas.StatusFailed, "june.csv", k)
		r.Rows, r.Reason = 12, schemas.Violation{Code: schemas.CodeFailed, Message: schemas.MsgFailed("load")}
		return r
	}
	cases := []struct {
		name          string
		rec           ImportRecord
		maxReportRows int
		want          Mail
	}{
		{name: "completed", maxReportRows: 100,
			rec: rec(schemas.StatusCompleted, "june.csv", schemas.Counts{Rows: 10, Created: 4, Updated: 3, Unchanged: 3}),
			want: Mail{Subject: "[sluice] june.csv: 10 rows loaded, 0 rejected",
				Body: "Your clients import of \"june.csv\" has finished: completed.\n\n" +
					"Rows:      10\nCreated:   4\nUpdated:   3\nUnchanged: 3\nRejected:  0\n\nImport: imp-1\n"}},
		{name: "completed, removals and a rename", maxReportRows: 100,
			rec: rec(schemas.StatusCompleted, "june.csv", schemas.Counts{Rows: 4, Unchanged: 1, Removed: 2, Renamed: 1, RemovedMemberships: 5, RemovedGroups: 1}),
			want: Mail{Subject: "[sluice] june.csv: 4 rows loaded, 0 rejected",
				Body: "Your clients import of \"june.csv\" has finished: completed.\n\n" +
					"Rows:      4\nCreated:   0\nUpdated:   0\nUnchanged: 1\nRejected:  0\n" +
					"Removed:   2 (5 memberships, 1 groups removed)\nRenamed:   1 (groups renamed, with their members)\n\nImport: imp-1\n"}},
		{name: "completed with errors, a partial row", maxReportRows: 100,
			rec: rec(schemas.StatusCompletedWithErrors, "june.csv", schemas.Counts{Rows: 3, Created: 2, Partial: 1}),
			want: Mail{Subject: "[sluice] june.csv: 3 rows loaded (1 partly), 0 rejected",
				Body: "Your clients import of \"june.csv\" has finished: completed with errors.\n\n" +
					"Rows:      3\nCreated:   2\nUpdated:   0\nUnchanged: 0\nRejected:  0\n" +
					"Partly:    1 (rows loaded but for the values the report lists: a group's members that could not be added)\n\n" +
					"The rejected rows are listed in the attached errors-june.csv: row, column, rule, value, message and how to fix it.\n" + cweFix,
				AttachmentName: "errors-june.csv", Attachment: report}},
		{name: "completed, no file name: the key", maxReportRows: 100,
			rec: rec(schemas.StatusCompleted, "", schemas.Counts{Rows: 1, Unchanged: 1}),
			want: Mail{Subject: "[sluice] acme/clients/june.csv: 1 rows loaded, 0 rejected",
				Body: "Your clients import of \"acme/clients/june.csv\" has finished: completed.\n\n" +
					"Rows:      1\nCreated:   0\nUpdated:   0\nUnchanged: 1\nRejected:  0\n\nImport: imp-1\n"}},
		{name: "completed with errors", maxReportRows: 100, rec: rec(schemas.StatusCompletedWithErrors, "june.csv", withErrors),
			want: Mail{Subject: "[sluice] june.csv: 10 rows loaded, 2 rejected", Body: cwe + cweFix,
				AttachmentName: "errors-june.csv", Attachment: report}},
		{name: "completed with errors, report lists them all", maxReportRows: 2, rec: rec(schemas.StatusCompletedWithErrors, "june.csv", withErrors),
			want: Mail{Subject: "[sluice] june.csv: 10 rows loaded, 2 rejected", Body: cwe + cweFix,
				AttachmentName: "errors-june.csv", Attachment: report}},
		{name: "completed with errors, report truncated", maxReportRows: 1, rec: rec(schemas.StatusCompletedWithErrors, "june.csv", withErrors),
			want: Mail{Subject: "[sluice] june.csv: 10 rows loaded, 2 rejected", Body: cwe + "It lists the first 1 of them.\n" + cweFix,
				AttachmentName: "errors-june.csv", Attachment: report}},
		{name: "completed with errors, a TXT file", maxReportRows: 100,
			rec: rec(schemas.StatusCompletedWithErrors, "june.txt", schemas.Counts{Rows: 3, Created: 2, Rejected: 1}),
			want: Mail{Subject: "[sluice] june.txt: 2 rows loaded, 1 rejected",
				Body: "Your clients import of \"june.txt\" has finished: completed with errors.\n\n" +
					"Rows:      3\nCreated:   2\nUpdated:   0\nUnchanged: 0\nRejected:  1\n\n" +
					"The rejected rows are listed in the attached errors-june.txt.csv: row, column, rule, value, message and how to fix it.\n" + cweFix,
				AttachmentName: "errors-june.txt.csv", Attachment: report}},
		{name: "requires intervention", maxReportRows: 100, rec: rec(schemas.StatusRequiresIntervention, "june.csv", withErrors),
			want: Mail{Subject: "[sluice] june.csv: requires intervention, 2 rows rejected, nothing loaded", Body: ri + "\nImport: imp-1\n",
				AttachmentName: "errors-june.csv", Attachment: report}},
		{name: "requires intervention, report truncated", maxReportRows: 1, rec: rec(schemas.StatusRequiresIntervention, "june.csv", withErrors),
			want: Mail{Subject: "[sluice] june.csv: requires intervention, 2 rows rejected, nothing loaded",
				Body:           ri + "It lists the first 1 of them.\n\nImport: imp-1\n",
				AttachmentName: "errors-june.csv", Attachment: report}},
		{name: "cancelled", maxReportRows: 100,
			rec: rec(schemas.StatusCancelled, "june.csv", schemas.Counts{Rows: 12, Created: 4, Rejected: 8}),
			want: Mail{Subject: "[sluice] june.csv: cancelled, 4 rows loaded, 8 not",
				Body: "Your clients import of \"june.csv\" has finished: cancelled.\n\n" +
					"The file was deleted while it was imported: the rows loaded before stay, the others were not loaded.\n\n" +
					"Rows:      12\nCreated:   4\nUpdated:   0\nUnchanged: 0\nRejected:  8\n\n" +
					"The rejected rows are listed in the attached errors-june.csv: row, column, rule, value, message and how to fix it.\n" + cweFix,
				AttachmentName: "errors-june.csv", Attachment: report}},
		{name: "file rejected whole", maxReportRows: 100, rec: rejected,
			want: Mail{Subject: "[sluice] june.csv: file rejected",
				Body: "Your file \"june.csv\" was not imported: the column email is missing.\n\n" +
					"No row of it was loaded. Fix the file and upload it again.\nWhat to do: add the column: use the template's headers.\n\nImport: imp-1\nRule: missing_column\n"}},
		{name: "file rejected whole, rejected rows counted: no report", maxReportRows: 1, rec: rejectedCounted,
			want: Mail{Subject: "[sluice] june.csv: file rejected",
				Body: "Your file \"june.csv\" was not imported: the column email is missing.\n\n" +
					"No row of it was loaded. Fix the file and upload it again.\nWhat to do: add the column: use the template's headers.\n\nImport: imp-1\nRule: missing_column\n"}},
		{name: "failed, with rows rejected so far", maxReportRows: 100,
			rec: failed(schemas.Counts{Rows: 10, Created: 6, Unchanged: 2, Rejected: 2}),
			want: Mail{Subject: "[sluice] june.csv: import failed, 8 rows loaded, 2 not processed",
				Body: "Your clients import of \"june.csv\" did not complete: " + schemas.MsgFailed("load") + ".\n\n" +
					"Rows:          12\nLoaded:        8\nRejected:      2\nNot processed: 2\n\n" +
					"The rows loaded stay as they are. Once the cause is fixed, the import is resumed and you get its summary;\n" +
					"you may also upload the file again.\n\n" +
					"The rows rejected so far are listed in the attached errors-june.csv.\n\nImport: imp-1\n",
				AttachmentName: "errors-june.csv", Attachment: report}},
		{name: "failed before any chunk was reported", maxReportRows: 100,
			rec: failed(schemas.Counts{}),
			want: Mail{Subject: "[sluice] june.csv: import failed, 0 rows loaded, 12 not processed",
				Body: "Your clients import of \"june.csv\" did not complete: " + schemas.MsgFailed("load") + ".\n\n" +
					"Rows:          12\nLoaded:        0\nRejected:      0\nNot processed: 12\n\n" +
					"The rows loaded stay as they are. Once the cause is fixed, the import is resumed and you get its summary;\n" +
					"you may also upload the file again.\n\nImport: imp-1\n"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Compose(tc.rec, report, tc.maxReportRows)
			if got.To != "" {
				t.Errorf("To = %q, want none (the caller sets it)", got.To)
			}
			if got.Subject != tc.want.Subject {
				t.Errorf("Subject = %q, want %q", got.Subject, tc.want.Subject)
			}
			if got.Body != tc.want.Body {
				t.Errorf("Body =\n%s\nwant\n%s", got.Body, tc.want.Body)
			}
			if got.AttachmentName != tc.want.AttachmentName {
				t.Errorf("AttachmentName = %q, want %q", got.AttachmentName, tc.want.AttachmentName)
			}
			if !bytes.Equal(got.Attachment, tc.want.Attachment) {
				t.Errorf("Attachment = %q, want %q", got.Attachment, tc.want.Attachment)
			}
		})
	}
}

func TestInvitation(t *testing.T) {
	rec := ImportRecord{Import: schemas.Import{ID: "imp-1", Tenant: "acme", Dataset: schemas.Users.Name}}
	body := func(name, login string) string {
		return "Hello " + name + ",\n\nAn account was created for you at acme. Your login is " + login + ".\n" +
			"Sign in with the password your administrator gave you; you may be asked to change it.\n"
	}
	cases := []struct {
		name string
		user Invitee
		want Mail
	}{
		{name: "first name", user: Invitee{Login: "jdoe", Email: "john@acme.example", FirstName: "John"},
			want: Mail{To: "john@acme.example", Subject: "[sluice] You are invited to acme", Body: body("John", "jdoe")}},
		{name: "no first name: the login", user: Invitee{Login: "jdoe", Email: "john@acme.example"},
			want: Mail{To: "john@acme.example", Subject: "[sluice] You are invited to acme", Body: body("jdoe", "jdoe")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Invitation(rec, tc.user)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Invitation(%+v) =\n %+v\nwant\n %+v", tc.user, got, tc.want)
			}
		})
	}
}

func TestDecideMail(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	names := map[MailAction]string{MailSend: "send", MailLeave: "leave", MailTakeOver: "take over", MailInviteOnly: "invite only"}
	cases := []struct {
		name   string
		stored *MailState
		want   MailAction
	}{
		{name: "no entry: the create took the lease", want: MailSend},
		{name: "lease just taken", stored: &MailState{At: now}, want: MailLeave},
		{name: "lease 19.999 s old", stored: &MailState{At: now.Add(-20*time.Second + time.Millisecond)}, want: MailLeave},
		{name: "lease 20 s old: lapsed", stored: &MailState{At: now.Add(-20 * time.Second)}, want: MailTakeOver},
		{name: "lease an hour old", stored: &MailState{At: now.Add(-time.Hour)}, want: MailTakeOver},
		{name: "lease from a clock ahead", stored: &MailState{At: now.Add(time.Minute)}, want: MailLeave},
		{name: "sent just now", stored: &MailState{Sent: true, At: now}, want: MailInviteOnly},
		{name: "sent long ago", stored: &MailState{Sent: true, At: now.Add(-time.Hour)}, want: MailInviteOnly},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := DecideMail(tc.stored, now); got != tc.want {
				t.Errorf("DecideMail(%+v, now) = %s, want %s", tc.stored, names[got], names[tc.want])
			}
		})
	}
}

// TestMailStateJSON pins the entry's encoding: entries written by a running
// instance must read the same after an upgrade.
func TestMailStateJSON(t *testing.T) {
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		state MailState
		want  string
	}{
		{name: "lease", state: MailState{At: at}, want: `{"sent":false,"at":"2025-06-01T12:00:00Z"}`},
		{name: "sent", state: MailState{Sent: true, At: at}, want: `{"sent":true,"at":"2025-06-01T12:00:00Z"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(tc.state)
			if err != nil {
				t.Fatalf("Marshal(%+v): %v", tc.state, err)
			}
			if string(got) != tc.want {
				t.Errorf("Marshal(%+v) = %s, want %s", tc.state, got, tc.want)
			}
		})
	}
}

func TestMailKey(t *testing.T) {
	for _, tc := range []struct{ status, want string }{
		{schemas.StatusCompleted, "imp-1"},
		{schemas.StatusRejected, "imp-1"},
		{schemas.StatusFailed, "imp-1.failed"},
	} {
		if got := mailKey(ImportRecord{Import: schemas.Import{ID: "imp-1"}, Status: tc.status}); got != tc.want {
			t.Errorf("mailKey(%s) = %q, want %q", tc.status, got, tc.want)
		}
	}
}

// TestComposeBoundsPartnerText: a file name and a reason made to carry a
// letter (line breaks, characters that reorder text, a megabyte of it)
// reach the mail's subject and body bounded and plain.
func TestComposeBoundsPartnerText(t *testing.T) {
	letter := "Dear customer,\r\nyour account is locked: call +1 555 0100 now.\u202e" + strings.Repeat("Pay at evil.example. ", 50000)
	for _, status := range []string{schemas.StatusRejected, schemas.StatusCompletedWithErrors, schemas.StatusFailed} {
		rec := ImportRecord{
			Import: schemas.Import{ID: "imp-1", Tenant: "acme", Dataset: "clients", Key: "acme/clients/" + letter, FileName: letter},
			Status: status, Counts: schemas.Counts{Rows: 2, Created: 1, Rejected: 1},
			Reason: schemas.Violation{Code: schemas.CodeUnknownColumn, Message: "the file has an unknown column: " + letter},
		}
		m := Compose(rec, []byte("report"), 10)
		for what, text := range map[string]string{"subject": m.Subject, "body": m.Body, "attachment name": m.AttachmentName} {
			if strings.ContainsAny(text, "\r\u202e") || strings.Contains(text, "Dear customer,\n") {
				t.Errorf("%s: the %s carries the partner's line breaks or controls: %q", status, what, text[:min(len(text), 200)])
			}
		}
		if len(m.Subject) > 200 {
			t.Errorf("%s: subject of %d bytes, want at most 200", status, len(m.Subject))
		}
		if len(m.Body) > 3000 {
			t.Errorf("%s: body of %d bytes, want at most 3000", status, len(m.Body))
		}
		if !strings.Contains(m.Subject, "Dear customer") {
			t.Errorf("%s: subject %q does not name the file", status, m.Subject)
		}
	}
}
