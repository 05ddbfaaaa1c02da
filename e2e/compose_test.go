package e2e

import (
	"context"
	"encoding/xml"
	"maps"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"

	"github.com/sluicehq/sluice/platform"
)

// TestComposeFileLoads checks docker-compose.yml the way Docker Compose reads
// it (there is no Docker engine on the build machines): it must load, hold
// every part of the stack, and start each stage with its own command and its
// NATS server.
func TestComposeFileLoads(t *testing.T) {
	t.Parallel()
	// With an empty environment: the ${VAR:-default}s resolve to the file's
	// defaults, and every command (docker compose ps, run tenant) works.
	project, err := loadCompose(t, nil)
	if err != nil {
		t.Fatalf("load docker-compose.yml: %v", err)
	}

	// The secret key: empty without SLUICE_SECRET_KEY (no published
	// fallback; the stages refuse to start without one), and given, the
	// same for the three stages that seal and open passwords, and for
	// notify and `sluice invite`, which hash a password set by an
	// invitation link as transform does; no other.
	key := platform.NewSecretKey()
	keyed, err := loadCompose(t, []string{"SLUICE_SECRET_KEY=" + key})
	if err != nil {
		t.Fatalf("load docker-compose.yml with SLUICE_SECRET_KEY: %v", err)
	}
	sealers := []string{"ingest", "validate", "transform", "notify", "invite"}
	for _, p := range []struct {
		project *types.Project
		want    string
	}{{project, ""}, {keyed, key}} {
		all := maps.Clone(p.project.Services) // the admin profile's too: invite, tenant
		maps.Copy(all, p.project.DisabledServices)
		for name, svc := range all {
			v, ok := svc.Environment["SLUICE_SECRET_KEY"]
			switch {
			case slices.Contains(sealers, name) && (!ok || v == nil || *v != p.want):
				t.Errorf("%s SLUICE_SECRET_KEY: got %s, want %q", name, deref(v), p.want)
			case !slices.Contains(sealers, name) && ok:
				t.Errorf("%s SLUICE_SECRET_KEY: set, want it only for %v", name, sealers)
			}
		}
	}

	for _, name := range []string{"nats", "minio", "minio-setup", "clickhouse", "mailpit", "prometheus", "grafana"} {
		t.Run(name, func(t *testing.T) {
			if _, err := project.GetService(name); err != nil {
				t.Fatalf("service %s: got %v, want it defined", name, err)
			}
		})
	}

	// Deleting a file cancels its import in compose as in the demo: the
	// bucket publishes removals too.
	t.Run("bucket events", func(t *testing.T) {
		setup, err := project.GetService("minio-setup")
		if err != nil {
			t.Fatal(err)
		}
		if script := strings.Join(setup.Command, " "); !strings.Contains(script, "--event put,delete") {
			t.Errorf("minio-setup subscribes the bucket with:\n%s\nwant --event put,delete", script)
		}
	})

	for _, stage := range []string{"ingest", "validate", "transform", "load", "notify"} {
		t.Run(stage, func(t *testing.T) {
			svc, err := project.GetService(stage)
			if err != nil {
				t.Fatalf("service %s: got %v, want it defined", stage, err)
			}
			if want := (types.ShellCommand{"sluice", stage}); !slices.Equal(svc.Command, want) {
				t.Fatalf("%s command: got %q, want %q", stage, svc.Command, want)
			}
			url, ok := svc.Environment["SLUICE_NATS_URL"]
			if !ok || url == nil || *url == "" {
				t.Fatalf("%s SLUICE_NATS_URL: got %v, want it set", stage, url)
			}
			// Each stage is its own NATS user (deploy/nats.conf).
			if user := svc.Environment["SLUICE_NATS_USER"]; user == nil || *user != stage {
				t.Fatalf("%s SLUICE_NATS_USER: got %v, want %q", stage, user, stage)
			}
			// Its consumer exists before it starts: it may not create one.
			if dep, ok := svc.DependsOn["migrate"]; !ok || dep.Condition != types.ServiceConditionCompletedSuccessfully {
				t.Fatalf("%s depends on migrate: got %+v, want it completed successfully", stage, dep)
			}
		})
	}

	t.Run("migrate", func(t *testing.T) {
		svc, err := project.GetService("migrate")
		if err != nil {
			t.Fatalf("service migrate: got %v, want it defined", err)
		}
		if want := (types.ShellCommand{"sluice", "migrate"}); !slices.Equal(svc.Command, want) {
			t.Fatalf("migrate command: got %q, want %q", svc.Command, want)
		}
		if user := svc.Environment["SLUICE_NATS_USER"]; user == nil || *user != "admin" {
			t.Fatalf("migrate SLUICE_NATS_USER: got %v, want admin", user)
		}
		nats, err := project.GetService("nats")
		if err != nil {
			t.Fatal(err)
		}
		if pw, server := svc.Environment["SLUICE_NATS_PASSWORD"], nats.Environment["ADMIN_PASSWORD"]; pw == nil || server == nil || *pw != *server {
			t.Fatalf("admin password: migrate presents %v, nats checks %v", pw, server)
		}
	})

	t.Run("clickhouse-users", testComposeClickHouseUsers)
	t.Run("prometheus and grafana", func(t *testing.T) { testComposeObservability(t, project) })
}

