package schemas_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/schemas"
)

// TestSeedMessages: every message the product documents (seeds/) give is
// what partners read, word for word (with the field's name and limit filled
// in where the seed has a placeholder).
func TestSeedMessages(t *testing.T) {
	cases := []struct {
		seed, got string
		whole     bool // the message is the seed's sentence, not one containing it
	}{
		// seed 002, "Import errors"
		{"the value of the field login cannot be empty", schemas.MsgRequired("login"), true},
		{"the field login can contain no more than 50 characters", schemas.MsgTooLong("login", 50), true},
		{"the entered value does not match the format", schemas.MsgFormat, true},
		{"the phone number or email address has already been confirmed with another existing or imported user", schemas.MsgDuplicate, true},
		{"the company does not have a group specified in the imported file", schemas.MsgNoGroup, true},
		// seed 002: "the file is loaded in the wrong format"
		{"the file is loaded in the wrong format", schemas.MsgWrongFormat, false},
		// seed 004: "No more than 5000 records per file", "No scripts,
		// macros, or executable content"
		{"no more than 5000 records per file", schemas.MsgTooManyRows(5000), false},
		{"no scripts, macros, or executable content", schemas.MsgMacros, false},
		// seed 004: "email (Required): Client's email address (must be unique)"
		{"Client's email address (must be unique)", schemas.MsgEmailTaken("666c2c2f32735479fd3e9a5c"), false},
		// seed 003: "linked to an existing subscription"
		{"linked to an existing subscription", schemas.MsgNoAccount, false},
		// seed 002: "At least one field, in addition to the login"
		{"at least one field, in addition to the login", schemas.MsgNothingToUpdate("login"), false},
	}
	for _, tc := range cases {
		if tc.whole && tc.got != tc.seed || !tc.whole && !strings.Contains(tc.got, tc.seed) {
			t.Errorf("message %q, want the seed's %q", tc.got, tc.seed)
		}
	}
}

func TestIsPersonName(t *testing.T) {
	for v, want := range map[string]bool{
		"Anna": true, "Иван": true, "Фёдорова": true, "O'Neil-Smith": true, `Anna 2/B\C`: true,
		"José": true, "Zoë": true, "Łukasz": true,
		"Anna!": false, "George R.": false, "Tanaka, Jr": false, "李": false, "Ἀλέξανδρος": false, "Anna\t": false,
	} {
		if got := schemas.IsPersonName(v); got != want {
			t.Errorf("IsPersonName(%q) = %v, want %v", v, got, want)
		}
	}
}
