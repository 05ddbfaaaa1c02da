package warehouse

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluicehq/sluice/platform"
)

// Open connects as user over the native protocol (the HTTP one fails on
// 18.16) and checks the connection. The database must exist: sluice's users
// may touch no other (deploy/clickhouse/users.d), so it is created by
// whoever deploys ClickHouse (the launcher in platform/parts, CLICKHOUSE_DB
// in compose).
//
// cfg.Addr may list several servers, separated by commas (a cluster's
// nodes): a connection is made to the first that answers. On a cluster
// (cfg.Cluster) the writers' queries run with clusterSettings; the reader
// writes nothing, and a current release refuses a read-only user any
// setting.
func Open(ctx context.Context, cfg platform.ClickHouseConfig, user platform.ClickHouseUser) (driver.Conn, error) {
	opts := &clickhouse.Options{
		Addr: strings.Split(cfg.Addr, ","),
		Auth: clickhouse.Auth{Database: cfg.Database, Username: user.Name, Password: user.Password},
		// Large inserts: one block per batch.
		MaxOpenConns:     8,
		DialTimeout:      5 * time.Second,
		ReadTimeout:      5 * time.Minute,
		ConnMaxLifetime:  time.Hour,
		ConnOpenStrategy: clickhouse.ConnOpenInOrder,
	}
	if cfg.Cluster != "" && user != cfg.Reader {
		opts.Settings = clusterSettings
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("warehouse: open %s: %w", cfg.Addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("warehouse: ping %s as %s: %w", cfg.Addr, user.Name, err)
	}
	return conn, nil
}

// clusterSettings are the settings of the writers' queries on a cluster:
// an insert into a Distributed table returns once a replica of each shard
// it writes to has its rows, not when they are queued on the server it
// came to. (The cluster's users.d, deploy/clickhouse/cluster, sets the
// settings 18.16 takes only as text, which the native protocol's client
// cannot send it.)
var clusterSettings = clickhouse.Settings{"insert_distributed_sync": 1}