// testComposeObservability checks what Prometheus and Grafana are given:
// Prometheus finds the rule files deploy/prometheus.yml names where compose
// mounts them, and Grafana installs the ClickHouse plugin its provisioned
// ClickHouse datasource needs, and reads as sluice_reader with the
// password the server checks.
func testComposeObservability(t *testing.T, project *types.Project) {
	prom, err := project.GetService("prometheus")
	if err != nil {
		t.Fatal(err)
	}
	const promDir = "/etc/prometheus"
	cfgPath, ok := hostPath(prom, path.Join(promDir, "prometheus.yml"))
	if !ok {
		t.Fatalf("prometheus: no prometheus.yml mounted: %+v", prom.Volumes)
	}
	var cfg struct {
		RuleFiles []string `yaml:"rule_files"`
	}
	if err := yaml.Unmarshal(readFile(t, cfgPath), &cfg); err != nil {
		t.Fatalf("%s: %v", cfgPath, err)
	}
	alerts, err := filepath.Abs("../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(cfg.RuleFiles, func(rf string) bool {
		p, ok := hostPath(prom, path.Join(promDir, rf))
		return ok && p == alerts
	}) {
		t.Errorf("prometheus: rule_files %q: none is %s where compose mounts it", cfg.RuleFiles, alerts)
	}

	grafana, err := project.GetService("grafana")
	if err != nil {
		t.Fatal(err)
	}
	if v := grafana.Environment["GF_INSTALL_PLUGINS"]; v == nil || !slices.Contains(strings.Split(*v, ","), "grafana-clickhouse-datasource") {
		t.Errorf("grafana GF_INSTALL_PLUGINS: got %s, want grafana-clickhouse-datasource", deref(v))
	}
	dsPath, ok := hostPath(grafana, "/etc/grafana/provisioning/datasources/clickhouse.yml")
	if !ok {
		t.Fatalf("grafana: no provisioning mounted: %+v", grafana.Volumes)
	}
	var ds struct {
		Datasources []struct {
			Type     string `yaml:"type"`
			JSONData struct {
				Host     string `yaml:"host"`
				Username string `yaml:"username"`
			} `yaml:"jsonData"`
			Secure struct {
				Password string `yaml:"password"`
			} `yaml:"secureJsonData"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(readFile(t, dsPath), &ds); err != nil {
		t.Fatalf("%s: %v", dsPath, err)
	}
	if len(ds.Datasources) != 1 {
		t.Fatalf("%s: %d datasources, want the ClickHouse one", dsPath, len(ds.Datasources))
	}
	d := ds.Datasources[0]
	if d.Type != "grafana-clickhouse-datasource" || d.JSONData.Host != "clickhouse" || d.JSONData.Username != "sluice_reader" ||
		d.Secure.Password != "$CLICKHOUSE_READER_PASSWORD" {
		t.Errorf("%s: got %+v, want the plugin's type, clickhouse as sluice_reader with $CLICKHOUSE_READER_PASSWORD", dsPath, d)
	}
	// sluice_reader is admitted from the default network only.
	if _, ok := grafana.Networks["default"]; len(grafana.Networks) > 0 && !ok {
		t.Errorf("grafana: networks %v, want default", slices.Sorted(maps.Keys(grafana.Networks)))
	}
}

// hostPath is where a path of svc's container is on this machine, through
// its bind mounts.
func hostPath(svc types.ServiceConfig, p string) (string, bool) {
	for _, v := range svc.Volumes {
		if v.Type == types.VolumeTypeBind && (p == v.Target || strings.HasPrefix(p, v.Target+"/")) {
			return filepath.Join(v.Source, strings.TrimPrefix(p, v.Target)), true
		}
	}
	return "", false
}

// loadCompose reads docker-compose.yml with exactly env as its environment:
// whatever the machine running the test has set is not read, nor an .env
// file.
func loadCompose(t *testing.T, env []string) (*types.Project, error) {
	t.Helper()
	return loadComposeFiles(t, env, "../docker-compose.yml")
}

// loadComposeFiles reads compose files, each over the ones before it (as
// `docker compose -f a -f b` does), with the repository as the project's
// folder, and exactly env as the environment.
func loadComposeFiles(t *testing.T, env []string, files ...string) (*types.Project, error) {
	t.Helper()
	opts, err := cli.NewProjectOptions(files,
		cli.WithWorkingDirectory(".."),
		cli.WithEnv(env),
	)
	if err != nil {
		t.Fatalf("compose options: %v", err)
	}
	return cli.ProjectFromOptions(context.Background(), opts)
}

// chClient is a compose service that connects to ClickHouse, as whom, and
// through which role network, where the clickhouse service has alias.
type chClient struct {
	service, role, user string
	network, alias      string
}

// chClients are the services of sluice that use ClickHouse; Grafana reads it
// too, as sluice_reader (testComposeObservability).
var chClients = []chClient{
	{"migrate", "MIGRATE", "sluice_migrate", "ch-migrate", "clickhouse-migrate"},
	{"expire", "MIGRATE", "sluice_migrate", "ch-migrate", "clickhouse-migrate"},
	{"load", "LOAD", "sluice_load", "ch-load", "clickhouse-load"},
	{"notify", "NOTIFY", "sluice_notify", "ch-notify", "clickhouse-notify"},
	{"invite", "NOTIFY", "sluice_notify", "ch-notify", "clickhouse-notify"},
}

// chUsersConfig is the compose overlay on deploy/clickhouse/users.d.
const chUsersConfig = "clickhouse-users-compose"

// chOverlay is what the overlay says of each user.
type chOverlay struct {
	XMLName    xml.Name
	RemoveHash *struct {
		Remove string `xml:"remove,attr"`
	} `xml:"password_sha256_hex"`
	Password *struct {
		FromEnv string `xml:"from_env,attr"`
	} `xml:"password"`
	Networks struct {
		Replace string   `xml:"replace,attr"`
		IPs     []string `xml:"ip"`
		Hosts   []string `xml:"host"`
		Regexps []string `xml:"host_regexp"`
	} `xml:"networks"`
	RemoveDBs *struct {
		Remove string `xml:"remove,attr"`
	} `xml:"allow_databases"`
	Grants []string `xml:"grants>query"`
}

func chOverlayUsers(t *testing.T, project *types.Project) map[string]chOverlay {
	t.Helper()
	cfg, ok := project.Configs[chUsersConfig]
	if !ok {
		t.Fatalf("config %s: not defined", chUsersConfig)
	}
	var doc struct {
		Users struct {
			Users []chOverlay `xml:",any"`
		} `xml:"users"`
	}
	if err := xml.Unmarshal([]byte(cfg.Content), &doc); err != nil {
		t.Fatalf("config %s: %v", chUsersConfig, err)
	}
	users := map[string]chOverlay{}
	for _, u := range doc.Users.Users {
		users[u.XMLName.Local] = u
	}
	return users
}

// grantsSQL reads deploy/clickhouse/grants.sql's GRANT statements by user,
// without their TO clause (a users file's grants name no grantee).
func grantsSQL(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile("../deploy/clickhouse/grants.sql")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^(GRANT .+) TO (\w+);$`)
	grants := map[string][]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if m := re.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			grants[m[2]] = append(grants[m[2]], m[1])
		}
	}
	return grants
}

