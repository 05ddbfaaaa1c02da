// Package testkit starts the real parts sluice's tests run on: an embedded
// NATS JetStream server (port -1, store in a temp dir), ClickHouse, MinIO and
// Mailpit as child processes on free loopback ports, each stopped when the
// test ends. A part that cannot start fails the test: there is no skip.
// scripts/parts.sh install is what installs ClickHouse, MinIO and Mailpit.
package testkit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/schemas"
)

// RepoRoot is the repository's root folder.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// NATS starts an embedded JetStream server with sluice's streams and returns
// it with a connection.
func NATS(t testing.TB) (*server.Server, *nats.Conn) {
	t.Helper()
	ns, err := platform.StartNATS(-1, t.TempDir())
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
	if err := platform.EnsureStreams(js); err != nil {
		t.Fatalf("testkit: %v", err)
	}
	return ns, nc
}

// ClickHouse is a running ClickHouse with sluice's database migrated.
type ClickHouse struct {
	Config platform.ClickHouseConfig
	Conn   driver.Conn
	Part   *platform.Part
}

// StartClickHouse starts ClickHouse in dir and migrates it. Call Stop when
// done (TestMain) or use ClickHouseT.
func StartClickHouse(dir string) (*ClickHouse, func(), error) {
	ctx := context.Background()
	port, err := freePortPair()
	if err != nil {
		return nil, nil, err
	}
	part, err := platform.StartClickHouse(ctx, dir, port, filepath.Join(RepoRoot(), "deploy", "clickhouse", "users.d"), "sluice")
	if err != nil {
		return nil, nil, err
	}
	cfg := platform.ClickHouseConfig{Addr: part.Addr, Database: "sluice", User: "sluice", Password: "sluice"}
	conn, err := platform.OpenClickHouse(ctx, cfg)
	if err != nil {
		part.Stop()
		return nil, nil, err
	}
	if err := platform.Migrate(ctx, conn, cfg.Database, schemas.Datasets); err != nil {
		conn.Close()
		part.Stop()
		return nil, nil, err
	}
	return &ClickHouse{Config: cfg, Conn: conn, Part: part}, func() { conn.Close(); part.Stop() }, nil
}

// Mailpit is a running Mailpit.
type Mailpit struct {
	SMTPAddr string
	API      string // http://host:port
}

// StartMailpit starts Mailpit in dir.
func StartMailpit(dir string) (*Mailpit, func(), error) {
	smtp, err := platform.FreePort()
	if err != nil {
		return nil, nil, err
	}
	web, err := platform.FreePort()
	if err != nil {
		return nil, nil, err
	}
	part, err := platform.StartMailpit(context.Background(), dir, smtp, web)
	if err != nil {
		return nil, nil, err
	}
	return &Mailpit{SMTPAddr: fmt.Sprintf("127.0.0.1:%d", smtp), API: "http://" + part.Addr}, part.Stop, nil
}

// MinIOConfig picks free ports for a MinIO StartMinIO will start.
func MinIOConfig() (platform.S3Config, error) {
	port, err := freePortPair()
	if err != nil {
		return platform.S3Config{}, err
	}
	return platform.S3Config{
		Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), Region: "us-east-1",
		AccessKey: "sluice", SecretKey: "sluice-secret", Bucket: "imports",
	}, nil
}

// StartMinIO starts MinIO (as cfg says, from MinIOConfig) in dir, publishing
// bucket events to the NATS server at natsURL, and creates the bucket with
// its event notification.
func StartMinIO(dir, natsURL string, cfg platform.S3Config) (*platform.Part, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	part, err := platform.StartMinIO(ctx, dir, port, strings.TrimPrefix(natsURL, "nats://"), cfg)
	if err != nil {
		return nil, err
	}
	if err := platform.ConfigureBucket(ctx, platform.NewS3Client(cfg), cfg.Bucket); err != nil {
		part.Stop()
		return nil, err
	}
	return part, nil
}

// freePortPair returns a port p such that p and p+1 are free (ClickHouse's
// HTTP port and MinIO's console take the next one).
func freePortPair() (int, error) {
	for range 50 {
		p, err := platform.FreePort()
		if err != nil {
			return 0, err
		}
		if ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+1)); err == nil {
			ln.Close()
			return p, nil
		}
	}
	return 0, fmt.Errorf("testkit: no two free ports in a row")
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
func (m *Mailpit) Messages(t testing.TB, to string) []Message {
	t.Helper()
	return m.list(t, m.API+"/api/v1/search?query="+url.QueryEscape("to:"+to)+"&limit=500")
}

// All returns every message Mailpit holds.
func (m *Mailpit) All(t testing.TB) []Message {
	t.Helper()
	return m.list(t, m.API+"/api/v1/messages?limit=5000")
}

func (m *Mailpit) list(t testing.TB, listURL string) []Message {
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
