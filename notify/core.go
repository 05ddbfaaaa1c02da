package notify

import (
	"cmp"
	"errors"
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
// one, whatever order the events arrive in, and the status an operator's
// event gave an ended import (Resumed) replaces the one it ended in: a
// confirmed preview may require intervention, and be continued then.
func statusRank(rec ImportRecord) uint64 {
	switch {
	case rec.Status == schemas.StatusReceived:
		return 1
	case rec.Status == schemas.StatusProcessing:
		return 2
	case rec.Resumed == schemas.EventConfirm:
		return 4
	case rec.Resumed == schemas.EventContinue:
		return 5
	}
	return 3
}

// ErrNotResumable is the error of an operator's event that may not resume
// the import it names (see Resume).
var ErrNotResumable = errors.New("refused")

// Held is what is left of an ended import's staged records: how many
// there are, and how many of their keys a later upload has written since
// (warehouse.StagedChanged).
type Held struct{ Staged, Changed int }

// Resume decides what an operator's event does to an ended import: the
// status it ends in. Both events load the import's staged records, decided
// when it ran, without reading its file again:
//
//   - EventContinue (seed 002's "Continue") loads the good rows an import
//     that requires intervention held back and leaves the rejected ones
//     out: it ends completed_with_errors, with the counts load decided.
//   - EventConfirm loads a previewed import as it was previewed: it ends as
//     it would have without the preview (Status): completed, completed with
//     errors, or, if it aborts on error and rejected rows, requiring
//     intervention (then it may be continued).
//
// held says what is left to load. The staged records of an import held
// longer than personal data is kept were deleted (warehouse.Expire), and
// nothing is left. A record a later upload wrote since keeps that upload's
// value whatever happens (a later upload has a higher version), so the
// counts decided would no longer say what the import does: such an import
// is refused too, and its file is to be uploaded again, to be decided
// afresh. Anything refused gets an error that wraps ErrNotResumable and
// says why, in words an operator reads.
func Resume(event string, rec ImportRecord, held Held) (string, error) {
	var from, done, only string
	switch event {
	case schemas.EventContinue:
		from, done, only = schemas.StatusRequiresIntervention, "continued", "an import that requires intervention"
	case schemas.EventConfirm:
		from, done, only = schemas.StatusPreviewed, "confirmed", "a previewed import"
	default:
		return "", fmt.Errorf("%w: %q is not an operator's event", ErrNotResumable, event)
	}
	switch {
	case rec.Resumed == event:
		return "", fmt.Errorf("%w: import %s was %s already: it is %s", ErrNotResumable, rec.ID, done, words(rec.Status))
	case rec.Status != from:
		return "", fmt.Errorf("%w: import %s is %s: only %s can be %s", ErrNotResumable, rec.ID, words(rec.Status), only, done)
	case held.Staged == 0 && rec.Counts.Created+rec.Counts.Updated > 0:
		return "", fmt.Errorf("%w: import %s held its rows back longer than personal data is kept (SLUICE_PERSONAL_DATA_TTL): "+
			"they were deleted; upload the file again", ErrNotResumable, rec.ID)
	case held.Changed > 0:
		return "", fmt.Errorf("%w: import %s: %d of the records it would write were changed by a later upload since it was decided; "+
			"upload the file again to decide it afresh", ErrNotResumable, rec.ID, held.Changed)
	}
	if event == schemas.EventContinue {
		return schemas.StatusCompletedWithErrors, nil
	}
	return Status(&rec.Import, rec.Counts, 0), nil
}

// words writes a status as a partner reads it.
func words(status string) string { return strings.ReplaceAll(status, "_", " ") }

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
	// A sync's mail names the first maxDeactivatedInMail records it
	// deactivated, each key cut at maxRecordKeyInMail.
	maxDeactivatedInMail = 50
	maxRecordKeyInMail   = 100
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
	if rec.Status == schemas.StatusPreviewed {
		return composePreviewed(rec, name, report, maxReportRows)
	}
	k := rec.Counts
	fmt.Fprintf(&b, "Your %s import of %q has finished: %s.\n\n", rec.Dataset, name, words(rec.Status))
	switch rec.Resumed {
	case schemas.EventContinue:
		b.WriteString("It was continued: the good rows it had held back are loaded now, the rejected ones are not.\n\n")
	case schemas.EventConfirm:
		b.WriteString("It was confirmed after its preview: its rows are imported as the preview said, without reading the file again.\n\n")
	}
	loaded := k.Loaded()
	m := Mail{Subject: fmt.Sprintf("[sluice] %s: %d rows loaded, %d rejected", name, loaded, k.Rejected)}
	if k.Partial > 0 {
		m.Subject = fmt.Sprintf("[sluice] %s: %d rows loaded (%d partly), %d rejected", name, loaded, k.Partial, k.Rejected)
	}
	switch rec.Status {
	case schemas.StatusRequiresIntervention:
		fmt.Fprintf(&b, "No row was loaded: the import was set to stop on errors, and %d of its %d rows were rejected.\n", k.Bad(), k.Rows)
		fmt.Fprintf(&b, "Fix them and upload the corrected file at the same place (%s): it is imported afresh.\n", rec.Key)
		fmt.Fprintf(&b, "Or have the import continued (sluice continue %s): its good rows are loaded, the rejected ones are left out.\n\n", rec.ID)
		m.Subject = fmt.Sprintf("[sluice] %s: requires intervention, %d rows rejected, nothing loaded", name, k.Bad())
		fmt.Fprintf(&b, "Rows:      %d\nGood:      %d (not loaded)\nRejected:  %d\n", k.Rows, loaded-k.Partial, k.Bad())
	case schemas.StatusCancelled:
		if rec.Preview { // a preview loads nothing, and a cancelled one cannot be confirmed
			fmt.Fprintf(&b, "The preview was stopped while it ran (its file was deleted, or it was cancelled): nothing was loaded, and it cannot be confirmed.\n\n")
			m.Subject = fmt.Sprintf("[sluice] %s: preview cancelled, nothing loaded", name)
			break
		}
		fmt.Fprintf(&b, "The import was stopped while it ran (its file was deleted, or it was cancelled): the rows loaded before stay, the others were not loaded.\n\n")
		m.Subject = fmt.Sprintf("[sluice] %s: cancelled, %d rows loaded, %d not", name, loaded, k.Rejected)
	}
	if rec.Status != schemas.StatusRequiresIntervention {
		fmt.Fprintf(&b, "Rows:      %d\nCreated:   %d\nUpdated:   %d\nUnchanged: %d\nRejected:  %d\n", k.Rows, k.Created, k.Updated, k.Unchanged, k.Rejected)
		writeRemovals(&b, k)
		if k.Partial > 0 {
			fmt.Fprintf(&b, "Partly:    %d (rows loaded but for the values the report lists: a group's members that could not be added)\n", k.Partial)
		}
		if rec.Mode == schemas.ModeSync {
			writeSync(&b, &m, rec)
		}
	}
	if HasReport(rec) {
		attach(&b, &m, name, report, k.Bad(), maxReportRows, "The rejected rows are listed in the attached %s: row, column, rule, value, message and how to fix it.\n")
		if rec.Status != schemas.StatusRequiresIntervention && !rec.Preview {
			b.WriteString("Fix them in your file and upload it again: the rows already loaded stay as they are.\n")
		}
	}
	fmt.Fprintf(&b, "\nImport: %s\n", rec.ID)
	m.Body = b.String()
	return m
}

