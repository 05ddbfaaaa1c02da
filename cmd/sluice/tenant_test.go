package main

import (
	"io"
	"testing"
)

func TestParseTenantArgs(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		args                 []string
		cmd, tenant, contact string
		wantErr              bool
	}{
		{"add, flag after name", []string{"add", "acme", "--contact", "a@acme.example"}, "add", "acme", "a@acme.example", false},
		{"add, flag before name", []string{"add", "--contact=a@acme.example", "acme"}, "add", "acme", "a@acme.example", false},
		{"add without contact", []string{"add", "acme"}, "", "", "", true},
		{"add two names", []string{"add", "acme", "globex", "--contact", "a@acme.example"}, "", "", "", true},
		{"list", []string{"list"}, "list", "", "", false},
		{"list with a name", []string{"list", "acme"}, "", "", "", true},
		{"rotate", []string{"rotate", "acme"}, "rotate", "acme", "", false},
		{"remove", []string{"remove", "acme"}, "remove", "acme", "", false},
		{"remove without name", []string{"remove"}, "", "", "", true},
		{"contact on rotate", []string{"rotate", "acme", "--contact", "x@y.z"}, "", "", "", true},
		{"unknown", []string{"delete", "acme"}, "", "", "", true},
		{"none", nil, "", "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd, tenant, contact, err := parseTenantArgs(tc.args, io.Discard)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if cmd != tc.cmd || tenant != tc.tenant || contact != tc.contact {
				t.Errorf("got %q %q %q, want %q %q %q", cmd, tenant, contact, tc.cmd, tc.tenant, tc.contact)
			}
		})
	}
}
