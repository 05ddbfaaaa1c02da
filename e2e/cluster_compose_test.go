package e2e

import (
	"encoding/xml"
	"flag"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/sluicehq/sluice/platform/warehouse"
	"github.com/sluicehq/sluice/schemas"
)

// clusterCompose is the clustered stack's file, read over the root one.
const clusterCompose = "../deploy/cluster/docker-compose.yml"

// clusterUsers is the stage users' grants on every ClickHouse node of it.
const clusterUsers = "../deploy/cluster/clickhouse-users.xml"

// Where the clustered stack's nodes find their configuration, in their
// containers.
const (
	chClusterConfig = "/etc/clickhouse-server/config.d/cluster.xml"
	chClusterUsers  = "/etc/clickhouse-server/users.d/zzz-cluster-users.xml"
	keeperConfig    = "/etc/clickhouse-keeper/keeper_config.xml"
	chDataDir       = "/var/lib/clickhouse"
)

// localSuffix names the table that holds a Distributed table's rows on each
// node of a cluster (platform/warehouse's localSuffix, which it does not
// export).
const localSuffix = "_local"

// migrateClusterGrant is what sluice_migrate needs on a cluster beyond its
// rights on the sluice database: CLUSTER for ON CLUSTER statements
// (access_control_improvements.on_cluster_queries_require_cluster_grant,
// on by default), REMOTE to create a Distributed table (a table engine that
// reaches other servers is granted only with its source's right).
const migrateClusterGrant = "GRANT CLUSTER, REMOTE ON *.*"

