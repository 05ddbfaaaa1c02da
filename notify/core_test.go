package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
		status, resumed string
		want            uint64
	}{
		{status: schemas.StatusReceived, want: 1},
		{status: schemas.StatusProcessing, want: 2},
		{status: schemas.StatusCompleted, want: 3},
		{status: schemas.StatusCompletedWithErrors, want: 3},
		{status: schemas.StatusRequiresIntervention, want: 3},
		{status: schemas.StatusCancelled, want: 3},
		{status: schemas.StatusRejected, want: 3},
		{status: schemas.StatusPreviewed, want: 3},
		// Confirmed: it replaces the preview; continued: it replaces the
		// requires_intervention it ended in, a confirmed one's too.
		{status: schemas.StatusRequiresIntervention, resumed: schemas.EventConfirm, want: 4},
		{status: schemas.StatusCompletedWithErrors, resumed: schemas.EventContinue, want: 5},
	}
	for _, tc := range cases {
		t.Run(tc.status+" "+tc.resumed, func(t *testing.T) {
			rec := ImportRecord{Status: tc.status, Resumed: tc.resumed}
			if got := statusRank(rec); got != tc.want {
				t.Errorf("statusRank(%q, resumed %q) = %d, want %d", tc.status, tc.resumed, got, tc.want)
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
			"Fix them and upload the corrected file at the same place (acme/clients/june.csv): it is imported afresh.\n" +
			"Or have the import continued (sluice continue imp-1): its good rows are loaded, the rejected ones are left out.\n\n" +
			"Rows:      12\nGood:      10 (not loaded)\nRejected:  2\n\n" +
			"The rejected rows are listed in the attached errors-june.csv: row, column, rule, value, message and how to fix it.\n"
	)
	withErrors := schemas.Counts{Rows: 12, Created: 4, Updated: 3, Unchanged: 3, Rejected: 2}
	continued := rec(schemas.StatusCompletedWithErrors, "june.csv", withErrors)
	continued.OnError, continued.Resumed = schemas.OnErrorAbort, schemas.EventContinue
	previewed := rec(schemas.StatusPreviewed, "june.csv", withErrors)
	previewed.Preview = true
	previewedAborts := previewed
	previewedAborts.OnError = schemas.OnErrorAbort
	previewedClean := rec(schemas.StatusPreviewed, "june.csv", schemas.Counts{Rows: 2, Created: 2})
	confirmed := rec(schemas.StatusCompleted, "june.csv", schemas.Counts{Rows: 2, Created: 2})
	confirmed.Preview, confirmed.Resumed = true, schemas.EventConfirm
	failed := func(k schemas.Counts) ImportRecord {
		r := rec(schemas.StatusFailed, "june.csv", k)
		r.Rows, r.Reason = 12, schemas.Violation{Code: schemas.CodeFailed, Message: schemas.MsgFailed("load")}
		return r
	}
	cancelledPreview := rec(schemas.StatusCancelled, "june.csv", schemas.Counts{Rows: 12, Created: 4, Rejected: 8})
	cancelledPreview.Preview = true
	synced := rec(schemas.StatusCompleted, "june.csv", schemas.Counts{Rows: 2, Unchanged: 2})
	synced.Mode, synced.Deactivated, synced.DeactivatedKeys = schemas.ModeSync, 3, []string{"ann@acme.example", "bob@acme.example"}
	refused := rec(schemas.StatusCompleted, "june.csv", schemas.Counts{Rows: 2, Unchanged: 2})
	refused.Mode, refused.Reason = schemas.ModeSync, schemas.Violation{Code: schemas.CodeSyncLimit, Message: schemas.MsgSyncLimit(8, 10, 10)}
	cases := []struct {
		name          string
		rec           ImportRecord
		maxReportRows int
		want          Mail
	}{
		{name: "sync", maxReportRows: 100, rec: synced,
			want: Mail{Subject: "[sluice] june.csv: 2 rows loaded, 0 rejected, 3 deactivated",
				Body: "Your clients import of \"june.csv\" has finished: completed.\n\n" +
					"Rows:      2\nCreated:   0\nUpdated:   0\nUnchanged: 2\nRejected:  0\n" +
					"Deactivated: 3 (records of yours that the file leaves out)\n\n" +
					"The records deactivated:\n  ann@acme.example\n  bob@acme.example\n  and 1 more\n\nImport: imp-1\n"}},
		{name: "sync over the limit", maxReportRows: 100, rec: refused,
			want: Mail{Subject: "[sluice] june.csv: 2 rows loaded, 0 rejected, nothing deactivated (over the limit)",
				Body: "Your clients import of \"june.csv\" has finished: completed.\n\n" +
					"Rows:      2\nCreated:   0\nUpdated:   0\nUnchanged: 2\nRejected:  0\n" +
					"Deactivated: 0 (records of yours that the file leaves out)\n\n" +
					"Note: nothing was deactivated: the file leaves out 8 of your 10 active records, more than the limit of 10%.\n" +
					"What to do: check that the file holds every record; if it does, upload it again with X-Amz-Meta-Force: true.\n\nImport: imp-1\n"}},
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
		{name: "continued", maxReportRows: 100, rec: continued,
			want: Mail{Subject: "[sluice] june.csv: 10 rows loaded, 2 rejected",
				Body: "Your clients import of \"june.csv\" has finished: completed with errors.\n\n" +
					"It was continued: the good rows it had held back are loaded now, the rejected ones are not.\n\n" +
					"Rows:      12\nCreated:   4\nUpdated:   3\nUnchanged: 3\nRejected:  2\n\n" +
					"The rejected rows are listed in the attached errors-june.csv: row, column, rule, value, message and how to fix it.\n" + cweFix,
				AttachmentName: "errors-june.csv", Attachment: report}},
		{name: "previewed", maxReportRows: 100, rec: previewed,
			want: Mail{Subject: "[sluice] june.csv: preview, 10 rows would be loaded, 2 rejected",
				Body: "Your clients import of \"june.csv\" was previewed: nothing was loaded.\n\nConfirmed as it is, it would do this:\n\n" +
					"Rows:                12\nWould be created:    4\nWould be updated:    3\nWould be unchanged:  3\nWould be rejected:   2\n\n" +
					"To import it as previewed, have it confirmed (sluice confirm imp-1): the file is not read again.\n" +
					"To change it, fix the file and upload it again. A preview never confirmed is deleted once personal data expires.\n\n" +
					"The rows that would be rejected are listed in the attached errors-june.csv: row, column, rule, value, message and how to fix it.\n\nImport: imp-1\n",
				AttachmentName: "errors-june.csv", Attachment: report}},
		{name: "previewed, aborts on error", maxReportRows: 100, rec: previewedAborts,
			want: Mail{Subject: "[sluice] june.csv: preview, 10 rows would be loaded, 2 rejected",
				Body: "Your clients import of \"june.csv\" was previewed: nothing was loaded.\n\nConfirmed as it is, it would do this:\n\n" +
					"Rows:                12\nWould be created:    4\nWould be updated:    3\nWould be unchanged:  3\nWould be rejected:   2\n\n" +
					"It is set to stop on errors: confirmed as it is, it would load nothing and require intervention.\n" +
					"To import it as previewed, have it confirmed (sluice confirm imp-1): the file is not read again.\n" +
					"To change it, fix the file and upload it again. A preview never confirmed is deleted once personal data expires.\n\n" +
					"The rows that would be rejected are listed in the attached errors-june.csv: row, column, rule, value, message and how to fix it.\n\nImport: imp-1\n",
				AttachmentName: "errors-june.csv", Attachment: report}},
		{name: "previewed, clean", maxReportRows: 100, rec: previewedClean,
			want: Mail{Subject: "[sluice] june.csv: preview, 2 rows would be loaded, 0 rejected",
				Body: "Your clients import of \"june.csv\" was previewed: nothing was loaded.\n\nConfirmed as it is, it would do this:\n\n" +
					"Rows:                2\nWould be created:    2\nWould be updated:    0\nWould be unchanged:  0\nWould be rejected:   0\n\n" +
					"To import it as previewed, have it confirmed (sluice confirm imp-1): the file is not read again.\n" +
					"To change it, fix the file and upload it again. A preview never confirmed is deleted once personal data expires.\n\nImport: imp-1\n"}},
		{name: "confirmed", maxReportRows: 100, rec: confirmed,
			want: Mail{Subject: "[sluice] june.csv: 2 rows loaded, 0 rejected",
				Body: "Your clients import of \"june.csv\" has finished: completed.\n\n" +
					"It was confirmed after its preview: its rows are imported as the preview said, without reading the file again.\n\n" +
					"Rows:      2\nCreated:   2\nUpdated:   0\nUnchanged: 0\nRejected:  0\n\nImport: imp-1\n"}},
		{name: "cancelled", maxReportRows: 100,
			rec: rec(schemas.StatusCancelled, "june.csv", schemas.Counts{Rows: 12, Created: 4, Rejected: 8}),
			want: Mail{Subject: "[sluice] june.csv: cancelled, 4 rows loaded, 8 not",
				Body: "Your clients import of \"june.csv\" has finished: cancelled.\n\n" +
					"The import was stopped while it ran (its file was deleted, or it was cancelled): the rows loaded before stay, the others were not loaded.\n\n" +
					"Rows:      12\nCreated:   4\nUpdated:   0\nUnchanged: 0\nRejected:  8\n\n" +
					"The rejected rows are listed in the attached errors-june.csv: row, column, rule, value, message and how to fix it.\n" + cweFix,
				AttachmentName: "errors-june.csv", Attachment: report}},
		{name: "cancelled preview", maxReportRows: 100, rec: cancelledPreview,
			want: Mail{Subject: "[sluice] june.csv: preview cancelled, nothing loaded",
				Body: "Your clients import of \"june.csv\" has finished: cancelled.\n\n" +
					"The preview was stopped while it ran (its file was deleted, or it was cancelled): nothing was loaded, and it cannot be confirmed.\n\n" +
					"Rows:      12\nCreated:   4\nUpdated:   0\nUnchanged: 0\nRejected:  8\n\n" +
					"The rejected rows are listed in the attached errors-june.csv: row, column, rule, value, message and how to fix it.\n" +
					"\nImport: imp-1\n",
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
		link *InviteLink
		want Mail
	}{
		{name: "first name", user: Invitee{Login: "jdoe", Email: "john@acme.example", FirstName: "John"},
			want: Mail{To: "john@acme.example", Subject: "[sluice] You are invited to acme", Body: body("John", "jdoe")}},
		{name: "no first name: the login", user: Invitee{Login: "jdoe", Email: "john@acme.example"},
			want: Mail{To: "john@acme.example", Subject: "[sluice] You are invited to acme", Body: body("jdoe", "jdoe")}},
		{name: "no password: a link and the command", user: Invitee{Login: "ann@acme.example", Email: "ann@acme.example", FirstName: "Ann", Status: "pending"},
			link: &InviteLink{Console: "https://console.acme.example/", Token: "tok_EN-1", Expires: time.Date(2026, 12, 6, 17, 30, 59, 0, time.UTC)},
			want: Mail{To: "ann@acme.example", Subject: "[sluice] You are invited to acme",
				Body: "Hello Ann,\n\nAn account was created for you at acme. Your login is ann@acme.example.\n" +
					"Set your password to sign in. Either open this link:\n\n  https://console.acme.example/invite/tok_EN-1\n\n" +
					"or run this command, which asks for the password:\n\n  sluice invite accept tok_EN-1\n\n" +
					"Either works once, until 2026-12-06 17:30 UTC.\n"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Invitation(rec, tc.user, tc.link)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Invitation(%+v) =\n %+v\nwant\n %+v", tc.user, got, tc.want)
			}
		})
	}
}

func TestNotInvited(t *testing.T) {
	if got := NotInvited(nil); got != "" {
		t.Errorf("NotInvited(nil) = %q, want none", got)
	}
	got := NotInvited([]Invitee{{Login: "olga@elsewhere.example"}, {Login: "pat@elsewhere.example"}})
	want := "\n2 new users were not invited: your company does not let sluice mail their addresses (olga@elsewhere.example, pat@elsewhere.example).\n" +
		"A user without a password stays pending until they have one: upload them again with a password and status active.\n"
	if got != want {
		t.Errorf("NotInvited =\n%q\nwant\n%q", got, want)
	}
	if got := NotInvited([]Invitee{{Login: "olga"}}); !strings.HasPrefix(got, "\n1 new user was not invited: your company does not let sluice mail the address (olga).\n") {
		t.Errorf("NotInvited of one = %q", got)
	}
	many := make([]Invitee, maxNotInvitedListed+3)
	for i := range many {
		many[i].Login = fmt.Sprintf("u%d", i)
	}
	if got := NotInvited(many); !strings.Contains(got, ", u19 and 3 more).") || strings.Contains(got, "u20") {
		t.Errorf("NotInvited of %d users = %q, want %d named and 3 more", len(many), got, maxNotInvitedListed)
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
	for _, tc := range []struct{ status, resumed, want string }{
		{schemas.StatusCompleted, "", "imp-1"},
		{schemas.StatusRejected, "", "imp-1"},
		{schemas.StatusRequiresIntervention, "", "imp-1"},
		{schemas.StatusFailed, "", "imp-1.failed"},
		// Continued: a summary of its own.
		{schemas.StatusCompletedWithErrors, schemas.EventContinue, "imp-1.continue"},
		{schemas.StatusPreviewed, "", "imp-1"},
		{schemas.StatusCompleted, schemas.EventConfirm, "imp-1.confirm"},
	} {
		if got := mailKey(ImportRecord{Import: schemas.Import{ID: "imp-1"}, Status: tc.status, Resumed: tc.resumed}); got != tc.want {
			t.Errorf("mailKey(%s, resumed %q) = %q, want %q", tc.status, tc.resumed, got, tc.want)
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

func TestResume(t *testing.T) {
	held := schemas.Counts{Rows: 4, Created: 2, Unchanged: 1, Rejected: 1}
	rec := func(status, onError, resumed string, k schemas.Counts) ImportRecord {
		return ImportRecord{Import: schemas.Import{ID: "imp-1", Dataset: "clients", OnError: onError},
			Status: status, Resumed: resumed, Counts: k}
	}
	const abort, cont = schemas.OnErrorAbort, schemas.OnErrorContinue
	staged := Held{Staged: 2}
	cases := []struct {
		name  string
		event string
		rec   ImportRecord
		held  Held
		want  string
		// refusal is what the refusal says; "" when it is not refused.
		refusal string
	}{
		{name: "continue: its good rows load", event: schemas.EventContinue,
			rec: rec(schemas.StatusRequiresIntervention, abort, "", held), held: staged, want: schemas.StatusCompletedWithErrors},
		{name: "continue, every good row unchanged: nothing staged, nothing lost", event: schemas.EventContinue,
			rec: rec(schemas.StatusRequiresIntervention, abort, "", schemas.Counts{Rows: 2, Unchanged: 1, Rejected: 1}), want: schemas.StatusCompletedWithErrors},
		{name: "continue a confirmed preview that requires intervention", event: schemas.EventContinue,
			rec: rec(schemas.StatusRequiresIntervention, abort, schemas.EventConfirm, held), held: staged, want: schemas.StatusCompletedWithErrors},
		{name: "continued already", event: schemas.EventContinue,
			rec: rec(schemas.StatusCompletedWithErrors, abort, schemas.EventContinue, held), held: staged,
			refusal: "import imp-1 was continued already: it is completed with errors"},
		{name: "continue a completed import", event: schemas.EventContinue, rec: rec(schemas.StatusCompleted, cont, "", schemas.Counts{Rows: 1, Created: 1}),
			refusal: "import imp-1 is completed: only an import that requires intervention can be continued"},
		{name: "continue an import still processing", event: schemas.EventContinue, rec: rec(schemas.StatusProcessing, abort, "", schemas.Counts{}),
			refusal: "import imp-1 is processing: only an import that requires intervention can be continued"},
		{name: "continue a failed import", event: schemas.EventContinue, rec: rec(schemas.StatusFailed, abort, "", held), held: staged,
			refusal: "import imp-1 is failed: only an import that requires intervention can be continued"},
		{name: "continue a preview", event: schemas.EventContinue, rec: rec(schemas.StatusPreviewed, abort, "", held), held: staged,
			refusal: "import imp-1 is previewed: only an import that requires intervention can be continued"},
		{name: "continue: its staged records expired", event: schemas.EventContinue, rec: rec(schemas.StatusRequiresIntervention, abort, "", held),
			refusal: "import imp-1 held its rows back longer than personal data is kept (SLUICE_PERSONAL_DATA_TTL): they were deleted; upload the file again"},
		{name: "continue: records changed since", event: schemas.EventContinue, rec: rec(schemas.StatusRequiresIntervention, abort, "", held),
			held:    Held{Staged: 2, Changed: 1},
			refusal: "import imp-1: 1 of the records it would write were changed by a later upload since it was decided; upload the file again to decide it afresh"},
		{name: "confirm a clean preview", event: schemas.EventConfirm, rec: rec(schemas.StatusPreviewed, cont, "", schemas.Counts{Rows: 2, Created: 2}),
			held: staged, want: schemas.StatusCompleted},
		{name: "confirm a preview with rejected rows", event: schemas.EventConfirm, rec: rec(schemas.StatusPreviewed, cont, "", held),
			held: staged, want: schemas.StatusCompletedWithErrors},
		{name: "confirm a preview that aborts on error, with rejected rows", event: schemas.EventConfirm,
			rec: rec(schemas.StatusPreviewed, abort, "", held), held: staged, want: schemas.StatusRequiresIntervention},
		{name: "confirmed already", event: schemas.EventConfirm, rec: rec(schemas.StatusCompleted, cont, schemas.EventConfirm, held), held: staged,
			refusal: "import imp-1 was confirmed already: it is completed"},
		{name: "confirm an import that was no preview", event: schemas.EventConfirm, rec: rec(schemas.StatusCompleted, cont, "", held),
			refusal: "import imp-1 is completed: only a previewed import can be confirmed"},
		{name: "confirm: records changed since the preview", event: schemas.EventConfirm, rec: rec(schemas.StatusPreviewed, cont, "", held),
			held:    Held{Staged: 2, Changed: 2},
			refusal: "import imp-1: 2 of the records it would write were changed by a later upload since it was decided; upload the file again to decide it afresh"},
		{name: "confirm: its preview expired", event: schemas.EventConfirm, rec: rec(schemas.StatusPreviewed, cont, "", held),
			refusal: "import imp-1 held its rows back longer than personal data is kept (SLUICE_PERSONAL_DATA_TTL): they were deleted; upload the file again"},
		{name: "not an operator's event", event: schemas.EventCompleted, rec: rec(schemas.StatusRequiresIntervention, abort, "", held), held: staged,
			refusal: `"completed" is not an operator's event`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Resume(tc.event, tc.rec, tc.held)
			if tc.refusal == "" {
				if err != nil || got != tc.want {
					t.Errorf("Resume = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if !errors.Is(err, ErrNotResumable) || !strings.HasSuffix(err.Error(), tc.refusal) || got != "" {
				t.Errorf("Resume = %q, %v; want a refusal that says %q", got, err, tc.refusal)
			}
		})
	}
}
