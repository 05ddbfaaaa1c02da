#!/usr/bin/env bash
# parts.sh installs the real parts sluice runs on, when they are missing:
# Debian's ClickHouse and ZooKeeper (the replication of a ClickHouse
# cluster on 18.16), and MinIO and Mailpit at the versions pinned in
# DESIGN.md, and Prometheus's promtool, which the tests of deploy/ run. It
# is idempotent: a second run installs nothing.
#
# Starting them is Go's job (platform.StartClickHouse, StartMinIO,
# StartMailpit), used by `sluice demo` and by the tests alike, because MinIO
# must start after the embedded NATS server it publishes bucket events to.
set -euo pipefail

GOBIN=$(go env GOPATH)/bin
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
MAILPIT_VERSION=v1.27.11
PROMTOOL_VERSION=v0.316.0

log() { printf 'parts: %s\n' "$*" >&2; }

if ! command -v clickhouse-server >/dev/null || ! command -v clickhouse-client >/dev/null; then
  log "installing clickhouse-server and clickhouse-client (Debian)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null
fi
if [ ! -f /usr/share/java/zookeeper.jar ]; then
  log "installing zookeeper (Debian)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq zookeeper >/dev/null
fi
if ! command -v chromium >/dev/null; then
  log "installing chromium (Debian), for the console's browser tests"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
if [ ! -x "$GOBIN/mailpit" ]; then
  log "installing mailpit $MAILPIT_VERSION"
  go install "github.com/axllent/mailpit@$MAILPIT_VERSION"
fi
if [ ! -x "$GOBIN/minio" ]; then
  log "installing minio $MINIO_VERSION (a few minutes the first time)"
  go install "github.com/minio/minio@$MINIO_VERSION"
fi
if [ ! -x "$GOBIN/promtool" ]; then
  log "installing promtool $PROMTOOL_VERSION (a few minutes the first time)"
  go install "github.com/prometheus/prometheus/cmd/promtool@$PROMTOOL_VERSION"
fi
