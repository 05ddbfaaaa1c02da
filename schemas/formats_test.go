package schemas_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/schemas"
)

func TestIsEmail(t *testing.T) {
	cases := []struct {
		name  string
		value string
		want  bool
	}{
		{name: "plain", value: "john@example.com", want: true},
		{name: "shortest A@B.C", value: "a@b.c", want: true},
		{name: "subdomain and plus", value: "john.doe+crm@mail.example.co.uk", want: true},
		{name: "upper case", value: "John@Example.COM", want: true},
		{name: "no at", value: "john.example.com"},
		{name: "no domain dot", value: "john@example"},
		{name: "empty local part", value: "@example.com"},
		{name: "empty domain label", value: "john@.example.com"},
		{name: "double dot in domain", value: "john@example..com"},
		{name: "trailing dot", value: "john@example.com."},
		{name: "label starting with dash", value: "john@-example.com"},
		{name: "space", value: "john doe@example.com"},
		{name: "two ats", value: "john@doe@example.com"},
		{name: "header injection", value: "john@example.com\r\nBcc: x@y.z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := schemas.IsEmail(tc.value); got != tc.want {
				t.Errorf("IsEmail(%q) = %v, want %v", tc.value, got, tc.want)
			}
		})
	}
}

func TestIsHexID(t *testing.T) {
	cases := []struct {
		name  string
		value string
		want  bool
	}{
		{name: "template id", value: "666c2c2f32735479fd3e9a5c", want: true},
		{name: "upper case", value: "66829B2E43C91E3CE480B6C4", want: true},
		{name: "23 digits", value: "666c2c2f32735479fd3e9a5"},
		{name: "25 digits", value: "666c2c2f32735479fd3e9a5c0"},
		{name: "not hex", value: "666c2c2f32735479fd3e9a5z"},
		{name: "uuid", value: "123e4567-e89b-12d3-a456-426614174000"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := schemas.IsHexID(tc.value); got != tc.want {
				t.Errorf("IsHexID(%q) = %v, want %v", tc.value, got, tc.want)
			}
		})
	}
}

func TestBool(t *testing.T) {
	cases := []struct {
		name  string
		value string
		ok    bool
		want  string // NormalizeBool, when ok
	}{
		{name: "True", value: "True", ok: true, want: "1"},
		{name: "TRUE", value: "TRUE", ok: true, want: "1"},
		{name: "false", value: "false", ok: true, want: "0"},
		{name: "False", value: "False", ok: true, want: "0"},
		{name: "1", value: "1", ok: true, want: "1"},
		{name: "0", value: "0", ok: true, want: "0"},
		{name: "yes", value: "yes"},
		{name: "no", value: "no"},
		{name: "t", value: "t"},
		{name: "2", value: "2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := schemas.IsBool(tc.value); got != tc.ok {
				t.Fatalf("IsBool(%q) = %v, want %v", tc.value, got, tc.ok)
			}
			if !tc.ok {
				return
			}
			if got := schemas.NormalizeBool(tc.value); got != tc.want {
				t.Errorf("NormalizeBool(%q) = %q, want %q", tc.value, got, tc.want)
			}
		})
	}
}

