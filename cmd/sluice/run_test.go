package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/platform"
)

// TestStageRefusesPublishedKeys: outside the demo, a stage that handles
// secrets does not start with no secret key, or with the demo's, before it
// connects to anything; a stage that handles none needs no key.
func TestStageRefusesPublishedKeys(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	const nowhere = "nats://127.0.0.1:1" // nothing listens: reaching it is an error of another kind
	for _, tc := range []struct{ stage, key, want string }{
		{"ingest", "", "set SLUICE_SECRET_KEY"},
		{"validate", platform.DemoSecretKey, "published key"},
		{"transform", strings.Repeat("0", 62) + "aa", "published key"},
		{"load", "", ""}, // handles no secret: fails later, at a part
	} {
		t.Run(tc.stage+" "+tc.want, func(t *testing.T) {
			cfg, err := loadConfig(func(k string) string {
				if k == "SLUICE_SECRET_KEY" {
					return tc.key
				}
				return ""
			})
			if err != nil {
				t.Fatal(err)
			}
			err = runStages(context.Background(), cfg, logger, nowhere, []string{tc.stage}, false)
			if tc.want == "" {
				if err == nil || strings.Contains(err.Error(), "secrets:") {
					t.Errorf("sluice %s: got %v, want an error of a part, not of its key", tc.stage, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("sluice %s: got %v, want an error saying %q", tc.stage, err, tc.want)
			}
		})
	}
}
