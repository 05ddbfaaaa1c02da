package parts

import (
	"context"
	"errors"
	"fmt"
	"go/build"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/platform"
	"github.com/sluicehq/sluice/schemas"
)

// Part is a real dependency (MinIO, ClickHouse, Mailpit) running as a child
// process on loopback, for the demo and the tests. Production runs them as
// services of their own (docker-compose.yml).
type Part struct {
	Name string
	Addr string
	cmd  *exec.Cmd
	done chan error
}

// Pid is the part's process id.
func (p *Part) Pid() int { return p.cmd.Process.Pid }

// Stop ends the part and waits for it. A part that has ended already
// (killed, or exited by itself) is left as it is.
func (p *Part) Stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-p.done:
		p.done <- err
	case <-time.After(10 * time.Second):
		p.Kill()
	}
}

// Kill ends the part at once (SIGKILL, as a crash would) and waits for it.
func (p *Part) Kill() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	err := <-p.done
	p.done <- err // for a later Stop or Kill
}

// Signal sends the part sig: SIGSTOP freezes it, SIGCONT thaws it.
func (p *Part) Signal(sig os.Signal) error {
	return p.cmd.Process.Signal(sig)
}

// FindBinary looks a part's binary up in PATH, then in $GOPATH/bin (where
// `go install` puts MinIO and Mailpit). Not found is an error: scripts/parts.sh
// install is what installs them.
func FindBinary(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	p := filepath.Join(build.Default.GOPATH, "bin", name)
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("parts: %s is not installed (run scripts/parts.sh install)", name)
}

// FreePort returns a loopback TCP port nobody listens on now.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startOn starts a part that will listen on addr, which must be free:
// something else answering there would pass the ready check.
func startOn(ctx context.Context, name, addr, dir string, env []string, ready func() error, bin string, args ...string) (*Part, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("parts: %s: %s is taken: %w", name, addr, err)
	}
	ln.Close()
	return Start(ctx, name, dir, env, ready, bin, args...)
}

// Start runs bin as a child process, its output appended to dir/<name>.log
// (a part started again keeps what it logged before: why it was killed, or
// what it did before), and waits until ready returns nil (for at most 90 s)
// or the process exits.
func Start(ctx context.Context, name, dir string, env []string, ready func() error, bin string, args ...string) (*Part, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("parts: %w", err)
	}
	logf, err := os.OpenFile(filepath.Join(dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("parts: %w", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("parts: start %s: %w", name, err)
	}
	p := &Part{Name: name, cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); logf.Close() }()
	deadline := time.Now().Add(90 * time.Second)
	for {
		err := ready()
		if err == nil {
			return p, nil
		}
		select {
		case werr := <-p.done:
			p.done <- werr
			return nil, fmt.Errorf("parts: %s exited (%v); see %s", name, werr, logf.Name())
		case <-ctx.Done():
			p.Stop()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.Stop()
			return nil, fmt.Errorf("parts: %s not ready after 90s (%v); see %s", name, err, logf.Name())
		}
	}
}

// HTTPReady is a ready check: url answers 200.
func HTTPReady(url string) func() error {
	return func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", url, resp.Status)
		}
		return nil
	}
}

// StartMinIO starts MinIO with its data in dir, publishing bucket events to
// the JetStream subject sluice.s3.events on the NATS server at natsAddr
// (host:port, or user:password@host:port), with a queue_dir so that no
// event is lost while NATS is away. The S3_EVENTS stream must exist already.
func StartMinIO(ctx context.Context, dir string, port int, natsAddr string, s3 platform.S3Config) (*Part, error) {
	return StartMinIODrives(ctx, dir, port, 1, natsAddr, s3)
}

// MinIODrives are the folders of MinIO's drives in dir: dir/data for one,
// dir/data1 to dir/data<n> for more.
func MinIODrives(dir string, n int) []string {
	if n <= 1 {
		return []string{filepath.Join(dir, "data")}
	}
	drives := make([]string, n)
	for i := range drives {
		drives[i] = filepath.Join(dir, fmt.Sprintf("data%d", i+1))
	}
	return drives
}