func TestParseISOTime(t *testing.T) {
	cases := []struct {
		name  string
		value string
		ok    bool
		want  string // NormalizeISOTime, when ok
	}{
		{name: "Z with milliseconds", value: "2024-06-13T15:06:02.802Z", ok: true, want: "2024-06-13 15:06:02"},
		{name: "offset", value: "2025-01-15T09:30:00+01:00", ok: true, want: "2025-01-15 08:30:00"},
		{name: "negative offset across midnight", value: "2025-01-15T22:00:00-05:00", ok: true, want: "2025-01-16 03:00:00"},
		{name: "no zone with fraction", value: "2024-06-13T15:06:02.5", ok: true, want: "2024-06-13 15:06:02"},
		{name: "minutes only", value: "2024-06-13T15:06", ok: true, want: "2024-06-13 15:06:00"},
		{name: "space separated", value: "2024-09-10 12:00:00", ok: true, want: "2024-09-10 12:00:00"},
		{name: "date only", value: "2024-08-01", ok: true, want: "2024-08-01 00:00:00"},
		{name: "first day ClickHouse holds", value: "1970-01-01", ok: true, want: "1970-01-01 00:00:00"},
		{name: "last year accepted", value: "2105-12-31T23:59:59Z", ok: true, want: "2105-12-31 23:59:59"},
		{name: "before 1970", value: "1969-12-31"},
		{name: "before 1970 once in UTC", value: "1970-01-01T00:30:00+01:00"},
		{name: "after 2105", value: "2106-01-01"},
		{name: "month 13", value: "2024-13-01"},
		{name: "February 30", value: "2024-02-30"},
		{name: "word", value: "yesterday"},
		{name: "day first", value: "13.06.2024"},
		{name: "unix seconds", value: "1718291162"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := schemas.ParseISOTime(tc.value)
			if ok != tc.ok {
				t.Fatalf("ParseISOTime(%q) ok = %v, want %v (time %v)", tc.value, ok, tc.ok, got)
			}
			if schemas.IsISOTime(tc.value) != tc.ok {
				t.Errorf("IsISOTime(%q) = %v, want %v", tc.value, !tc.ok, tc.ok)
			}
			if !ok {
				return
			}
			if got.Location() != time.UTC {
				t.Errorf("ParseISOTime(%q) location = %v, want UTC", tc.value, got.Location())
			}
			if n := schemas.NormalizeISOTime(tc.value); n != tc.want {
				t.Errorf("NormalizeISOTime(%q) = %q, want %q", tc.value, n, tc.want)
			}
		})
	}
}

func TestOneOf(t *testing.T) {
	format, normalize := schemas.OneOf("Personal", "Corporate", "Partner")
	cases := []struct {
		name  string
		value string
		ok    bool
		want  string
	}{
		{name: "as declared", value: "Personal", ok: true, want: "Personal"},
		{name: "lower case", value: "corporate", ok: true, want: "Corporate"},
		{name: "mixed case", value: "pArTnEr", ok: true, want: "Partner"},
		{name: "unknown", value: "Business"},
		{name: "prefix", value: "Person"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := format(tc.value); got != tc.ok {
				t.Fatalf("format(%q) = %v, want %v", tc.value, got, tc.ok)
			}
			if !tc.ok {
				return
			}
			if got := normalize(tc.value); got != tc.want {
				t.Errorf("normalize(%q) = %q, want %q", tc.value, got, tc.want)
			}
		})
	}
}

func TestDerivedID(t *testing.T) {
	base := schemas.DerivedID("acme", "john@example.com")
	cases := []struct {
		name   string
		tenant string
		key    string
		same   bool
	}{
		{name: "same tenant and key", tenant: "acme", key: "john@example.com", same: true},
		{name: "other tenant", tenant: "beta", key: "john@example.com"},
		{name: "other key", tenant: "acme", key: "jane@example.com"},
		{name: "boundary moved", tenant: "acmejohn", key: "@example.com"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := schemas.DerivedID(tc.tenant, tc.key)
			if !schemas.IsHexID(got) {
				t.Errorf("DerivedID(%q, %q) = %q, want 24 hex digits", tc.tenant, tc.key, got)
			}
			if (got == base) != tc.same {
				t.Errorf("DerivedID(%q, %q) = %q, base %q; want same = %v", tc.tenant, tc.key, got, base, tc.same)
			}
		})
	}
}

// The regular expressions IsEmail and IsHexID implement, as written first.
var (
	emailSpec = regexp.MustCompile(`^[A-Za-z0-9.!#$%&'*+/=?^_` + "`" + `{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$`)
	hexSpec   = regexp.MustCompile(`^[0-9a-fA-F]{24}$`)
)

// TestFormatsMatchTheirSpec compares the byte scanners with the regular
// expressions on every string built from a small alphabet that exercises
// each branch, up to a length, plus hand-picked cases.
func TestFormatsMatchTheirSpec(t *testing.T) {
	cases := []string{"", "a@b.c", "a@b", "@b.c", "a@@b.c", "a@b..c", "a@-b.c", "a@b-.c", "a@b.c-", "a.b@c-d.e",
		"A+B@X.Y.Z", "a b@c.d", "é@b.c", "a@bé.c", "a@b.c.", ".@b.c", "a@b.c@d.e", "666c2c2f32735479fd3e9a5c",
		"666C2C2F32735479FD3E9A5C", "666c2c2f32735479fd3e9a5", "666c2c2f32735479fd3e9a5cc", "g66c2c2f32735479fd3e9a5c"}
	alphabet := []string{"a", "@", ".", "-", "+", " ", "1"}
	var build func(prefix string, n int)
	build = func(prefix string, n int) {
		cases = append(cases, prefix)
		if n == 0 {
			return
		}
		for _, c := range alphabet {
			build(prefix+c, n-1)
		}
	}
	build("", 6)
	for _, c := range cases {
		if got, want := schemas.IsEmail(c), emailSpec.MatchString(c); got != want {
			t.Errorf("IsEmail(%q) = %v, the regular expression says %v", c, got, want)
		}
		if got, want := schemas.IsHexID(c), hexSpec.MatchString(c); got != want {
			t.Errorf("IsHexID(%q) = %v, the regular expression says %v", c, got, want)
		}
	}
}