// TestClusterCompose checks the wiring of deploy/cluster/docker-compose.yml
// over docker-compose.yml, as Docker Compose reads them (there is no Docker
// engine on the build machines): its NATS nodes as nats-server reads their
// command line and files, its ClickHouse and Keeper nodes against the XML
// mounted into them, and what every stage is told. Then it shows that a
// broken copy of each part is caught.
//
// Serial: it sets environment variables (t.Setenv).
func TestClusterCompose(t *testing.T) {
	project, err := loadComposeFiles(t, nil, "../docker-compose.yml", clusterCompose)
	if err != nil {
		t.Fatalf("load the clustered stack: %v", err)
	}
	for _, p := range clusterProblems(t, project) {
		t.Error(p)
	}

	cluster, err := os.ReadFile(clusterCompose)
	if err != nil {
		t.Fatal(err)
	}
	const urls = "environment: {SLUICE_NATS_URL: *nats-urls}"
	for _, b := range []struct {
		name string
		// The broken copy has old replaced by new in file (a path from
		// e2e/): the cluster compose file or one it mounts.
		file, old, new string
		// want is in one of the problems found in the copy.
		want string
	}{
		{"a stage misses a NATS node", clusterCompose, "validate:\n    <<: *stage-cluster\n    " + urls,
			"validate:\n    <<: *stage-cluster\n    environment: {SLUICE_NATS_URL: 'nats://nats-1:4222,nats://nats-2:4222'}",
			"validate: SLUICE_NATS_URL reaches [nats nats-2], want every NATS node"},
		{"a stage's URL names no node", clusterCompose, "load:\n    <<: *stage-cluster\n    environment:\n      SLUICE_NATS_URL: *nats-urls",
			"load:\n    <<: *stage-cluster\n    environment:\n      SLUICE_NATS_URL: nats://nats-1:4222,nats://nats-2:4222,nats://nats3:4222",
			`load: SLUICE_NATS_URL host "nats3" is 0 NATS nodes`},
		{"a route is missing", clusterCompose, ",nats://route:${NATS_ROUTE_PASSWORD:-route-dev-only}@nats-3:6222\n", "\n",
			"routes reach [nats nats-2], want every NATS node"},
		{"a route without the route user", clusterCompose, "nats://route:${NATS_ROUTE_PASSWORD:-route-dev-only}@nats-1:6222", "nats://nats-1:6222",
			"has not the cluster's route user"},
		{"two NATS nodes of one name", clusterCompose, "SERVER_NAME: nats-3", "SERVER_NAME: nats-2",
			`nats-3: server_name "nats-2" is nats-2's too`},
		{"a NATS node without its own store", clusterCompose, "      - nats-3-data:/data\n", "",
			"nats-3: /data is nats-data, nats's too"},
		{"MinIO's events to one NATS node", clusterCompose, "    networks:\n      default:\n        aliases: [nats]\n  nats-3:", "  nats-3:",
			"minio: its NATS target nats is [nats nats-3], want every NATS node"},
		{"too few stream replicas", clusterCompose, `SLUICE_NATS_REPLICAS: "3"`, `SLUICE_NATS_REPLICAS: "1"`,
			`migrate: SLUICE_NATS_REPLICAS "1", want 3`},
		{"a stage not replicated", clusterCompose, "x-stage-cluster: &stage-cluster\n  deploy:\n    replicas: 2", "x-stage-cluster: &stage-cluster\n  deploy:\n    replicas: 1",
			"ingest: 1 replicas, want 2"},
		{"another cluster's name", clusterCompose, "&clickhouse-cluster sluice", "&clickhouse-cluster sluice_cluster",
			`migrate: SLUICE_CLICKHOUSE_CLUSTER "sluice_cluster", want the cluster of remote_servers, "sluice"`},
		{"two nodes of one replica name", clusterCompose, "CLICKHOUSE_REPLICA: clickhouse-4", "CLICKHOUSE_REPLICA: clickhouse-3",
			"clickhouse-4: macros {02 clickhouse-3} in shard 2"},
		{"a node in another shard's macro", clusterCompose, "CLICKHOUSE_SHARD: \"02\"\n      CLICKHOUSE_REPLICA: clickhouse-4", "CLICKHOUSE_SHARD: \"01\"\n      CLICKHOUSE_REPLICA: clickhouse-4",
			"clickhouse-4: macros {01 clickhouse-4} in shard 2"},
		{"a ClickHouse node without its own data", clusterCompose, "      - clickhouse-4-data:/var/lib/clickhouse\n", "",
			"clickhouse-4: /var/lib/clickhouse is clickhouse-data, clickhouse's too"},
		{"a shard of one replica", "../deploy/cluster/clickhouse.xml", "<replica><host>clickhouse-4</host><port>9000</port></replica>", "",
			"shard 2 has 1 replicas, want 2"},
		{"replicas written twice", "../deploy/cluster/clickhouse.xml", "<internal_replication>true</internal_replication>", "<internal_replication>false</internal_replication>",
			"shard 1: internal_replication false, want true"},
		{"no distributed DDL", "../deploy/cluster/clickhouse.xml", "<path>/clickhouse/task_queue/ddl</path>", "",
			"no distributed_ddl path"},
		{"Keeper without a quorum", "../deploy/cluster/keeper.xml", "<server><id>3</id><hostname>keeper-3</hostname><port>9234</port></server>", "",
			"Keeper: raft_configuration lists [keeper-1 keeper-2], want 3 nodes"},
		{"MinIO on 3 drives", clusterCompose, `"/data3", "/data4"`, `"/data3"`,
			"minio: drives [/data1 /data2 /data3], want 4"},
		{"a node without the cluster's grants", clusterCompose, "      - *clickhouse-cluster-grants\n      - clickhouse-4-data:/var/lib/clickhouse",
			"      - clickhouse-4-data:/var/lib/clickhouse",
			"clickhouse-4: nothing mounted at " + chClusterUsers},
		{"a _local grant missing", clusterUsers, "                <query>GRANT SELECT, INSERT ON sluice.clients_local</query>\n", "",
			`sluice_load: no "GRANT SELECT, INSERT ON sluice.clients_local"`},
		{"a _local grant beyond its twin", clusterUsers, "<query>GRANT SELECT ON sluice.import_keys_local</query>", "<query>GRANT SELECT, INSERT ON sluice.import_keys_local</query>",
			`sluice_notify: "GRANT SELECT, INSERT ON sluice.import_keys_local" is neither`},
		{"a root file's grant lost", clusterUsers, "                <query>GRANT CREATE TEMPORARY TABLE ON *.*</query>\n", "",
			`sluice_load: no "GRANT CREATE TEMPORARY TABLE ON *.*"`},
		{"grants merged into the root file's", clusterUsers, `<grants replace="replace">`, "<grants>",
			"sluice_migrate: grants without replace"},
		{"migrate without ON CLUSTER", clusterUsers, "                <query>" + migrateClusterGrant + "</query>\n", "",
			`sluice_migrate: no "` + migrateClusterGrant + `"`},
	} {
		t.Run(b.name, func(t *testing.T) {
			project := brokenClusterCompose(t, cluster, b.file, b.old, b.new)
			problems := clusterProblems(t, project)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, b.want) }) {
				t.Errorf("problems: got %q, want one saying %q", problems, b.want)
			}
		})
	}
}

