package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/testkit"
	"github.com/sluicehq/sluice/schemas"
)

// TestMailGoesWhereTheTenantAllows: an upload that names an address its
// tenant does not allow gets no mail sent there; the tenant's contact gets
// it, told which address was claimed. An allowed address gets its own.
func TestMailGoesWhereTheTenantAllows(t *testing.T) {
	t.Parallel()
	const victim = "victim@elsewhere.example"
	i := upload(t, "acme/clients/relay.csv", []byte("firstName,email\nRia,ria@acme.example\n"), victim)
	if i.Status != schemas.StatusCompleted {
		t.Fatalf("got %s, want completed", i.Status)
	}
	msgs := mailsAbout(t, "imports@acme.example", "relay.csv")
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text, `"`+victim+`"`) || !strings.Contains(msgs[0].Text, "not among those your company lets sluice mail") {
		t.Fatalf("emails to the contact about relay.csv: got %d %v, want 1 naming %s", len(msgs), msgs, victim)
	}
	if got := mailsAbout(t, victim, "relay.csv"); len(got) != 0 {
		t.Errorf("emails to an address acme does not allow: %d, want none", len(got))
	}

	allowed := upload(t, "acme/clients/allowed.csv", []byte("firstName,email\nAl,al@acme.example\n"), "clerk@acme.example")
	if allowed.Status != schemas.StatusCompleted {
		t.Fatalf("got %s, want completed", allowed.Status)
	}
	if got := mailsAbout(t, "clerk@acme.example", "allowed.csv"); len(got) != 1 || strings.Contains(got[0].Text, "not among") {
		t.Errorf("emails to an address acme allows: %v, want 1, without the contact's notice", got)
	}
}

// TestOptionsByPolicy: an upload may set an option only when its tenant
// lets it: acme lists none, so an upload that assigns groups or invites is
// rejected whole and told why, and one that sets the mode loads.
func TestOptionsByPolicy(t *testing.T) {
	t.Parallel()
	const who = "clerk@acme.example"
	for _, tc := range []struct{ key, option, value string }{
		{"acme/users/grant.csv", schemas.OptionAssignGroups, "Admins"},
		{"acme/users/mirror.csv", schemas.OptionMirrorUser, "admin"},
		{"acme/users/invite.csv", schemas.OptionInvite, "true"},
	} {
		t.Run(tc.option, func(t *testing.T) {
			t.Parallel()
			i := uploadWith(t, tc.key, []byte("login,password,email\nmallory,Secret-pass-1,mallory@acme.example\n"),
				map[string]string{"uploader": who, tc.option: tc.value})
			if i.Status != schemas.StatusRejected || i.ReasonCode != schemas.CodeOptionNotAllowed || i.Reason != schemas.MsgOptionNotAllowed(tc.option) {
				t.Fatalf("got %s %q %q, want rejected %q", i.Status, i.ReasonCode, i.Reason, schemas.CodeOptionNotAllowed)
			}
			name := tc.key[strings.LastIndex(tc.key, "/")+1:]
			if msgs := mailsAbout(t, who, name); len(msgs) != 1 || !strings.Contains(msgs[0].Text, schemas.MsgOptionNotAllowed(tc.option)) {
				t.Errorf("emails about %s: %v, want 1 giving the reason", name, msgs)
			}
		})
	}
	t.Run(schemas.OptionMode, func(t *testing.T) {
		t.Parallel()
		body, md := []byte("firstName,email\nMo,mo@acme.example\n"), map[string]string{"uploader": who, schemas.OptionMode: schemas.ModeCreate}
		if i := uploadWith(t, "acme/clients/mode.csv", body, md); i.Status != schemas.StatusCompleted || i.Counts.Created != 1 {
			t.Fatalf("got %s %+v, want completed, 1 created", i.Status, i.Counts)
		}
		// Create mode applied: the same record again is rejected as existing.
		if i := uploadWith(t, "acme/clients/mode-again.csv", body, md); i.Status != schemas.StatusCompletedWithErrors || i.Counts.Rejected != 1 {
			t.Errorf("again in create mode: got %s %+v, want 1 rejected", i.Status, i.Counts)
		}
	})
}

// TestInvitationsGoWhereTheTenantAllows: invitations are mail too. A users
// file that invites creates both its users, but only the one at an address
// its tenant allows is invited: a file cannot make sluice mail anyone.
func TestInvitationsGoWhereTheTenantAllows(t *testing.T) {
	t.Parallel()
	body := "login,password,email,firstName,lastName\n" +
		"ivy.inside,Inside-pass-7,ivy@initech.example,Ivy,Inside\n" +
		"olga.outside,Outside-pass-7,olga@elsewhere.example,Olga,Outside\n"
	i := uploadWith(t, "initech/users/invite-policy.csv", []byte(body), map[string]string{"uploader": "hr@initech.example", schemas.OptionInvite: "true"})
	if want := (schemas.Counts{Rows: 2, Created: 2}); i.Status != schemas.StatusCompleted || i.Counts != want {
		t.Fatalf("got %s %+v, want completed %+v", i.Status, i.Counts, want)
	}
	invited := func(addr string) int {
		n := 0
		for _, m := range testkit.Messages(t, stack.mail, addr) {
			if strings.Contains(m.Subject, "You are invited to initech") {
				n++
			}
		}
		return n
	}
	if err := parts.WaitFor(context.Background(), 20*time.Second, func() (bool, error) { return invited("ivy@initech.example") == 1, nil }); err != nil {
		t.Fatalf("invitations to an allowed address: %d, want 1", invited("ivy@initech.example"))
	}
	// Both would go out in one pass: give the other a moment to show.
	_ = parts.WaitFor(context.Background(), 3*time.Second, func() (bool, error) { return invited("olga@elsewhere.example") > 0, nil })
	if n := invited("olga@elsewhere.example"); n != 0 {
		t.Errorf("invitations to an address initech does not allow: %d, want none", n)
	}
}
