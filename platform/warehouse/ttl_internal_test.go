package warehouse

import "testing"

// TestSameTTL checks how setTTL reads the TTL of import_rejections from
// system.tables' engine_full, so that migrate alters it (a mutation) only
// when it is another one. The forms are those a current release shows; the
// table on 18.16 has no TTL.
func TestSameTTL(t *testing.T) {
	const day = 86400
	cases := []struct {
		engine string
		secs   int64
		same   bool
	}{
		{"ReplacingMergeTree(version) ORDER BY (import_id, row) TTL written_at + toIntervalSecond(86400) SETTINGS index_granularity = 8192", day, true},
		{"ReplacingMergeTree(version) ORDER BY (import_id, row) TTL written_at + toIntervalSecond(86400)", day, true},
		{"ReplacingMergeTree(version) ORDER BY (import_id, row) TTL written_at + INTERVAL 86400 SECOND DELETE SETTINGS index_granularity = 8192", day, true},
		{"ReplacingMergeTree(version) ORDER BY (import_id, row) TTL written_at + toIntervalSecond(86400) SETTINGS index_granularity = 8192", 3600, false},
		{"ReplacingMergeTree(version) ORDER BY (import_id, row) TTL written_at + toIntervalSecond(864000) SETTINGS index_granularity = 8192", day, false},
		{"ReplacingMergeTree(version) ORDER BY (import_id, row) TTL written_at + toIntervalDay(1) SETTINGS index_granularity = 8192", day, false},
		{"ReplacingMergeTree(version) ORDER BY (import_id, row) SETTINGS index_granularity = 8192", day, false},
		{"ReplacingMergeTree(version) ORDER BY (import_id, row)", day, false},
	}
	for _, tc := range cases {
		if got := sameTTL(tableTTL(tc.engine), tc.secs); got != tc.same {
			t.Errorf("sameTTL(%q, %d) = %v, want %v", tc.engine, tc.secs, got, tc.same)
		}
	}
}
