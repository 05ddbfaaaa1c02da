package schemas

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Formats and normalisers shared by the datasets. Each Format function is
// called on a trimmed, non-empty value.

// These run on every cell of every row, where regular expressions would be
// most of validate's time, so they scan bytes instead; formats_test.go
// checks them against the regular expressions they implement.

// emailLocal are the characters of an address's local part (RFC 5322
// atext, and dots).
const emailLocal = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.!#$%&'*+/=?^_`{|}~-"

// isEmailLocal says which bytes emailLocal has: a table, as IsEmail looks at
// every byte of every address.
var isEmailLocal = func() (t [256]bool) {
	for i := 0; i < len(emailLocal); i++ {
		t[emailLocal[i]] = true
	}
	return t
}()

// IsEmail reports whether v has the form A@B.C: a local part of atext and
// dots, then a domain of at least two labels of letters, digits and inner
// hyphens.
func IsEmail(v string) bool {
	local, domain, ok := strings.Cut(v, "@")
	if !ok || local == "" || strings.IndexByte(domain, '@') >= 0 {
		return false
	}
	for i := 0; i < len(local); i++ {
		if !isEmailLocal[local[i]] {
			return false
		}
	}
	labels := 0
	for label := range strings.SplitSeq(domain, ".") {
		if !isLabel(label) {
			return false
		}
		labels++
	}
	return labels >= 2
}

func isLabel(l string) bool {
	if l == "" || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !isAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// IsHexID reports whether v is a 24-hex-digit system id.
func IsHexID(v string) bool {
	if len(v) != 24 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// IsBool accepts True/False in any case, and 1/0.
func IsBool(v string) bool {
	return v == "1" || v == "0" || lowerIs(v, "true") || lowerIs(v, "false")
}

// NormalizeBool returns "1" or "0" for a value IsBool accepts.
func NormalizeBool(v string) string {
	if v == "1" || lowerIs(v, "true") {
		return "1"
	}
	return "0"
}

// lowerIs reports whether strings.ToLower(v) is lower, without making the
// lower-case copy when v is ASCII (the rules compare cells this way in every
// row).
func lowerIs(v, lower string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] >= utf8.RuneSelf {
			return strings.ToLower(v) == lower
		}
	}
	if len(v) != len(lower) {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// isoLayouts are the ISO 8601 forms accepted; a time with no zone is UTC.
var isoLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05",
	"2006-01-02",
}

// ParseISOTime parses an ISO 8601 date or date-time within the range a
// ClickHouse DateTime holds (1970 to 2105).
func ParseISOTime(v string) (time.Time, bool) {
	for _, layout := range isoLayouts {
		t, err := time.Parse(layout, v)
		if err == nil {
			t = t.UTC()
			if t.Year() < 1970 || t.Year() > 2105 {
				return time.Time{}, false
			}
			return t, true
		}
	}
	return time.Time{}, false
}

// IsISOTime reports whether ParseISOTime accepts v.
func IsISOTime(v string) bool {
	_, ok := ParseISOTime(v)
	return ok
}

// NormalizeISOTime returns the canonical DateTime form, in UTC.
func NormalizeISOTime(v string) string {
	t, _ := ParseISOTime(v)
	return t.Format(DateTimeLayout)
}

// OneOf returns a Format that accepts the given values in any case, and a
// Normalize that returns them as written here.
func OneOf(values ...string) (format func(string) bool, normalize func(string) string) {
	lower := make([]string, len(values))
	for i, v := range values {
		lower[i] = strings.ToLower(v)
	}
	canon := func(v string) (string, bool) {
		for i, l := range lower {
			if lowerIs(v, l) {
				return values[i], true
			}
		}
		return "", false
	}
	format = func(v string) bool { _, ok := canon(v); return ok }
	normalize = func(v string) string { c, _ := canon(v); return c }
	return format, normalize
}

// DerivedID returns a 24-hex id derived from the tenant and the record's key,
// the same every time, for records a partner sends without a system id.
func DerivedID(tenant, key string) string {
	sum := sha256.Sum256([]byte(tenant + "\x00" + key))
	return hex.EncodeToString(sum[:12])
}

// tag finds the opening of markup in a cell: a tag (<script, <img, </b>), a
// comment or declaration (<!), a processing instruction or server code
// (<?php, <%); jsURL a javascript: URL.
var (
	tag   = regexp.MustCompile(`<\s*[a-zA-Z!/?%]`)
	jsURL = regexp.MustCompile(`(?i)javascript\s*:`)
)

// IsExecutable reports whether a cell (trimmed) holds what seed 004 calls
// "scripts, macros, or executable content": a formula, which starts with =
// (or its full-width form), or markup. It runs on every clients cell: an
// expression runs only on a cell that holds its first character.
func IsExecutable(v string) bool {
	return strings.HasPrefix(v, "=") || strings.HasPrefix(v, "＝") ||
		strings.IndexByte(v, '<') >= 0 && tag.MatchString(v) ||
		strings.ContainsAny(v, "jJ") && strings.IndexByte(v, ':') >= 0 && jsURL.MatchString(v)
}
