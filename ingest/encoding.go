package ingest

import (
	"bytes"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
)

// Text encodings a partner's file may come in, as the import's audit names
// them. Spreadsheets save UTF-8 (often with a byte order mark), UTF-16 with a
// mark ("Unicode text"), or the Windows code page of the user's language:
// 1251 for Cyrillic, 1252 for Western European.
const (
	encUTF8    = "utf-8"
	encUTF8BOM = "utf-8 (bom)"
	encUTF16LE = "utf-16le"
	encUTF16BE = "utf-16be"
	enc1251    = "windows-1251"
	enc1252    = "windows-1252"
)

// encodings decode each name to UTF-8; plain UTF-8 needs nothing.
var encodings = map[string]encoding.Encoding{
	encUTF8BOM: unicode.UTF8BOM,
	encUTF16LE: unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM),
	encUTF16BE: unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM),
	enc1251:    charmap.Windows1251,
	enc1252:    charmap.Windows1252,
}

// detectEncoding names the encoding of a file from its first bytes: a byte
// order mark says it outright; bytes that are valid UTF-8 are UTF-8;
// anything else is a Windows code page, 1251 when its non-ASCII bytes come in
// runs (Cyrillic words are made of them) and 1252 when they stand alone among
// ASCII letters (Müller, García).
func detectEncoding(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("\xef\xbb\xbf")):
		return encUTF8BOM
	case bytes.HasPrefix(head, []byte("\xff\xfe")):
		return encUTF16LE
	case bytes.HasPrefix(head, []byte("\xfe\xff")):
		return encUTF16BE
	case validUTF8Prefix(head):
		return encUTF8
	}
	high, inRuns := 0, 0
	for i, b := range head {
		if b < 0x80 {
			continue
		}
		high++
		if i > 0 && head[i-1] >= 0x80 || i+1 < len(head) && head[i+1] >= 0x80 {
			inRuns++
		}
	}
	if inRuns*2 >= high {
		return enc1251
	}
	return enc1252
}

// validUTF8Prefix reports whether head is UTF-8, allowing the last rune to be
// cut off where the head ends.
func validUTF8Prefix(head []byte) bool {
	for i := 0; i < 3 && len(head) > 0; i++ {
		if utf8.Valid(head) {
			return true
		}
		r, _ := utf8.DecodeLastRune(head)
		if r != utf8.RuneError {
			return false
		}
		head = head[:len(head)-1]
	}
	return utf8.Valid(head)
}