// TestCaseInsensitiveRulesMatchToLower: IsBool, NormalizeBool and OneOf
// compare cells without lower-casing copies of them; they must still say
// what comparing strings.ToLower(cell) would, non-ASCII cells included.
func TestCaseInsensitiveRulesMatchToLower(t *testing.T) {
	values := []string{"Personal", "Corporate", "Partner", "blocked", "disabled"}
	format, normalize := schemas.OneOf(values...)
	cells := []string{"", "1", "0", "true", "TRUE", "True", "tRuE", "false", "FALSE", "truee", "tru", "yes",
		"personal", "PERSONAL", "Personal", "personal ", "partner", "Corporate", "corporatE", "BLOCKED",
		"bloc\u212aed",  // a Kelvin sign: strings.ToLower makes it a k
		"di\u017fabled", // a long s: strings.ToLower leaves it
		"Ünknown", "İ", "trüe", "\xff"}
	for _, c := range cells {
		lower := strings.ToLower(c)
		if want := lower == "true" || lower == "false" || lower == "1" || lower == "0"; schemas.IsBool(c) != want {
			t.Errorf("IsBool(%q) = %v, want %v", c, !want, want)
		}
		if want := map[bool]string{true: "1", false: "0"}[lower == "true" || lower == "1"]; schemas.NormalizeBool(c) != want {
			t.Errorf("NormalizeBool(%q) = %q, want %q", c, schemas.NormalizeBool(c), want)
		}
		want := ""
		for _, v := range values {
			if strings.ToLower(v) == lower {
				want = v
			}
		}
		if format(c) != (want != "") || normalize(c) != want {
			t.Errorf("OneOf: format(%q) = %v, normalize = %q; want %v, %q", c, format(c), normalize(c), want != "", want)
		}
	}
}

// TestNoExecutableContent: seed 004's "no scripts, macros, or executable
// content". A clients cell that starts a formula or holds markup is
// rejected with the seed's words, in every clients column, before any other
// rule; text that only looks near it loads.
func TestNoExecutableContent(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  bool
	}{
		{"=HYPERLINK(\"http://evil.example\",\"x\")", true},
		{"  =1+1", true},
		{"＝1+1", true},
		{"<script>alert(1)</script>", true},
		{"John<script src=//evil.example/x.js>", true},
		{"< img src=x onerror=alert(1)>", true},
		{"</b>", true},
		{"<!-- x -->", true},
		{"<?php system($_GET['c']); ?>", true},
		{"<% eval %>", true},
		{"JavaScript:alert(1)", true},
		{"John", false},
		{"O'Brien-Smith", false},
		{"a=b", false},
		{"+1 555 0100", false},
		{"-", false},
		{"x < 3", false},
		{"<3", false},
		{"john@example.com", false},
	} {
		if got := schemas.IsExecutable(strings.TrimSpace(tc.value)); got != tc.want {
			t.Errorf("IsExecutable(%q) = %v, want %v", tc.value, got, tc.want)
		}
	}
	for _, f := range schemas.Clients.Fields {
		v, ok := f.Check("<script>alert(1)</script>", schemas.Context{}, false)
		if ok || v.Code != schemas.CodeExecutable || v.Message != schemas.MsgExecutable || v.Column != f.Name {
			t.Errorf("clients %s with a script: got %+v, want %s", f.Name, v, schemas.CodeExecutable)
		}
	}
	for _, f := range schemas.Users.Fields {
		if f.NoCode {
			t.Errorf("users %s: the restriction is seed 004's, of clients files only", f.Name)
		}
	}
}
