package load

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/schemas"
)

func TestParseDateTime(t *testing.T) {
	for _, v := range []string{
		"2024-03-04 05:06:07", "1970-01-01 00:00:00", "2024-02-29 23:59:59", "0001-01-01 00:00:00",
		"2024-02-30 00:00:00", "2023-02-29 00:00:00", "2024-13-01 00:00:00", "2024-00-10 00:00:00",
		"2024-01-01 24:00:00", "2024-01-01 00:60:00", "2024-01-01 00:00:60", "2024-01-01T00:00:00",
		"2024-1-01 00:00:00x", "202a-01-01 00:00:00", "2024-01-01 00:00", "", "-024-01-01 00:00:00",
	} {
		want, wantErr := time.Parse(schemas.DateTimeLayout, v)
		got, err := parseDateTime(v)
		if (err != nil) != (wantErr != nil) || !got.Equal(want) {
			t.Errorf("parseDateTime(%q) = %v, %v; time.Parse gives %v, %v", v, got, err, want, wantErr)
		}
	}
}