// testComposeClickHouseUsers checks what compose does to sluice's ClickHouse
// users: each user is admitted only from its role network's ip_range (the
// reader: the default subnet), a network that holds the clickhouse service
// and that user's clients only (so they scale out with --scale, and nothing
// else is admitted), which each client reaches through that network; each
// password is one variable shared by server and client, and each user has
// grants.sql's per-table grants instead of allow_databases.
func testComposeClickHouseUsers(t *testing.T) {
	project, err := loadCompose(t, nil)
	if err != nil {
		t.Fatalf("load docker-compose.yml: %v", err)
	}
	const (
		subnet  = "172.30.57.0/24"
		gateway = "172.30.57.1"
		reader  = "172.30.57.0/255.255.255.0"
	)
	// pool is a network's one IPAM pool.
	pool := func(t *testing.T, name string) *types.IPAMPool {
		t.Helper()
		network, ok := project.Networks[name]
		if !ok || len(network.Ipam.Config) != 1 {
			t.Fatalf("network %s: got %+v, want one IPAM pool", name, network.Ipam)
		}
		return network.Ipam.Config[0]
	}
	t.Run("network", func(t *testing.T) {
		if p := pool(t, "default"); p.Subnet != subnet || p.Gateway != gateway {
			t.Fatalf("default network pool: got %+v, want subnet %s, gateway %s", p, subnet, gateway)
		}
	})

	users := chOverlayUsers(t, project)
	if len(users) != 4 {
		t.Errorf("%s users: got %d, want sluice_migrate, sluice_load, sluice_notify, sluice_reader", chUsersConfig, len(users))
	}
	clickhouse, err := project.GetService("clickhouse")
	if err != nil {
		t.Fatal(err)
	}
	mounted := false
	for _, c := range clickhouse.Configs {
		if c.Source == chUsersConfig {
			// After sluice.xml in users.d's name order, so that it wins.
			mounted = path.Dir(c.Target) == "/etc/clickhouse-server/users.d" && path.Base(c.Target) > "sluice.xml"
		}
	}
	if !mounted {
		t.Errorf("clickhouse: %s not mounted in users.d after sluice.xml: %+v", chUsersConfig, clickhouse.Configs)
	}
	// The reader, Prometheus and the published port reach it on default.
	if _, ok := clickhouse.Networks["default"]; !ok {
		t.Errorf("clickhouse: got networks %v, want default among them", slices.Sorted(maps.Keys(clickhouse.Networks)))
	}

	// No fixed address anywhere: every service scales out.
	all := maps.Clone(project.Services)
	maps.Copy(all, project.DisabledServices)
	for name, svc := range all {
		for network, nc := range svc.Networks {
			if nc != nil && (nc.Ipv4Address != "" || nc.Ipv6Address != "") {
				t.Errorf("%s on %s: fixed address %q %q, want none (it stops --scale)", name, network, nc.Ipv4Address, nc.Ipv6Address)
			}
		}
	}

	want := map[string][]string{"sluice_reader": {reader}}
	_, defaultNet, _ := net.ParseCIDR(subnet)
	subnets := []*net.IPNet{defaultNet}
	checked := map[string]bool{}
	for _, c := range chClients {
		svc, ok := all[c.service] // invite runs under the admin profile
		if !ok {
			t.Fatalf("service %s: not defined", c.service)
		}
		if u := svc.Environment["SLUICE_"+c.role+"_CLICKHOUSE_USER"]; u == nil || *u != c.user {
			t.Errorf("%s SLUICE_%s_CLICKHOUSE_USER: got %s, want %s", c.service, c.role, deref(u), c.user)
		}
		// On its role network (and default, for NATS), and dialling
		// ClickHouse by its alias there: the service name might resolve to
		// ClickHouse's default address, from which its user is refused.
		if _, ok := svc.Networks[c.network]; !ok {
			t.Errorf("%s: got networks %v, want %s", c.service, slices.Sorted(maps.Keys(svc.Networks)), c.network)
		}
		if _, ok := svc.Networks["default"]; !ok {
			t.Errorf("%s: got networks %v, want default too", c.service, slices.Sorted(maps.Keys(svc.Networks)))
		}
		if a := svc.Environment["SLUICE_CLICKHOUSE_ADDR"]; a == nil || *a != c.alias+":9000" {
			t.Errorf("%s SLUICE_CLICKHOUSE_ADDR: got %s, want %q", c.service, deref(a), c.alias+":9000")
		}
		if nc := clickhouse.Networks[c.network]; nc == nil || !slices.Contains(nc.Aliases, c.alias) {
			t.Errorf("clickhouse on %s: got %+v, want alias %s", c.network, nc, c.alias)
		}
		if checked[c.network] {
			continue // migrate and expire share ch-migrate
		}
		checked[c.network] = true
		t.Run(c.network, func(t *testing.T) {
			if n := project.Networks[c.network]; !n.Internal {
				t.Errorf("%s: not internal (it could become a container's gateway network, taking the published port and its default route)", c.network)
			}
			p := pool(t, c.network)
			_, sub, err1 := net.ParseCIDR(p.Subnet)
			_, dynamic, err2 := net.ParseCIDR(p.IPRange)
			gw := net.ParseIP(p.Gateway)
			if err1 != nil || err2 != nil || gw == nil {
				t.Fatalf("%s pool: got %+v, want a subnet, an ip_range and a gateway", c.network, p)
			}
			// Every container's address, and not the host's (the gateway).
			ones, _ := dynamic.Mask.Size()
			subOnes, _ := sub.Mask.Size()
			if !sub.Contains(dynamic.IP) || ones < subOnes || !sub.Contains(gw) || dynamic.Contains(gw) {
				t.Errorf("%s pool %+v: want ip_range inside the subnet, and the gateway inside the subnet but outside ip_range", c.network, p)
			}
			for _, other := range subnets {
				if other.Contains(sub.IP) || sub.Contains(other.IP) {
					t.Errorf("%s subnet %s overlaps %s", c.network, sub, other)
				}
			}
			subnets = append(subnets, sub)
			want[c.user] = []string{dynamic.IP.String() + "/" + net.IP(dynamic.Mask).String()}

			// The clickhouse service and this role's clients only.
			var on []string
			for name, svc := range all {
				if _, ok := svc.Networks[c.network]; ok {
					on = append(on, name)
				}
			}
			slices.Sort(on)
			allowed := []string{"clickhouse"}
			for _, o := range chClients {
				if o.network == c.network {
					allowed = append(allowed, o.service)
				}
			}
			slices.Sort(allowed)
			if !slices.Equal(on, allowed) {
				t.Errorf("%s: got services %v, want %v", c.network, on, allowed)
			}
		})
	}
	if len(project.Networks) != len(subnets) {
		t.Errorf("networks: got %v, want default and one per ClickHouse role", slices.Sorted(maps.Keys(project.Networks)))
	}

	grants := grantsSQL(t)
	for name, nets := range want {
		t.Run(name, func(t *testing.T) {
			u, ok := users[name]
			if !ok {
				t.Fatalf("%s: not in %s", name, chUsersConfig)
			}
			// Only the addresses that need it, replacing sluice.xml's
			// loopback, in the address/mask form 18.16 also enforces.
			if u.Networks.Replace == "" || len(u.Networks.Hosts)+len(u.Networks.Regexps) > 0 || !slices.Equal(sorted(u.Networks.IPs), sorted(nets)) {
				t.Errorf("networks: got replace=%q ip %q host %q host_regexp %q, want replace and ip %q", u.Networks.Replace, u.Networks.IPs, u.Networks.Hosts, u.Networks.Regexps, nets)
			}
			for _, ip := range u.Networks.IPs {
				if _, mask, ok := strings.Cut(ip, "/"); !ok || !strings.Contains(mask, ".") {
					t.Errorf("network %q: want address/mask", ip)
				}
			}
			// The password from the clickhouse service's environment, and
			// sluice.xml's hash removed (a user takes one password).
			if u.RemoveHash == nil || u.RemoveHash.Remove == "" {
				t.Errorf("password_sha256_hex: want it removed")
			}
			if u.Password == nil || u.Password.FromEnv == "" {
				t.Fatalf("password: want one from_env")
			}
			if v := clickhouse.Environment[u.Password.FromEnv]; v == nil || *v == "" {
				t.Errorf("clickhouse %s: got %s, want it set (from_env leaves the password empty without it)", u.Password.FromEnv, deref(v))
			}
			// grants.sql's grants, which ClickHouse takes only without
			// allow_databases.
			if u.RemoveDBs == nil || u.RemoveDBs.Remove == "" {
				t.Errorf("allow_databases: want it removed (ClickHouse refuses it beside grants)")
			}
			if len(grants[name]) == 0 || !slices.Equal(sorted(u.Grants), sorted(grants[name])) {
				t.Errorf("grants:\n got  %q\n want %q (grants.sql)", u.Grants, grants[name])
			}
		})
	}

	// One variable per user, read by the server and presented by its
	// clients: set, both change; unset, both are the dev default.
	t.Run("passwords", func(t *testing.T) {
		roles := []string{"MIGRATE", "LOAD", "NOTIFY", "READER"}
		var env []string
		for _, r := range roles {
			env = append(env, "CLICKHOUSE_"+r+"_PASSWORD=set-"+strings.ToLower(r))
		}
		set, err := loadCompose(t, env)
		if err != nil {
			t.Fatalf("load docker-compose.yml: %v", err)
		}
		for _, p := range []struct {
			project *types.Project
			prefix  string
		}{{project, "dev-only-"}, {set, "set-"}} {
			server, err := p.project.GetService("clickhouse")
			if err != nil {
				t.Fatal(err)
			}
			users := chOverlayUsers(t, p.project)
			for _, r := range roles {
				name := "sluice_" + strings.ToLower(r)
				want := p.prefix + strings.ToLower(r)
				u := users[name]
				if u.Password == nil {
					t.Fatalf("%s: no password", name)
				}
				if v := server.Environment[u.Password.FromEnv]; v == nil || *v != want {
					t.Errorf("clickhouse %s (%s): got %s, want %q", u.Password.FromEnv, name, deref(v), want)
				}
				for _, c := range chClients {
					if c.role != r {
						continue
					}
					svc, ok := p.project.Services[c.service]
					if !ok {
						svc, ok = p.project.DisabledServices[c.service] // invite: the admin profile
					}
					if !ok {
						t.Fatalf("service %s: not defined", c.service)
					}
					if v := svc.Environment["SLUICE_"+r+"_CLICKHOUSE_PASSWORD"]; v == nil || *v != want {
						t.Errorf("%s SLUICE_%s_CLICKHOUSE_PASSWORD: got %s, want %q", c.service, r, deref(v), want)
					}
				}
				if r == "READER" { // Grafana's ClickHouse datasource
					grafana, err := p.project.GetService("grafana")
					if err != nil {
						t.Fatal(err)
					}
					if v := grafana.Environment["CLICKHOUSE_READER_PASSWORD"]; v == nil || *v != want {
						t.Errorf("grafana CLICKHOUSE_READER_PASSWORD: got %s, want %q", deref(v), want)
					}
				}
			}
		}
	})
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// deref shows an environment value, or that it is unset.
func deref(v *string) string {
	if v == nil {
		return "<unset>"
	}
	return strconv.Quote(*v)
}
