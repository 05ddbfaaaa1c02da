package notify

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/schemas"
)

// Status decides the status of an import all of whose chunks load reported.
// An import load rejected rows of as cancelled (its file was deleted while it
// ran) is cancelled. Otherwise an import with rejected rows, or partial
// ones (a rejected value), requires intervention when it aborts on error
// (nothing is loaded), and is completed with errors when it continues; one
// with none is completed.
func Status(imp *schemas.Import, counts schemas.Counts, cancelledRows int) string {
	switch {
	case cancelledRows > 0:
		return schemas.StatusCancelled
	case imp.Aborts() && counts.Bad() > 0:
		return schemas.StatusRequiresIntervention
	case counts.Bad() > 0:
		return schemas.StatusCompletedWithErrors
	}
	return schemas.StatusCompleted
}

// statusRank versions an import's rows: a later status replaces an earlier
// one, whatever order the events arrive in.
func statusRank(status string) uint64 {
	switch status {
	case schemas.StatusReceived:
		return 1
	case schemas.StatusProcessing:
		return 2
	}
	return 3
}

// HasReport reports whether the mail of an ended import attaches the error
// report: it has rejected rows, or partial ones. A file rejected whole has
// none; its mail gives the reason instead.
func HasReport(rec ImportRecord) bool {
	return rec.Status != schemas.StatusRejected && rec.Counts.Bad() > 0
}

// What of a partner's text a mail repeats, in bytes (see schemas.Plain):
// enough to recognise a file and read why it was refused, never a letter
// of the partner's own.
const (
	maxNameInMail   = 100
	maxKeyInMail    = 300
	maxReasonInMail = 600
)

// Compose writes the mail of an ended import, all but its recipient. The
// partner's text in it (file name, key, reason) is bounded and plain. report
// is the error report of its first maxReportRows rejected rows (see
// ReportWriter), which the mail attaches when HasReport; the body says when
// the import rejected more rows than the report lists.
func Compose(rec ImportRecord, report []byte, maxReportRows int) Mail {
	var b strings.Builder
	name := schemas.Plain(cmp.Or(rec.FileName, rec.Key), maxNameInMail)
	rec.Key = schemas.Plain(rec.Key, maxKeyInMail)
	rec.Reason.Message = schemas.Plain(rec.Reason.Message, maxReasonInMail)
	if rec.Status == schemas.StatusRejected {
		fmt.Fprintf(&b, "Your file %q was not imported: %s.\n\nNo row of it was loaded. Fix the file and upload it again.\n", name, rec.Reason.Message)
		if hint := schemas.Hint(rec.Reason.Code); hint != "" {
			fmt.Fprintf(&b, "What to do: %s.\n", hint)
		}
		fmt.Fprintf(&b, "\nImport: %s\nRule: %s\n", rec.ID, rec.Reason.Code)
		return Mail{Subject: fmt.Sprintf("[sluice] %s: file rejected", name), Body: b.String()}
	}
	if rec.Status == schemas.StatusFailed {
		return composeFailed(rec, name, report, maxReportRows)
	}
	k := rec.Counts
	fmt.Fprintf(&b, "Your %s import of %q has finished: %s.\n\n", rec.Dataset, name, strings.ReplaceAll(rec.Status, "_", " "))
	loaded := k.Loaded()
	m := Mail{Subject: fmt.Sprintf("[sluice] %s: %d rows loaded, %d rejected", name, loaded, k.Rejected)}
	if k.Partial > 0 {
		m.Subject = fmt.Sprintf("[sluice] %s: %d rows loaded (%d partly), %d rejected", name, loaded, k.Partial, k.Rejected)
	}
	switch rec.Status {
	case schemas.StatusRequiresIntervention:
		fmt.Fprintf(&b, "No row was loaded: the import was set to stop on errors, and %d of its %d rows were rejected.\n", k.Bad(), k.Rows)
		fmt.Fprintf(&b, "Fix them and upload the corrected file at the same place (%s): it is imported afresh.\n\n", rec.Key)
		m.Subject = fmt.Sprintf("[sluice] %s: requires intervention, %d rows rejected, nothing loaded", name, k.Bad())
		fmt.Fprintf(&b, "Rows:      %d\nGood:      %d (not loaded)\nRejected:  %d\n", k.Rows, loaded-k.Partial, k.Bad())
	case schemas.StatusCancelled:
		fmt.Fprintf(&b, "The file was deleted while it was imported: the rows loaded before stay, the others were not loaded.\n\n")
		m.Subject = fmt.Sprintf("[sluice] %s: cancelled, %d rows loaded, %d not", name, loaded, k.Rejected)
	}
	if rec.Status != schemas.StatusRequiresIntervention {
		fmt.Fprintf(&b, "Rows:      %d\nCreated:   %d\nUpdated:   %d\nUnchanged: %d\nRejected:  %d\n", k.Rows, k.Created, k.Updated, k.Unchanged, k.Rejected)
		writeRemovals(&b, k)
		if k.Partial > 0 {
			fmt.Fprintf(&b, "Partly:    %d (rows loaded but for the values the report lists: a group's members that could not be added)\n", k.Partial)
		}
	}
	if HasReport(rec) {
		attach(&b, &m, name, report, k.Bad(), maxReportRows, "The rejected rows are listed in the attached %s: row, column, rule, value, message and how to fix it.\n")
		if rec.Status != schemas.StatusRequiresIntervention {
			b.WriteString("Fix them in your file and upload it again: the rows already loaded stay as they are.\n")
		}
	}
	fmt.Fprintf(&b, "\nImport: %s\n", rec.ID)
	m.Body = b.String()
	return m
}