// brokenClusterCompose loads the clustered stack with old replaced by new in
// file, a copy of the cluster compose file or of one it mounts.
func brokenClusterCompose(t *testing.T, cluster []byte, file, old, new string) *types.Project {
	t.Helper()
	dir := t.TempDir()
	text := string(cluster)
	if file != clusterCompose {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		copied := filepath.Join(dir, filepath.Base(file))
		if !strings.Contains(string(b), old) {
			t.Fatalf("%s: no %q to break", file, old)
		}
		if err := os.WriteFile(copied, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		// The compose file's paths are the project's, the repository's.
		mounted := "./" + strings.TrimPrefix(file, "../")
		if !strings.Contains(text, mounted) {
			t.Fatalf("%s does not mount %s", clusterCompose, mounted)
		}
		text = strings.ReplaceAll(text, mounted, copied)
	} else {
		if !strings.Contains(text, old) {
			t.Fatalf("%s: no %q to break", file, old)
		}
		text = strings.Replace(text, old, new, 1)
	}
	broken := filepath.Join(dir, "docker-compose.yml")
	if err := os.WriteFile(broken, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	project, err := loadComposeFiles(t, nil, "../docker-compose.yml", broken)
	if err != nil {
		t.Fatalf("load the broken copy: %v", err)
	}
	return project
}

// clusterProblems says what is wrong with the clustered stack's wiring.
func clusterProblems(t *testing.T, project *types.Project) []string {
	t.Helper()
	w := &clusterWiring{t: t, all: maps.Clone(project.Services), volumes: map[string]string{}}
	maps.Copy(w.all, project.DisabledServices) // invite: the admin profile
	w.nats()
	w.clickHouse()
	w.minio()
	return w.problems
}

// clusterWiring checks a clustered stack's services, all, and gathers the
// problems it finds.
type clusterWiring struct {
	t        *testing.T
	all      types.Services
	problems []string
	// volumes: the named volumes nodes keep their data in, and whose.
	volumes map[string]string
}

func (w *clusterWiring) problemf(format string, a ...any) {
	w.problems = append(w.problems, fmt.Sprintf(format, a...))
}

// image is the services whose image is repo (at any tag), and the tags.
func (w *clusterWiring) image(repo string) (names, tags []string) {
	for name, svc := range w.all {
		if r, tag, _ := strings.Cut(svc.Image, ":"); r == repo {
			names = append(names, name)
			tags = append(tags, tag)
		}
	}
	slices.Sort(names)
	return names, slices.Compact(sorted(tags))
}

// reach is the services among names that svc reaches as host: those called
// so (by name or alias) on a network svc is on.
func (w *clusterWiring) reach(svc types.ServiceConfig, host string, names []string) []string {
	var found []string
	for _, name := range names {
		for network := range svc.Networks {
			nc, on := w.all[name].Networks[network]
			if on && (name == host || nc != nil && slices.Contains(nc.Aliases, host)) {
				found = append(found, name)
				break
			}
		}
	}
	return found
}

// ownVolume: the node name keeps its data at target in a volume of its own.
func (w *clusterWiring) ownVolume(name, target string) {
	for _, v := range w.all[name].Volumes {
		if v.Target != target {
			continue
		}
		if v.Type != types.VolumeTypeVolume {
			w.problemf("%s: %s is a %s, want a volume", name, target, v.Type)
		} else if other, ok := w.volumes[v.Source]; ok {
			w.problemf("%s: %s is %s, %s's too", name, target, v.Source, other)
		} else {
			w.volumes[v.Source] = name
		}
		return
	}
	w.problemf("%s: no volume at %s", name, target)
}

// nats checks the NATS nodes, as nats-server reads each from its command
// line, its environment and the files mounted where that names them, and
// what their clients are told.
func (w *clusterWiring) nats() {
	nodes, _ := w.image("nats")
	if len(nodes) != 3 {
		w.problemf("NATS nodes: got %v, want 3", nodes)
	}
	opts := map[string]*server.Options{}
	names := map[string]string{}
	for _, name := range nodes {
		o, err := natsNodeOptions(w.t, w.all[name])
		if err != nil {
			w.problemf("%s: %v", name, err)
			continue
		}
		opts[name] = o
		if !o.JetStream {
			w.problemf("%s: JetStream off", name)
		}
		if other, ok := names[o.ServerName]; ok || o.ServerName == "" {
			w.problemf("%s: server_name %q is %s's too", name, o.ServerName, other)
		}
		names[o.ServerName] = name
		w.ownVolume(name, o.StoreDir)
		if o.Cluster.Name == "" || o.Cluster.Port == 0 || o.Cluster.Username == "" {
			w.problemf("%s: cluster %q on port %d with route user %q, want all three set", name, o.Cluster.Name, o.Cluster.Port, o.Cluster.Username)
		}
		if first := opts[nodes[0]]; first != nil && o.Cluster.Name != first.Cluster.Name {
			w.problemf("%s: cluster %q, %s's is %q", name, o.Cluster.Name, nodes[0], first.Cluster.Name)
		}
	}
	users := natsConfUsers(w.t)
	// reached is the nodes that the URLs reach from svc, on the port each
	// listens on (port of its options).
	reached := func(svc types.ServiceConfig, what string, urls []*url.URL, port func(*server.Options) int) []string {
		var all []string
		for _, u := range urls {
			found := w.reach(svc, u.Hostname(), nodes)
			if len(found) != 1 {
				w.problemf("%s: %s host %q is %d NATS nodes %v on its networks, want 1", svc.Name, what, u.Hostname(), len(found), found)
				continue
			}
			if o := opts[found[0]]; o == nil || strconv.Itoa(port(o)) != u.Port() {
				w.problemf("%s: %s %s: %s does not listen on %s", svc.Name, what, u.Redacted(), found[0], u.Port())
			}
			all = append(all, found...)
		}
		slices.Sort(all)
		return slices.Compact(all)
	}
	for name, o := range opts {
		if !reflect.DeepEqual(o.Users, users) {
			w.problemf("%s: its users are not deploy/nats.conf's", name)
		}
		for _, r := range o.Routes {
			if pw, _ := r.User.Password(); r.User.Username() != o.Cluster.Username || pw != o.Cluster.Password {
				w.problemf("%s: route %s has not the cluster's route user", name, r.Redacted())
			}
		}
		if got := reached(w.all[name], "routes", o.Routes, func(o *server.Options) int { return o.Cluster.Port }); !slices.Equal(got, nodes) {
			w.problemf("%s: routes reach %v, want every NATS node %v", name, got, nodes)
		}
	}

	// Every NATS client names every node, each reachable from it.
	for _, name := range []string{"migrate", "expire", "ingest", "validate", "transform", "load", "notify", "invite"} {
		svc, ok := w.all[name]
		if !ok {
			w.problemf("%s: not defined", name)
			continue
		}
		var urls []*url.URL
		for _, s := range strings.Split(env(svc, "SLUICE_NATS_URL"), ",") {
			u, err := url.Parse(strings.TrimSpace(s))
			if err != nil {
				w.problemf("%s: SLUICE_NATS_URL %q: %v", name, s, err)
				continue
			}
			urls = append(urls, u)
		}
		if got := reached(svc, "SLUICE_NATS_URL", urls, func(o *server.Options) int { return o.Port }); !slices.Equal(got, nodes) {
			w.problemf("%s: SLUICE_NATS_URL reaches %v, want every NATS node %v", name, got, nodes)
		}
	}
	// MinIO takes one address for its event target: a name every node
	// answers to, so that its events reach the cluster with a node down.
	if host, _, _ := strings.Cut(env(w.all["minio"], "MINIO_NOTIFY_NATS_ADDRESS_PRIMARY"), ":"); !slices.Equal(w.reach(w.all["minio"], host, nodes), nodes) {
		w.problemf("minio: its NATS target %s is %v, want every NATS node %v", host, w.reach(w.all["minio"], host, nodes), nodes)
	}
	if r := env(w.all["migrate"], "SLUICE_NATS_REPLICAS"); r != strconv.Itoa(len(nodes)) {
		w.problemf("migrate: SLUICE_NATS_REPLICAS %q, want %d", r, len(nodes))
	}
	for _, name := range []string{"ingest", "validate", "transform", "load", "notify"} {
		n := 1
		if d := w.all[name].Deploy; d != nil && d.Replicas != nil {
			n = *d.Replicas
		}
		if n != 2 {
			w.problemf("%s: %d replicas, want 2", name, n)
		}
	}
}

// minio checks that MinIO is one server over 4 drives (erasure coding),
// each a volume of its own, and its event queue on none of them.
func (w *clusterWiring) minio() {
	minio := w.all["minio"]
	var drives []string
	for i, a := range minio.Command {
		if i > 0 && strings.HasPrefix(a, "/") && !strings.HasPrefix(minio.Command[i-1], "--") {
			drives = append(drives, a)
			w.ownVolume("minio", a)
		}
	}
	if len(drives) != 4 {
		w.problemf("minio: drives %v, want 4", drives)
	}
	if q := env(minio, "MINIO_NOTIFY_NATS_QUEUE_DIR_PRIMARY"); slices.ContainsFunc(drives, func(d string) bool { return q == d || strings.HasPrefix(q, d+"/") }) {
		w.problemf("minio: the event queue %s is on a drive", q)
	}
}

// sharedXML reads into v the file that every one of nodes has at target,
// which must be the same file.
func (w *clusterWiring) sharedXML(nodes []string, target string, v any) {
	var source string
	for _, name := range nodes {
		p, ok := hostPath(w.all[name], target)
		switch {
		case !ok:
			w.problemf("%s: nothing mounted at %s", name, target)
		case source == "":
			source = p
			if err := xml.Unmarshal(readFile(w.t, p), v); err != nil {
				w.t.Fatalf("%s: %v", p, err)
			}
		case p != source:
			w.problemf("%s: %s is %s, %s on %s", name, target, p, source, nodes[0])
		}
	}
}

// clickHouse checks the ClickHouse nodes against the cluster in the XML
// mounted into them, and the Keeper nodes they use.
func (w *clusterWiring) clickHouse() {
	chNodes, chTags := w.image("clickhouse/clickhouse-server")
	keepers, keeperTags := w.image("clickhouse/clickhouse-keeper")
	root, err := loadCompose(w.t, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	rootImage := root.Services["clickhouse"].Image
	if len(chNodes) != 4 || !slices.Equal(chTags, []string{strings.TrimPrefix(rootImage, "clickhouse/clickhouse-server:")}) {
		w.problemf("ClickHouse nodes: %v on %v, want 4 on the root file's release %s", chNodes, chTags, rootImage)
	}
	if !slices.Equal(keeperTags, chTags) {
		w.problemf("Keeper nodes: release %v, want ClickHouse's %v", keeperTags, chTags)
	}
	if len(chNodes) == 0 || len(keepers) == 0 {
		return
	}

	for _, name := range slices.Concat(chNodes, keepers) {
		w.ownVolume(name, chDataDir)
	}
	var cfg chClusterXML
	w.sharedXML(chNodes, chClusterConfig, &cfg)
	w.grants(chNodes, root)
	if len(cfg.Clusters.Clusters) != 1 {
		w.problemf("remote_servers: %d clusters, want sluice's", len(cfg.Clusters.Clusters))
		return
	}
	cluster := cfg.Clusters.Clusters[0]
	for _, name := range []string{"migrate", "expire", "load", "notify", "invite"} {
		if c := env(w.all[name], "SLUICE_CLICKHOUSE_CLUSTER"); c != cluster.XMLName.Local {
			w.problemf("%s: SLUICE_CLICKHOUSE_CLUSTER %q, want the cluster of remote_servers, %q", name, c, cluster.XMLName.Local)
		}
	}
	if cluster.Secret.value(w.all[chNodes[0]]) == "" {
		w.problemf("remote_servers %s: no secret (a node's queries to another would log in as the default user)", cluster.XMLName.Local)
	}
	// Each node once in remote_servers; a shard's nodes share a shard macro
	// no other shard has, and each node's replica macro is its own.
	listed := map[string]bool{}
	shardOf := map[string]int{}
	replicaOf := map[string]string{}
	for i, shard := range cluster.Shards {
		if shard.InternalReplication != "true" {
			w.problemf("shard %d: internal_replication %s, want true", i+1, shard.InternalReplication)
		}
		if len(shard.Replicas) != 2 {
			w.problemf("shard %d has %d replicas, want 2", i+1, len(shard.Replicas))
		}
		for _, r := range shard.Replicas {
			found := w.reach(w.all[chNodes[0]], r.Host, chNodes)
			if len(found) != 1 || listed[found[0]] {
				w.problemf("shard %d: host %s is %v, want one node not listed before", i+1, r.Host, found)
				continue
			}
			name := found[0]
			listed[name] = true
			s, r := cfg.Macros.Shard.value(w.all[name]), cfg.Macros.Replica.value(w.all[name])
			if other, seen := shardOf[s]; s == "" || r == "" || seen && other != i || replicaOf[r] != "" {
				w.problemf("%s: macros {%s %s} in shard %d: want a shard macro of that shard alone and a replica macro of its own", name, s, r, i+1)
			}
			shardOf[s], replicaOf[r] = i, name
		}
	}
	if len(cluster.Shards) != 2 || len(listed) != len(chNodes) {
		w.problemf("remote_servers %s: %d shards over %d of the nodes %v, want 2 over all", cluster.XMLName.Local, len(cluster.Shards), len(listed), chNodes)
	}
	if cfg.DDLPath == "" {
		w.problemf("no distributed_ddl path: ON CLUSTER statements have nowhere to queue")
	}

	// Keeper: 3 nodes (a quorum of 2: one may be down), each with an id of
	// its own, all in ClickHouse's zookeeper.
	var keeper keeperXML
	w.sharedXML(keepers, keeperConfig, &keeper)
	var raft []string
	ids := map[string]string{}
	for _, s := range keeper.Servers {
		found := w.reach(w.all[keepers[0]], s.Host, keepers)
		if len(found) != 1 {
			w.problemf("Keeper: raft server %s is %v, want one Keeper node", s.Host, found)
			continue
		}
		raft = append(raft, found[0])
		ids[s.ID] = found[0]
	}
	slices.Sort(raft)
	if len(raft) != 3 || !slices.Equal(raft, keepers) {
		w.problemf("Keeper: raft_configuration lists %v, want 3 nodes, %v", raft, keepers)
	}
	for _, name := range keepers {
		if id := keeper.ServerID.value(w.all[name]); ids[id] != name {
			w.problemf("%s: server_id %q is %q's in raft_configuration", name, id, ids[id])
		}
	}
	var zk []string
	for _, n := range cfg.ZooKeeper {
		if n.Port != keeper.TCPPort {
			w.problemf("zookeeper %s:%s: Keeper listens on %s", n.Host, n.Port, keeper.TCPPort)
		}
		zk = append(zk, w.reach(w.all[chNodes[0]], n.Host, keepers)...)
	}
	if slices.Sort(zk); !slices.Equal(zk, keepers) {
		w.problemf("ClickHouse's zookeeper: %v, want every Keeper node %v", zk, keepers)
	}
}

// grants checks the stage users' rights on every ClickHouse node: the root
// file's users (chUsersConfig), then clusterUsers (at chClusterUsers) in
// users.d's name order, whose grants replace theirs. Each grant on a table
// that platform/warehouse makes local (a Distributed table over
// <table>_local) has its twin on <table>_local, which a Distributed
// table's reads and writes use as the same user on every node; nothing
// else changes but sluice_migrate's migrateClusterGrant.
func (w *clusterWiring) grants(nodes []string, root *types.Project) {
	var cfg struct {
		Users struct {
			Users []struct {
				XMLName xml.Name
				Grants  *struct {
					Replace string   `xml:"replace,attr"`
					Queries []string `xml:"query"`
				} `xml:"grants"`
			} `xml:",any"`
		} `xml:"users"`
	}
	w.sharedXML(nodes, chClusterUsers, &cfg)
	for _, name := range nodes {
		i := slices.IndexFunc(w.all[name].Configs, func(c types.ServiceConfigObjConfig) bool { return c.Source == chUsersConfig })
		if i < 0 || path.Dir(w.all[name].Configs[i].Target) != path.Dir(chClusterUsers) || path.Base(w.all[name].Configs[i].Target) >= path.Base(chClusterUsers) {
			w.problemf("%s: %s is not in users.d before %s", name, chUsersConfig, chClusterUsers)
		}
	}

	rootUsers := chOverlayUsers(w.t, root)
	effective := map[string][]string{}
	for name, u := range rootUsers {
		effective[name] = u.Grants
	}
	for _, u := range cfg.Users.Users {
		name := u.XMLName.Local
		switch {
		case effective[name] == nil:
			w.problemf("%s: not one of the root file's users", name)
		case u.Grants == nil:
		case u.Grants.Replace == "":
			// ClickHouse would merge each query into the root file's
			// query of the same rank, overwriting it.
			w.problemf("%s: grants without replace", name)
		default:
			effective[name] = u.Grants.Queries
		}
	}

	local := map[string]bool{}
	for _, t := range warehouse.AuditTables {
		local[t.Name] = true
	}
	for _, ds := range schemas.Datasets {
		for _, target := range ds.Writes() {
			local[target.Table], local[warehouse.StagedTable(target.Table)] = true, true
		}
	}
	onTable := regexp.MustCompile(`^GRANT .+ ON sluice\.(\w+)$`)
	for _, name := range slices.Sorted(maps.Keys(rootUsers)) {
		want := slices.Clone(rootUsers[name].Grants)
		for _, g := range rootUsers[name].Grants {
			if m := onTable.FindStringSubmatch(g); m != nil && local[m[1]] {
				want = append(want, g+localSuffix)
			}
		}
		if name == "sluice_migrate" {
			want = append(want, migrateClusterGrant)
		}
		for _, g := range want {
			if !slices.Contains(effective[name], g) {
				w.problemf("%s: no %q on the cluster's nodes", name, g)
			}
		}
		for _, g := range effective[name] {
			if !slices.Contains(want, g) {
				w.problemf("%s: %q is neither the root file's grant nor a _local twin of one", name, g)
			}
		}
	}
}

// chValue is an element of ClickHouse's XML: its text, or from_env, the
// variable of the server's environment it is read from.
type chValue struct {
	Text    string `xml:",chardata"`
	FromEnv string `xml:"from_env,attr"`
}

func (v chValue) value(svc types.ServiceConfig) string {
	if v.FromEnv != "" {
		return env(svc, v.FromEnv)
	}
	return strings.TrimSpace(v.Text)
}

// chClusterXML is deploy/cluster/clickhouse.xml.
type chClusterXML struct {
	Macros struct {
		Shard   chValue `xml:"shard"`
		Replica chValue `xml:"replica"`
	} `xml:"macros"`
	Clusters struct {
		Clusters []struct {
			XMLName xml.Name
			Secret  chValue `xml:"secret"`
			Shards  []struct {
				InternalReplication string `xml:"internal_replication"`
				Replicas            []struct {
					Host string `xml:"host"`
					Port string `xml:"port"`
				} `xml:"replica"`
			} `xml:"shard"`
		} `xml:",any"`
	} `xml:"remote_servers"`
	ZooKeeper []struct {
		Host string `xml:"host"`
		Port string `xml:"port"`
	} `xml:"zookeeper>node"`
	DDLPath string `xml:"distributed_ddl>path"`
}

// keeperXML is deploy/cluster/keeper.xml.
type keeperXML struct {
	TCPPort  string  `xml:"keeper_server>tcp_port"`
	ServerID chValue `xml:"keeper_server>server_id"`
	Servers  []struct {
		ID   string `xml:"id"`
		Host string `xml:"hostname"`
	} `xml:"keeper_server>raft_configuration>server"`
}

// env is a service's variable, "" unset.
func env(svc types.ServiceConfig, name string) string {
	if v := svc.Environment[name]; v != nil {
		return *v
	}
	return ""
}

// natsNodeOptions is what nats-server makes of svc's command line, with the
// files mounted into svc copied to where the container has them (under a
// temporary folder) and svc's environment.
func natsNodeOptions(t *testing.T, svc types.ServiceConfig) (*server.Options, error) {
	t.Helper()
	if len(svc.Command) == 0 || svc.Command[0] != "nats-server" {
		return nil, fmt.Errorf("command %q, want nats-server", svc.Command)
	}
	root := t.TempDir()
	for _, v := range svc.Volumes {
		if v.Type != types.VolumeTypeBind {
			continue
		}
		b, err := os.ReadFile(v.Source)
		if err != nil {
			return nil, fmt.Errorf("mount %s: %v", v.Target, err)
		}
		p := filepath.Join(root, v.Target)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return nil, err
		}
	}
	args := slices.Clone(svc.Command[1:])
	for i, a := range args {
		if i > 0 && (args[i-1] == "--config" || args[i-1] == "-c") {
			args[i] = filepath.Join(root, a)
		}
	}
	for k, v := range svc.Environment {
		if v != nil {
			t.Setenv(k, *v)
		}
	}
	fs := flag.NewFlagSet("nats-server", flag.ContinueOnError)
	return server.ConfigureOptions(fs, args, func() {}, func() {}, func() {})
}

// natsConfUsers are deploy/nats.conf's users, with the passwords the root
// compose file's nats service gives them.
func natsConfUsers(t *testing.T) []*server.User {
	t.Helper()
	root, err := loadCompose(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range root.Services["nats"].Environment {
		if v != nil {
			t.Setenv(k, *v)
		}
	}
	opts, err := server.ProcessConfigFile("../deploy/nats.conf")
	if err != nil {
		t.Fatalf("deploy/nats.conf: %v", err)
	}
	return opts.Users
}
