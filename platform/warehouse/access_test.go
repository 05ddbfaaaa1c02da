package warehouse_test

import (
	"context"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/platform/parts"
	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// ClickHouse's exception codes for a refused statement or login.
const (
	codeDDLProhibited = 392 // QUERY_IS_PROHIBITED: allow_ddl=0
	codeReadonly      = 164 // READONLY: readonly=1
	codeDatabase      = 291 // DATABASE_ACCESS_DENIED: not in allow_databases
	codeNetwork       = 195 // IP_ADDRESS_NOT_ALLOWED: not in networks
)

// farUsers is a users.d file for the test only: sluice_far is load's user
// (same password, same profile) admitted only from a network the test does
// not connect from, written as deploy/clickhouse/users.d writes networks.
const farUsers = `<?xml version="1.0"?>
<yandex><users><sluice_far>
    <password_sha256_hex>39cb0334ab9ae6eb4883708fc0960e77fb7a2f416398444869bcc2fd287be741</password_sha256_hex>
    <networks><ip>10.254.254.0/255.255.255.0</ip></networks>
    <profile>sluice_writer</profile><quota>default</quota>
    <allow_databases><database>sluice</database></allow_databases>
</sluice_far></users></yandex>
`

// accessServer starts ClickHouse with deploy/clickhouse/users.d and
// farUsers, migrated by the migration user, and a table in the default
// database that no sluice user may touch.
func accessServer(t *testing.T) (*parts.ClickHouse, func()) {
	t.Helper()
	users := t.TempDir()
	deploy := filepath.Join(parts.RepoRoot(), "deploy", "clickhouse", "users.d", "sluice.xml")
	b, err := os.ReadFile(deploy)
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string][]byte{"sluice.xml": b, "zz-far.xml": []byte(farUsers)} {
		if err := os.WriteFile(filepath.Join(users, name), text, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	port, err := parts.FreePortPair()
	if err != nil {
		t.Fatal(err)
	}
	part, err := parts.StartClickHouse(ctx, t.TempDir(), port, users, "sluice")
	if err != nil {
		t.Fatal(err)
	}
	base, err := platform.LoadConfig(func(string) string { return "" })
	if err != nil {
		part.Stop()
		t.Fatal(err)
	}
	ch := &parts.ClickHouse{Config: base.ClickHouse, Part: part}
	ch.Config.Addr = part.Addr
	stop := func() { part.Stop() }
	ch.Conn = connect(t, ch, ch.Config.Migrate, stop)
	if err := warehouse.Migrate(ctx, ch.Conn, "sluice", schemas.Datasets, base.PersonalDataTTL); err != nil {
		stop()
		t.Fatalf("Migrate as %s: %v", ch.Config.Migrate.Name, err)
	}
	admin := connect(t, ch, platform.ClickHouseUser{Name: "default"}, stop)
	defer admin.Close()
	if err := admin.Exec(ctx, "CREATE TABLE IF NOT EXISTS default.other (a UInt8) ENGINE = Memory"); err != nil {
		stop()
		t.Fatal(err)
	}
	return ch, func() { ch.Conn.Close(); stop() }
}

func connect(t *testing.T, ch *parts.ClickHouse, user platform.ClickHouseUser, stop func()) driver.Conn {
	t.Helper()
	conn, err := ch.Connect(context.Background(), user)
	if err != nil {
		stop()
		t.Fatalf("connect as %s: %v", user.Name, err)
	}
	return conn
}

// code is the ClickHouse exception code of err; 0 when it has none.
func code(err error) int32 {
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		return ex.Code
	}
	return 0
}

// TestUsers runs each user's work, and what each may not do, on a real
// ClickHouse with deploy/clickhouse/users.d: the stages' users write and
// read sluice's tables but run no DDL and touch no other database; the
// reader only reads; the migration user runs DDL in sluice's database only.
func TestUsers(t *testing.T) {
	ch, stop := accessServer(t)
	defer stop()
	ctx := context.Background()
	conns := map[string]driver.Conn{"migrate": ch.Conn}
	for role, u := range map[string]platform.ClickHouseUser{"load": ch.Config.Load, "notify": ch.Config.Notify, "reader": ch.Config.Reader} {
		conns[role] = connect(t, ch, u, func() {})
		defer conns[role].Close()
	}
	// Inserts are INSERT ... SELECT: clickhouse-go sends the rows of an
	// INSERT ... VALUES as a batch (PrepareBatch), not through Exec.
	rejection := "INSERT INTO sluice.import_rejections (import_id, row, tenant, dataset, columns, codes, messages, values, version) SELECT 'i', 1, 't', 'clients', ['email'], ['format'], ['bad'], ['x@'], 1"
	cases := []struct {
		role, query string
		want        int32 // 0: succeeds
	}{
		{"load", "INSERT INTO sluice.clients (tenant, email, version) SELECT 't', 'a@t.example', 1", 0},
		{"load", "INSERT INTO sluice.clients_staged (tenant, email, import_id, version) SELECT 't', 'b@t.example', 'i', 1", 0},
		{"load", "INSERT INTO sluice.import_rows (import_id, row, chunk, outcome, version) SELECT 'i', 1, 0, 'rejected', 1", 0},
		{"load", rejection, 0},
		{"load", "SELECT count() FROM sluice.clients FINAL", 0},
		{"notify", "INSERT INTO sluice.clients (tenant, email, version) SELECT tenant, email, version FROM sluice.clients_staged FINAL WHERE import_id = 'i'", 0},
		{"notify", "INSERT INTO sluice.imports (import_id, status, version) SELECT 'i', 'completed', 3", 0},
		{"notify", "SELECT count() FROM sluice.import_rejections FINAL", 0},
		{"reader", "SELECT count() FROM sluice.clients FINAL", 0},
		{"migrate", "CREATE TABLE IF NOT EXISTS sluice.scratch (a UInt8) ENGINE = Memory", 0},
		{"migrate", "DROP TABLE IF EXISTS sluice.scratch", 0},

		{"reader", "INSERT INTO sluice.imports (import_id, version) SELECT 'r', 1", codeReadonly},
		{"reader", "CREATE TABLE sluice.r (a UInt8) ENGINE = Memory", codeReadonly},
		{"reader", "ALTER TABLE sluice.import_rejections DELETE WHERE 1", codeReadonly},
		{"reader", "SELECT count() FROM default.other", codeDatabase},
		{"migrate", "SELECT count() FROM default.other", codeDatabase},
		{"migrate", "CREATE TABLE default.m (a UInt8) ENGINE = Memory", codeDatabase},
	}
	for _, role := range []string{"load", "notify"} {
		cases = append(cases, []struct {
			role, query string
			want        int32
		}{
			{role, "CREATE TABLE sluice.x (a UInt8) ENGINE = Memory", codeDDLProhibited},
			{role, "CREATE DATABASE other", codeDDLProhibited},
			{role, "DROP TABLE sluice.imports", codeDDLProhibited},
			{role, "TRUNCATE TABLE sluice.import_rows", codeDDLProhibited},
			{role, "ALTER TABLE sluice.imports ADD COLUMN x UInt8", codeDDLProhibited},
			{role, "ALTER TABLE sluice.clients_staged DELETE WHERE 1", codeDDLProhibited},
			{role, "RENAME TABLE sluice.clients TO sluice.clients_away", codeDDLProhibited},
			{role, "OPTIMIZE TABLE sluice.clients FINAL", codeDDLProhibited},
			{role, "SET allow_ddl = 1", codeDDLProhibited},
			{role, "SYSTEM STOP MERGES", codeDDLProhibited},
			{role, "SELECT count() FROM default.other", codeDatabase},
			{role, "INSERT INTO default.other (a) SELECT 1", codeDatabase},
		}...)
	}
	for _, tc := range cases {
		t.Run(tc.role+": "+tc.query, func(t *testing.T) {
			err := conns[tc.role].Exec(ctx, tc.query)
			if got := code(err); got != tc.want || (tc.want == 0) != (err == nil) {
				t.Errorf("error = %v (code %d), want code %d", err, got, tc.want)
			}
		})
	}
	t.Run("expiry runs as the migration user only", func(t *testing.T) {
		if err := warehouse.Expire(ctx, conns["notify"], "sluice", schemas.Datasets, time.Nanosecond); code(err) != codeDDLProhibited {
			t.Errorf("Expire as notify: %v, want code %d", err, codeDDLProhibited)
		}
		if err := warehouse.Expire(ctx, ch.Conn, "sluice", schemas.Datasets, time.Hour); err != nil {
			t.Errorf("Expire as migrate: %v", err)
		}
	})
}

// TestNetworkRefused connects as a user admitted only from another network:
// the server refuses it, though its password is right.
func TestNetworkRefused(t *testing.T) {
	ch, stop := accessServer(t)
	defer stop()
	conn, err := ch.Connect(context.Background(), platform.ClickHouseUser{Name: "sluice_far", Password: ch.Config.Load.Password})
	if err == nil {
		conn.Close()
	}
	if code(err) != codeNetwork {
		t.Errorf("connect from loopback as sluice_far: %v, want code %d", err, codeNetwork)
	}
}

// TestDeployedNetworks reads deploy/clickhouse/users.d: every user is
// limited to sluice's database and to networks written as address/mask or a
// single address (18.16 reads an IPv4 prefix length so that it admits
// every IPv4 client), never to every address; no password is in clear.
func TestDeployedNetworks(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(parts.RepoRoot(), "deploy", "clickhouse", "users.d", "sluice.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Users struct {
			Users []struct {
				XMLName   xml.Name
				Password  *string  `xml:"password"`
				Hash      string   `xml:"password_sha256_hex"`
				IPs       []string `xml:"networks>ip"`
				Hosts     []string `xml:"networks>host"`
				Regexps   []string `xml:"networks>host_regexp"`
				Databases []string `xml:"allow_databases>database"`
			} `xml:",any"`
		} `xml:"users"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Users.Users) != 4 {
		t.Fatalf("users = %d, want migrate, load, notify and reader", len(doc.Users.Users))
	}
	for _, u := range doc.Users.Users {
		name := u.XMLName.Local
		if u.Password != nil || len(u.Hash) != 64 {
			t.Errorf("%s: want a password_sha256_hex and no plaintext password", name)
		}
		if len(u.Databases) != 1 || u.Databases[0] != "sluice" {
			t.Errorf("%s: databases %q, want sluice only", name, u.Databases)
		}
		if len(u.IPs) == 0 || len(u.Hosts)+len(u.Regexps) > 0 {
			t.Errorf("%s: networks %q %q %q, want loopback addresses", name, u.IPs, u.Hosts, u.Regexps)
		}
		for _, ip := range u.IPs {
			if ip != "127.0.0.1" && ip != "::1" || strings.Contains(ip, "/") {
				t.Errorf("%s: network %q, want loopback only", name, ip)
			}
		}
	}
}

// TestGrantsNameEveryTable checks that deploy/clickhouse/grants.sql, the
// per-table grants for a release that has them, names every table the
// migrations create, so that a new table is not forgotten there.
func TestGrantsNameEveryTable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(parts.RepoRoot(), "deploy", "clickhouse", "grants.sql"))
	if err != nil {
		t.Fatal(err)
	}
	sql := string(b)
	var tables []string
	for _, tbl := range warehouse.AuditTables {
		tables = append(tables, tbl.Name)
	}
	for _, ds := range schemas.Datasets {
		for _, target := range ds.Writes() {
			tables = append(tables, target.Table, warehouse.StagedTable(target.Table))
		}
	}
	for _, name := range tables {
		if !strings.Contains(sql, "ON sluice."+name+" TO") {
			t.Errorf("grants.sql grants nothing on sluice.%s", name)
		}
	}
}