// writeRemovals says, when the import removed or renamed anything, how many
// rows did and what they removed: the memberships and the groups.
func writeRemovals(b *strings.Builder, k schemas.Counts) {
	if k.Removed > 0 || k.Renamed > 0 {
		fmt.Fprintf(b, "Removed:   %d (%d memberships, %d groups removed)\nRenamed:   %d (groups renamed, with their members)\n",
			k.Removed, k.RemovedMemberships, k.RemovedGroups, k.Renamed)
	}
}

// composeFailed writes the mail of an import whose processing did not
// complete (seed 002's "Error"): what was done, what was not, and what
// happens next. rec.Counts are those of the chunks load reported; rec.Rows
// is the file's.
func composeFailed(rec ImportRecord, name string, report []byte, maxReportRows int) Mail {
	var b strings.Builder
	k := rec.Counts
	loaded := k.Loaded()
	unfinished := max(rec.Rows-loaded-k.Rejected, 0)
	fmt.Fprintf(&b, "Your %s import of %q did not complete: %s.\n\n", rec.Dataset, name, rec.Reason.Message)
	fmt.Fprintf(&b, "Rows:          %d\nLoaded:        %d\nRejected:      %d\nNot processed: %d\n\n", rec.Rows, loaded, k.Rejected, unfinished)
	b.WriteString("The rows loaded stay as they are. Once the cause is fixed, the import is resumed and you get its summary;\n" +
		"you may also upload the file again.\n")
	m := Mail{Subject: fmt.Sprintf("[sluice] %s: import failed, %d rows loaded, %d not processed", name, loaded, unfinished)}
	if HasReport(rec) {
		attach(&b, &m, name, report, k.Rejected, maxReportRows, "The rows rejected so far are listed in the attached %s.\n")
	}
	fmt.Fprintf(&b, "\nImport: %s\n", rec.ID)
	m.Body = b.String()
	return m
}

