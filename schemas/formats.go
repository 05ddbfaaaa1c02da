package schemas

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"time"
)

// Formats and normalisers shared by the datasets. Each Format function is
// called on a trimmed, non-empty value.

var (
	emailRe = regexp.MustCompile(`^[A-Za-z0-9.!#$%&'*+/=?^_` + "`" + `{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$`)
	hex24Re = regexp.MustCompile(`^[0-9a-fA-F]{24}$`)
)

// IsEmail reports whether v has the form A@B.C.
func IsEmail(v string) bool { return emailRe.MatchString(v) }

// IsHexID reports whether v is a 24-hex-digit system id.
func IsHexID(v string) bool { return hex24Re.MatchString(v) }

// IsBool accepts True/False in any case, and 1/0.
func IsBool(v string) bool {
	switch strings.ToLower(v) {
	case "true", "false", "1", "0":
		return true
	}
	return false
}

// NormalizeBool returns "1" or "0" for a value IsBool accepts.
func NormalizeBool(v string) string {
	switch strings.ToLower(v) {
	case "true", "1":
		return "1"
	}
	return "0"
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
	canon := make(map[string]string, len(values))
	for _, v := range values {
		canon[strings.ToLower(v)] = v
	}
	format = func(v string) bool { _, ok := canon[strings.ToLower(v)]; return ok }
	normalize = func(v string) string { return canon[strings.ToLower(v)] }
	return format, normalize
}

// DerivedID returns a 24-hex id derived from the tenant and the record's key,
// the same every time, for records a partner sends without a system id.
func DerivedID(tenant, key string) string {
	sum := sha256.Sum256([]byte(tenant + "\x00" + key))
	return hex.EncodeToString(sum[:12])
}
