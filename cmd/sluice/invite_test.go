package main

import (
	"errors"
	"flag"
	"io"
	"testing"
)

func TestParseInviteArgs(t *testing.T) {
	const token = "dG9rZW4tb2YtdGhpcnR5LXR3by1yYW5kb20tYnl0ZXMh"
	cases := []struct {
		name string
		args []string
		want inviteArgs
		err  error // errors.Is; nil: none wanted
		bad  bool  // any other error wanted
	}{
		{name: "token", args: []string{"accept", token}, want: inviteArgs{token: token}},
		{name: "the whole link", args: []string{"accept", "http://127.0.0.1:8080/invite/" + token}, want: inviteArgs{token: token}},
		{name: "password flag", args: []string{"accept", "--password", "Welcome2026", token}, want: inviteArgs{token: token, password: "Welcome2026"}},
		{name: "no token", args: []string{"accept"}, bad: true},
		{name: "two tokens", args: []string{"accept", token, token}, bad: true},
		{name: "another command", args: []string{"resend", token}, bad: true},
		{name: "help", args: []string{"--help"}, err: flag.ErrHelp},
		{name: "nothing", args: nil, err: flag.ErrHelp},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseInviteArgs(tc.args, io.Discard)
			switch {
			case tc.err != nil && !errors.Is(err, tc.err):
				t.Fatalf("error %v, want %v", err, tc.err)
			case tc.bad && (err == nil || errors.Is(err, flag.ErrHelp)):
				t.Fatalf("error %v, want one", err)
			case tc.err == nil && !tc.bad && err != nil:
				t.Fatalf("error %v, want none", err)
			case tc.err == nil && !tc.bad && got != tc.want:
				t.Errorf("parseInviteArgs(%q) = %+v, want %+v", tc.args, got, tc.want)
			}
		})
	}
}