// attach attaches the error report of file name to m, and says so in b
// with intro (which names the attachment), and that the report lists only
// the first maxReportRows of the rejected rows when it does.
func attach(b *strings.Builder, m *Mail, name string, report []byte, rejected, maxReportRows int, intro string) {
	m.AttachmentName = "errors-" + strings.TrimSuffix(name, ".csv") + ".csv"
	m.Attachment = report
	b.WriteString("\n")
	fmt.Fprintf(b, intro, m.AttachmentName)
	if rejected > maxReportRows {
		fmt.Fprintf(b, "It lists the first %d of them.\n", maxReportRows)
	}
}

// mailKey is the import's key in the mailed bucket: one summary per import,
// and one more if it failed (a failed import that is replayed later gets its
// summary too).
func mailKey(rec ImportRecord) string {
	if rec.Status == schemas.StatusFailed {
		return rec.ID + "." + schemas.StatusFailed
	}
	return rec.ID
}

// Invitation writes the invitation of a user an import created.
func Invitation(rec ImportRecord, u Invitee) Mail {
	name := schemas.Plain(cmp.Or(u.FirstName, u.Login), maxNameInMail)
	return Mail{
		To:      u.Email,
		Subject: fmt.Sprintf("[sluice] You are invited to %s", rec.Tenant),
		Body: fmt.Sprintf("Hello %s,\n\nAn account was created for you at %s. Your login is %s.\n"+
			"Sign in with the password your administrator gave you; you may be asked to change it.\n", name, rec.Tenant, schemas.Plain(u.Login, maxNameInMail)),
	}
}

// Recipient is who is told of an import (To), and the uploader it was meant
// for when that is not To (Claimed). The uploader named in the object's
// metadata is told when the tenant allows mail to it; otherwise the
// tenant's contact is, and the mail names the address claimed (Address). To
// is "" when there is neither.
type Recipient struct{ To, Claimed string }

// RecipientOf finds who is told of imp, of tenant.
func RecipientOf(imp schemas.Import, tenant platform.Tenant) Recipient {
	if schemas.IsEmail(imp.Uploader) && tenant.AllowsRecipient(imp.Uploader) {
		return Recipient{To: imp.Uploader}
	}
	return Recipient{To: tenant.Contact, Claimed: imp.Uploader}
}

// Address addresses m to r.To, and says first, when the upload named
// another address, that the mail comes to the contact instead.
func (r Recipient) Address(m Mail) Mail {
	m.To = r.To
	if r.Claimed != "" {
		m.Body = fmt.Sprintf("The upload named %q to be told of this import. That address is not among those your company "+
			"lets sluice mail, so this email comes to you, the company's contact.\n\n", schemas.Plain(r.Claimed, maxNameInMail)) + m.Body
	}
	return m
}

// mailLease is how long a worker may take to finish an import before
// another takes over; it is shorter than the consumer's AckWait (30 s), so the
// redelivered event of a worker that died finds the lease lapsed.
const mailLease = 20 * time.Second

// MailState is an import's entry in bus.MailedBucket: when a worker took the
// lease to finish the import, and whether its mail went out.
type MailState struct {
	Sent bool      `json:"sent"`
	At   time.Time `json:"at"`
}

// MailAction is what a worker does with an ended import (see DecideMail).
type MailAction int

const (
	// MailSend: no worker has the import; this one took the lease and
	// sends the mail.
	MailSend MailAction = iota
	// MailLeave: another worker holds a live lease and finishes the import.
	MailLeave
	// MailTakeOver: the lease lapsed (its worker died); this one takes it
	// over and sends the mail.
	MailTakeOver
	// MailInviteOnly: the mail went out; only invitations a failed attempt
	// left may remain to send.
	MailInviteOnly
)

// DecideMail decides what a worker does with an ended import, given the
// import's stored MailState (nil when there was none and its create took the
// lease) and the time now.
func DecideMail(stored *MailState, now time.Time) MailAction {
	switch {
	case stored == nil:
		return MailSend
	case stored.Sent:
		return MailInviteOnly
	case now.Sub(stored.At) < mailLease:
		return MailLeave
	}
	return MailTakeOver
}