// StartMinIODrives starts MinIO as StartMinIO does, over drives drives
// (MinIODrives). From 4, MinIO erasure-codes each object over them (by
// default with 2 parity shards in 4), so it reads and writes on with a
// drive lost, and heals that drive when it is back (empty). Its drives
// are folders on one disk, which MinIO refuses but in its CI mode
// (MINIO_CI_CD).
func StartMinIODrives(ctx context.Context, dir string, port, drives int, natsAddr string, s3 platform.S3Config) (*Part, error) {
	bin, err := FindBinary("minio")
	if err != nil {
		return nil, err
	}
	queueDir := filepath.Join(dir, "events-queue")
	if err := os.MkdirAll(queueDir, 0o755); err != nil {
		return nil, fmt.Errorf("parts: %w", err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var natsUser []string
	if creds, host, ok := strings.Cut(natsAddr, "@"); ok {
		user, password, _ := strings.Cut(creds, ":")
		natsUser = []string{"MINIO_NOTIFY_NATS_USERNAME_PRIMARY=" + user, "MINIO_NOTIFY_NATS_PASSWORD_PRIMARY=" + password}
		natsAddr = host
	}
	env := []string{
		"MINIO_ROOT_USER=" + s3.AccessKey,
		"MINIO_ROOT_PASSWORD=" + s3.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_NOTIFY_NATS_ENABLE_PRIMARY=on",
		"MINIO_NOTIFY_NATS_ADDRESS_PRIMARY=" + natsAddr,
		"MINIO_NOTIFY_NATS_SUBJECT_PRIMARY=" + schemas.SubjectS3Events,
		"MINIO_NOTIFY_NATS_JETSTREAM_PRIMARY=on",
		"MINIO_NOTIFY_NATS_QUEUE_DIR_PRIMARY=" + queueDir,
	}
	env = append(env, natsUser...)
	if drives > 1 {
		env = append(env, "MINIO_CI_CD=1")
	}
	args := append([]string{"server"}, MinIODrives(dir, drives)...)
	args = append(args, "--address", addr, "--console-address", fmt.Sprintf("127.0.0.1:%d", port+1), "--quiet")
	p, err := startOn(ctx, "minio", addr, dir, env, HTTPReady("http://"+addr+"/minio/health/ready"), bin, args...)
	if err != nil {
		return nil, err
	}
	p.Addr = addr
	return p, nil
}

// StartMailpit starts Mailpit: SMTP on smtpPort, its web UI and API on
// httpPort.
func StartMailpit(ctx context.Context, dir string, smtpPort, httpPort int) (*Part, error) {
	bin, err := FindBinary("mailpit")
	if err != nil {
		return nil, err
	}
	web := fmt.Sprintf("127.0.0.1:%d", httpPort)
	p, err := startOn(ctx, "mailpit", fmt.Sprintf("127.0.0.1:%d", smtpPort), dir, nil, HTTPReady("http://"+web+"/api/v1/info"),
		bin, "--smtp", fmt.Sprintf("127.0.0.1:%d", smtpPort), "--listen", web,
		"--database", filepath.Join(dir, "mailpit.db"), "--disable-version-check")
	if err != nil {
		return nil, err
	}
	p.Addr = web
	return p, nil
}

// StartClickHouse starts Debian's clickhouse-server with a copy of its
// packaged config whose paths point at dir and whose native port is port
// (the HTTP port is port+1), with sluice's users (deploy/clickhouse/users.d,
// found from usersDir), and creates the database sluice's users work in.
func StartClickHouse(ctx context.Context, dir string, port int, usersDir, database string) (*Part, error) {
	return startClickHouse(ctx, dir, port, []string{usersDir}, database, "")
}

// startClickHouse is StartClickHouse with the users of every folder of
// usersDirs, and more server configuration if extra is not "": a config.d
// file (<yandex>...</yandex>) merged into the packaged config.
func startClickHouse(ctx context.Context, dir string, port int, usersDirs []string, database, extra string) (*Part, error) {
	bin, err := FindBinary("clickhouse-server")
	if err != nil {
		return nil, err
	}
	client, err := FindBinary("clickhouse-client")
	if err != nil {
		return nil, err
	}
	etc := filepath.Join(dir, "etc")
	if err := writeClickHouseConfig(etc, dir, port, usersDirs, extra); err != nil {
		return nil, fmt.Errorf("parts: clickhouse: %w", err)
	}
	query := func(q string) error {
		out, err := exec.Command(client, "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--query", q).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	p, err := startOn(ctx, "clickhouse", fmt.Sprintf("127.0.0.1:%d", port), dir, nil, func() error { return query("SELECT 1") },
		bin, "--config-file="+filepath.Join(etc, "config.xml"))
	if err != nil {
		return nil, err
	}
	if err := query("CREATE DATABASE IF NOT EXISTS " + database); err != nil {
		p.Stop()
		return nil, fmt.Errorf("parts: create database: %w", err)
	}
	p.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	return p, nil
}

// writeClickHouseConfig writes ClickHouse's configuration into etc: the
// packaged config.xml with its paths under dir and its ports from port, the
// packaged users.xml, sluice's users from usersDirs, and background merges
// sized for this machine; extra, if not "", as config.d/extra.xml.
func writeClickHouseConfig(etc, dir string, port int, usersDirs []string, extra string) error {
	if err := os.MkdirAll(filepath.Join(etc, "users.d"), 0o755); err != nil {
		return err
	}
	if extra != "" {
		if err := os.MkdirAll(filepath.Join(etc, "config.d"), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(etc, "config.d", "extra.xml"), []byte(extra), 0o644); err != nil {
			return err
		}
	}
	conf, err := os.ReadFile("/etc/clickhouse-server/config.xml")
	if err != nil {
		return err
	}
	c := strings.NewReplacer(
		"/var/lib/clickhouse/", filepath.Join(dir, "data")+"/",
		"/var/log/clickhouse-server/", filepath.Join(dir, "log")+"/",
		"<tcp_port>9000</tcp_port>", fmt.Sprintf("<tcp_port>%d</tcp_port>", port),
		"<http_port>8123</http_port>", fmt.Sprintf("<http_port>%d</http_port>", port+1),
		"<interserver_http_port>9009</interserver_http_port>", "",
		"<listen_host>::1</listen_host>", "",
	).Replace(string(conf))
	if err := os.WriteFile(filepath.Join(etc, "config.xml"), []byte(c), 0o644); err != nil {
		return err
	}
	if err := copyFile("/etc/clickhouse-server/users.xml", filepath.Join(etc, "users.xml")); err != nil {
		return err
	}
	for _, usersDir := range usersDirs {
		users, err := filepath.Glob(filepath.Join(usersDir, "*.xml"))
		if err != nil || len(users) == 0 {
			return fmt.Errorf("no users in %s", usersDir)
		}
		for _, f := range users {
			if err := copyFile(f, filepath.Join(etc, "users.d", filepath.Base(f))); err != nil {
				return err
			}
		}
	}
	// 16 merge threads (the default) on two cores take the CPU from
	// everything else at once.
	return os.WriteFile(filepath.Join(etc, "users.d", "zz-machine.xml"), []byte(fmt.Sprintf(
		"<yandex><profiles><default><background_pool_size>%d</background_pool_size></default></profiles></yandex>\n",
		max(2, runtime.NumCPU()))), 0o644)
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}

// ErrNotReady is returned by WaitFor when its condition never held.
var ErrNotReady = errors.New("not ready in time")

// WaitFor polls cond every 100ms until it returns true, ctx ends or timeout
// passes.
func WaitFor(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return ErrNotReady
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
