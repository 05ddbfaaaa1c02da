// Package testkit is what sluice's tests need besides the real parts that
// platform/parts starts: an embedded NATS JetStream server with sluice's
// streams (port -1, store in a temp dir), stopped when the test ends, or
// an embedded 3-node JetStream cluster (NATSCluster); the messages Mailpit
// received; a tenants file; and a multipart upload. A part that cannot
// start fails the test: there is no skip.
package testkit

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/parts"
)

// NATS starts an embedded JetStream server with sluice's streams and KV
// buckets and returns it with a connection. A stage's test creates its
// consumer (Consumer).
func NATS(t testing.TB) (*server.Server, *nats.Conn) {
	t.Helper()
	ns, err := bus.StartNATS(-1, t.TempDir())
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	t.Cleanup(ns.Shutdown)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := nc.JetStream()
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	if err := bus.EnsureStreams(js, 1, 0); err != nil {
		t.Fatalf("testkit: %v", err)
	}
	return ns, nc
}

// Consumer creates the durable consumer c on nc's server, as `sluice
// migrate` does before a stage binds to it.
func Consumer(t testing.TB, nc *nats.Conn, c bus.Consumer) {
	t.Helper()
	js, err := nc.JetStream()
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	if err := bus.EnsureConsumer(js, c); err != nil {
		t.Fatalf("testkit: %v", err)
	}
}

// Message is a Mailpit message summary, with its attachments' contents.
type Message struct {
	ID          string
	To          []string
	Subject     string
	Text        string
	Attachments map[string][]byte
}

// Messages returns every message Mailpit holds for the address to.
func Messages(t testing.TB, m *parts.Mailpit, to string) []Message {
	t.Helper()
	return list(t, m, m.API+"/api/v1/search?query="+url.QueryEscape("to:"+to)+"&limit=500")
}

// All returns every message Mailpit holds.
func All(t testing.TB, m *parts.Mailpit) []Message {
	t.Helper()
	return list(t, m, m.API+"/api/v1/messages?limit=5000")
}

func list(t testing.TB, m *parts.Mailpit, listURL string) []Message {
	t.Helper()
	var list struct {
		Messages []struct {
			ID string
			To []struct{ Address string }
		}
	}
	getJSON(t, listURL, &list)
	var out []Message
	for _, s := range list.Messages {
		var full struct {
			ID          string
			Subject     string
			Text        string
			To          []struct{ Address string }
			Attachments []struct {
				PartID   string
				FileName string
			}
		}
		getJSON(t, m.API+"/api/v1/message/"+s.ID, &full)
		msg := Message{ID: full.ID, Subject: full.Subject, Text: full.Text, Attachments: map[string][]byte{}}
		for _, a := range full.To {
			msg.To = append(msg.To, a.Address)
		}
		for _, a := range full.Attachments {
			msg.Attachments[a.FileName] = get(t, m.API+"/api/v1/message/"+s.ID+"/part/"+a.PartID)
		}
		out = append(out, msg)
	}
	return out
}

func getJSON(t testing.TB, url string, v any) {
	t.Helper()
	if err := json.Unmarshal(get(t, url), v); err != nil {
		t.Fatalf("testkit: %s: %v", url, err)
	}
}

func get(t testing.TB, url string) []byte {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("testkit: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("testkit: %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("testkit: %s: %s: %s", url, resp.Status, b)
	}
	return b
}

// WriteTenants writes a tenants file for a test and returns its path.
func WriteTenants(t testing.TB, tenants platform.Tenants) string {
	t.Helper()
	b, err := json.Marshal(tenants)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "tenants.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Stage is what a test runs: a stage's Run and Running.
type Stage interface {
	Run(ctx context.Context) error
	Running() chan struct{}
}

// Run runs st until the test ends, and returns once it consumes.
func Run(t testing.TB, st Stage) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-st.Running()
}
