package warehouse

import (
	"context"
	"fmt"
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
func Open(ctx context.Context, cfg platform.ClickHouseConfig, user platform.ClickHouseUser) (driver.Conn, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr: []string{cfg.Addr},
		Auth: clickhouse.Auth{Database: cfg.Database, Username: user.Name, Password: user.Password},
		// Large inserts: one block per batch.
		MaxOpenConns:    8,
		DialTimeout:     5 * time.Second,
		ReadTimeout:     5 * time.Minute,
		ConnMaxLifetime: time.Hour,
	})
	if err != nil {
		return nil, fmt.Errorf("warehouse: open %s: %w", cfg.Addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("warehouse: ping %s as %s: %w", cfg.Addr, user.Name, err)
	}
	return conn, nil
}
