-- Per-table grants for sluice's ClickHouse users, for a release that has SQL
-- access control (CREATE USER, GRANT: 20.5 and later; compose's image).
-- 18.16 has neither: there deploy/clickhouse/users.d/sluice.xml is all the
-- control there is (per user: the sluice database only, DDL or none,
-- read-only or not, the networks it may connect from), and a stage's user
-- may write any table of the sluice database. On a newer release, define
-- the users here instead of in users.d (remove sluice.xml, or the XML users
-- and these would clash), run this file as an administrator, then set the
-- passwords (ALTER USER ... IDENTIFIED WITH sha256_password BY '...').
-- Replace 172.30.57.0/24 with the networks the stages really run on.
--
-- Kept in step with platform/warehouse (its tests check that every table the
-- migrations create is named here).
--
-- On a cluster (SLUICE_CLICKHOUSE_CLUSTER) each table below is a Distributed
-- table, and its rows are in <table>_local on every node: run this file on
-- every node (or ON CLUSTER), and give the user the cluster's remote_servers
-- log in as (or, with a cluster secret, each user: the other nodes run its
-- queries as that user, admitted from its client's address) the same rights
-- on the _local tables; sluice_migrate also needs GRANT CLUSTER, REMOTE ON
-- *.* (ON CLUSTER; ENGINE = Distributed). The compose cluster gives its
-- nodes these in deploy/cluster/clickhouse-users.xml, which says why. The
-- profiles need distributed_product_mode = 'global'
-- (deploy/clickhouse/cluster/users.d says why).

-- The migration user: DDL in the sluice database, and the deletes of
-- expired personal data (warehouse.Expire).
CREATE USER IF NOT EXISTS sluice_migrate HOST IP '127.0.0.1', IP '::1', IP '172.30.57.0/24';
GRANT CREATE DATABASE, CREATE TABLE, ALTER, DROP TABLE, TRUNCATE, OPTIMIZE, SELECT, INSERT ON sluice.* TO sluice_migrate;
GRANT SELECT ON system.columns TO sluice_migrate;

-- load: upserts the datasets' records (or stages them), and writes the
-- per-row audit and each chunk's report. It reads what it compares with.
CREATE USER IF NOT EXISTS sluice_load HOST IP '127.0.0.1', IP '::1', IP '172.30.57.0/24';
GRANT SELECT, INSERT ON sluice.clients TO sluice_load;
GRANT SELECT, INSERT ON sluice.users TO sluice_load;
GRANT SELECT, INSERT ON sluice.accounts TO sluice_load;
GRANT SELECT, INSERT ON sluice.groups TO sluice_load;
GRANT SELECT, INSERT ON sluice.group_members TO sluice_load;
GRANT INSERT ON sluice.clients_staged TO sluice_load;
GRANT INSERT ON sluice.users_staged TO sluice_load;
GRANT INSERT ON sluice.accounts_staged TO sluice_load;
GRANT INSERT ON sluice.groups_staged TO sluice_load;
GRANT INSERT ON sluice.group_members_staged TO sluice_load;
GRANT SELECT, INSERT ON sluice.import_rows TO sluice_load;
GRANT SELECT, INSERT ON sluice.import_rejections TO sluice_load;
GRANT INSERT ON sluice.import_chunks TO sluice_load;
-- A sync's keys, which notify reads to deactivate what the file leaves out.
GRANT INSERT ON sluice.import_keys TO sluice_load;
-- Its queries send a batch's keys along as an external table (batch_keys).
GRANT CREATE TEMPORARY TABLE ON *.* TO sluice_load;

-- notify: the imports' status; it reads the chunks' reports and the
-- rejections for the email, copies the staged records of an import
-- that aborts on error into the datasets' tables once every row is good,
-- and deactivates what a completed sync left out. An invitation accepted
-- or lapsed is a new version of its user's record (`sluice invite accept`
-- runs as notify): SELECT and INSERT on users.
CREATE USER IF NOT EXISTS sluice_notify HOST IP '127.0.0.1', IP '::1', IP '172.30.57.0/24';
GRANT SELECT, INSERT ON sluice.imports TO sluice_notify;
GRANT SELECT ON sluice.import_chunks TO sluice_notify;
GRANT SELECT ON sluice.import_rejections TO sluice_notify;
GRANT SELECT, INSERT ON sluice.clients TO sluice_notify;
GRANT SELECT, INSERT ON sluice.users TO sluice_notify;
GRANT SELECT, INSERT ON sluice.accounts TO sluice_notify;
GRANT SELECT, INSERT ON sluice.groups TO sluice_notify;
GRANT SELECT, INSERT ON sluice.group_members TO sluice_notify;
GRANT SELECT ON sluice.clients_staged TO sluice_notify;
GRANT SELECT ON sluice.users_staged TO sluice_notify;
GRANT SELECT ON sluice.accounts_staged TO sluice_notify;
GRANT SELECT ON sluice.groups_staged TO sluice_notify;
GRANT SELECT ON sluice.group_members_staged TO sluice_notify;
-- A sync that completes: the keys of its rows (written by load), and the
-- audit of what it deactivates; the deactivated records are new versions
-- (INSERT on the datasets' tables, above), never a delete.
GRANT SELECT ON sluice.import_keys TO sluice_notify;
GRANT SELECT, INSERT ON sluice.import_deactivations TO sluice_notify;

-- The reader: dashboards and the demo's queries.
CREATE USER IF NOT EXISTS sluice_reader HOST IP '127.0.0.1', IP '::1', IP '172.30.57.0/24';
GRANT SELECT ON sluice.* TO sluice_reader;
