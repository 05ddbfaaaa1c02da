package hostile

import (
	"archive/zip"
	"bytes"
)

// zipParts is a zip archive of the parts, in order.
func zipParts(parts []part) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, p := range parts {
		w, err := zw.Create(p.name)
		if err != nil {
			panic(err)
		}
		p.write(w)
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return b.Bytes()
}
