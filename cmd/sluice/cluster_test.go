package main

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/sluicehq/sluice/platform/bus"
	"github.com/sluicehq/sluice/platform/testkit"
	"github.com/sluicehq/sluice/schemas"
)

// TestMigrateCluster runs `sluice migrate` with SLUICE_NATS_REPLICAS=3 on a
// 3-node cluster, given every node's URL: every stream, KV bucket and
// durable consumer it creates has a copy on each node. Migrating again
// changes nothing.
func TestMigrateCluster(t *testing.T) {
	c := testkit.NATSCluster(t)
	cfg, err := loadConfig(func(k string) string {
		return map[string]string{"SLUICE_NATS_URL": c.URL(), "SLUICE_NATS_REPLICAS": "3"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(cfg.NATSURL, ",") != testkit.ClusterSize-1 {
		t.Fatalf("SLUICE_NATS_URL %q: want the %d nodes", cfg.NATSURL, testkit.ClusterSize)
	}
	for range 2 {
		if err := migrateNATS(t.Context(), cfg, cfg.NATSURL, slog.New(slog.DiscardHandler)); err != nil {
			t.Fatalf("migrate: %v", err)
		}
	}
	nc, err := bus.Connect(cfg.NATSURL, "test", "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := nc.JetStream()
	streams := []string{schemas.StreamS3Events, schemas.StreamRows, schemas.StreamImports, schemas.StreamDLQ, schemas.StreamSync}
	for _, b := range []string{bus.ClaimsBucket, bus.MailedBucket, bus.CancelledBucket, bus.NaksBucket, bus.InvitesBucket} {
		streams = append(streams, "KV_"+b)
	}
	consumers := 0
	for _, name := range streams {
		info, err := js.StreamInfo(name)
		if err != nil {
			t.Errorf("stream %s: %v", name, err)
			continue
		}
		if info.Config.Replicas != 3 || !onEveryNode(info.Cluster) {
			t.Errorf("stream %s: %d replicas, placed %+v; want 3, one on each node", name, info.Config.Replicas, info.Cluster)
		}
		for ci := range js.Consumers(name) {
			consumers++
			if !onEveryNode(ci.Cluster) {
				t.Errorf("consumer %s on %s placed %+v, want a copy on each node", ci.Name, name, ci.Cluster)
			}
		}
	}
	// A consumer per stage, and ingest's of the sync's requests.
	if want := len(schemas.Stages) + 1; consumers != want {
		t.Errorf("%d durable consumers, want %d", consumers, want)
	}
}

// onEveryNode reports whether a stream or consumer has a leader and a
// current replica on each other node of the cluster.
func onEveryNode(ci *nats.ClusterInfo) bool {
	if ci == nil || ci.Leader == "" || len(ci.Replicas) != testkit.ClusterSize-1 {
		return false
	}
	for _, r := range ci.Replicas {
		if r.Offline {
			return false
		}
	}
	return true
}