// writeSync says what a sync deactivated: how many records, the first of
// them, or that it deactivated none, and why.
func writeSync(b *strings.Builder, m *Mail, rec ImportRecord) {
	fmt.Fprintf(b, "Deactivated: %d (records of yours that the file leaves out)\n", rec.Deactivated)
	if rec.Reason.Code == schemas.CodeSyncLimit {
		fmt.Fprintf(b, "\nNote: %s.\nWhat to do: %s.\n", schemas.Plain(rec.Reason.Message, maxReasonInMail), schemas.Hint(rec.Reason.Code))
		m.Subject += ", nothing deactivated (over the limit)"
		return
	}
	if rec.Deactivated == 0 {
		return
	}
	m.Subject += fmt.Sprintf(", %d deactivated", rec.Deactivated)
	b.WriteString("\nThe records deactivated:\n")
	for _, k := range rec.DeactivatedKeys {
		fmt.Fprintf(b, "  %s\n", schemas.Plain(k, maxRecordKeyInMail))
	}
	if rec.Deactivated > len(rec.DeactivatedKeys) {
		fmt.Fprintf(b, "  and %d more\n", rec.Deactivated-len(rec.DeactivatedKeys))
	}
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

// composePreviewed writes the mail of a preview (seed 000's step 3, seed
// 001's review table): what the import would do, and how to have it done.
func composePreviewed(rec ImportRecord, name string, report []byte, maxReportRows int) Mail {
	var b strings.Builder
	k := rec.Counts
	fmt.Fprintf(&b, "Your %s import of %q was previewed: nothing was loaded.\n\nConfirmed as it is, it would do this:\n\n", rec.Dataset, name)
	fmt.Fprintf(&b, "Rows:                %d\nWould be created:    %d\nWould be updated:    %d\nWould be unchanged:  %d\nWould be rejected:   %d\n\n",
		k.Rows, k.Created, k.Updated, k.Unchanged, k.Rejected)
	if rec.Aborts() && k.Rejected > 0 {
		b.WriteString("It is set to stop on errors: confirmed as it is, it would load nothing and require intervention.\n")
	}
	fmt.Fprintf(&b, "To import it as previewed, have it confirmed (sluice confirm %s): the file is not read again.\n", rec.ID)
	b.WriteString("To change it, fix the file and upload it again. A preview never confirmed is deleted once personal data expires.\n")
	m := Mail{Subject: fmt.Sprintf("[sluice] %s: preview, %d rows would be loaded, %d rejected", name, k.Created+k.Updated+k.Unchanged, k.Rejected)}
	if HasReport(rec) {
		attach(&b, &m, name, report, k.Rejected, maxReportRows, "The rows that would be rejected are listed in the attached %s: row, column, rule, value, message and how to fix it.\n")
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
// one more if it failed (a failed import that is replayed later gets its
// summary too), and one more once an operator's event resumed it.
func mailKey(rec ImportRecord) string {
	switch {
	case rec.Status == schemas.StatusFailed:
		return rec.ID + "." + schemas.StatusFailed
	case rec.Resumed != "":
		return rec.ID + "." + rec.Resumed
	}
	return rec.ID
}

// InviteLink is how a user created without a password sets one: the
// web console's page for the token (Console + "/invite/" + Token), or the
// command, until Expires.
type InviteLink struct {
	Console, Token string
	Expires        time.Time
}

// URL is the link's address.
func (l InviteLink) URL() string { return strings.TrimRight(l.Console, "/") + "/invite/" + l.Token }

// Invitation writes the invitation of a user an import created: with link,
// to set a password (the user has none yet); without, to sign in with the
// password their administrator gave them.
func Invitation(rec ImportRecord, u Invitee, link *InviteLink) Mail {
	name := schemas.Plain(cmp.Or(u.FirstName, u.Login), maxNameInMail)
	body := fmt.Sprintf("Hello %s,\n\nAn account was created for you at %s. Your login is %s.\n", name, rec.Tenant, schemas.Plain(u.Login, maxNameInMail))
	if link == nil {
		body += "Sign in with the password your administrator gave you; you may be asked to change it.\n"
	} else {
		body += fmt.Sprintf("Set your password to sign in. Either open this link:\n\n  %s\n\n"+
			"or run this command, which asks for the password:\n\n  sluice invite accept %s\n\n"+
			"Either works once, until %s.\n", link.URL(), link.Token, link.Expires.UTC().Format("2006-01-02 15:04 UTC"))
	}
	return Mail{To: u.Email, Subject: fmt.Sprintf("[sluice] You are invited to %s", rec.Tenant), Body: body}
}

// maxNotInvitedListed bounds the logins NotInvited names.
const maxNotInvitedListed = 20

// NotInvited says, for the summary of an import, which new users who needed
// an invitation did not get one: the tenant does not let sluice mail their
// address. "" when there are none.
func NotInvited(users []Invitee) string {
	if len(users) == 0 {
		return ""
	}
	var logins []string
	for _, u := range users[:min(len(users), maxNotInvitedListed)] {
		logins = append(logins, schemas.Plain(u.Login, maxNameInMail))
	}
	more := ""
	if n := len(users) - len(logins); n > 0 {
		more = fmt.Sprintf(" and %d more", n)
	}
	what := fmt.Sprintf("%d new users were not invited: your company does not let sluice mail their addresses", len(users))
	if len(users) == 1 {
		what = "1 new user was not invited: your company does not let sluice mail the address"
	}
	return fmt.Sprintf("\n%s (%s%s).\nA user without a password stays pending until they have one: "+
		"upload them again with a password and status active.\n", what, strings.Join(logins, ", "), more)
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
