package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluicehq/sluice/e2e/hostile"
	"github.com/sluicehq/sluice/schemas"
)

// hostileDeadline is how long a hostile file may take from its upload to
// its import's end (the bucket event comes a moment after the upload).
const hostileDeadline = 10 * time.Second

// TestHostile uploads every file of the hostile corpus (package hostile) to
// the hostile tenant, one after the other, and checks that each ends within
// hostileDeadline with the outcome it must have: its status, the code of
// its reason, its counts, no row of a file rejected whole in clients, and a
// reason of bounded size. Then that sluice is neither busy nor was ever
// over 200 MiB meanwhile.
//
// Serial: it measures sluice up's CPU time and peak memory.
func TestHostile(t *testing.T) {
	files := hostile.Files()
	if len(files) < 40 {
		t.Fatalf("the corpus has %d files, want at least 40", len(files))
	}
	// The small files are kept in testdata: they must be what the
	// generator makes (go generate ./e2e/hostile).
	for _, f := range files {
		if len(f.Body) > hostile.KeepBytes {
			continue
		}
		kept, err := os.ReadFile(filepath.Join("testdata", "hostile", f.Name))
		if err != nil || !bytes.Equal(kept, f.Body) {
			t.Errorf("testdata/hostile/%s is not what the generator makes (%v): run go generate ./e2e/hostile", f.Name, err)
		}
	}
	// The peak memory from here on (writing 5 resets VmHWM).
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", stack.upPID), []byte("5"), 0); err != nil {
		t.Logf("cannot reset the peak memory of sluice up: %v", err)
	}
	for _, f := range files {
		t.Run(f.Name, func(t *testing.T) { checkHostile(t, f) })
	}

	t.Run("sluice is not left busy", func(t *testing.T) {
		time.Sleep(2 * time.Second)
		before := cpuTime(t, stack.upPID)
		const window = 4 * time.Second
		time.Sleep(window)
		// The bucket sync lists the bucket every 2 s: far less than a
		// core's worth; a core spinning on a file would take all of it.
		if used := cpuTime(t, stack.upPID) - before; used > window/4 {
			t.Errorf("sluice up used %v of CPU in %v after the last hostile file", used, window)
		}
	})
	t.Run("sluice stayed under 200 MiB", func(t *testing.T) {
		if peak := procStatus(t, stack.upPID, "VmHWM"); peak > 200<<20 {
			t.Errorf("sluice up peaked at %d MiB during the hostile files", peak>>20)
		}
	})
}

func checkHostile(t *testing.T, f hostile.File) {
	key := "hostile/clients/" + f.Name
	before := importsOf(t, key)
	start := time.Now()
	in := &s3.PutObjectInput{Bucket: aws.String(stack.s3cfg.Bucket), Key: aws.String(key), Body: bytes.NewReader(f.Body),
		Metadata: map[string]string{"uploader": "security@hostile.example"}}
	if _, err := partner(key).PutObject(context.Background(), in); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	var got imp
	for found := false; !found; {
		if time.Since(start) > hostileDeadline {
			var last []string
			for _, i := range importsOf(t, key) {
				last = append(last, i.Status)
			}
			t.Fatalf("%s (%s): no end within %v of its upload (statuses %v); sluice up log (tail):\n%s",
				f.Name, f.Why, hostileDeadline, last, tail(readFile(t, stack.log), 2000))
		}
		time.Sleep(100 * time.Millisecond)
		for id, i := range importsOf(t, key) {
			if _, old := before[id]; !old && schemas.FinalStatus(i.Status) {
				got, found = i, true
			}
		}
	}
	t.Logf("%s: %s %s in %v (%s)", f.Name, got.Status, got.ReasonCode, time.Since(start).Round(10*time.Millisecond), got.Reason)
	if got.Status != f.Status || got.ReasonCode != f.Reason {
		t.Errorf("%s (%s): got %s %q (%s), want %s %q", f.Name, f.Why, got.Status, got.ReasonCode, got.Reason, f.Status, f.Reason)
	}
	if got.Counts != f.Counts {
		t.Errorf("%s (%s): counts %+v, want %+v", f.Name, f.Why, got.Counts, f.Counts)
	}
	// A reason names what is wrong, in a few words: never the file's
	// megabytes.
	if len(got.Reason) > 1024 {
		t.Errorf("%s: a reason of %d bytes", f.Name, len(got.Reason))
	}
	var loaded uint64
	if err := stack.ch.Conn.QueryRow(context.Background(),
		"SELECT count() FROM sluice.clients FINAL WHERE tenant = 'hostile' AND endsWith(email, ?)", "@"+hostile.Domain(f.Name)).Scan(&loaded); err != nil {
		t.Fatal(err)
	}
	if int(loaded) != f.Counts.Created {
		t.Errorf("%s: %d rows in clients, want %d", f.Name, loaded, f.Counts.Created)
	}
	// Echoed values are cut: the dead-letter messages stay small whatever
	// the cells hold.
	for _, d := range dlqRows(t, "hostile", "clients", got.ID) {
		for _, r := range d.Rejected {
			for _, v := range r.Violations {
				if len(v.Value) > schemas.MaxEcho+len(schemas.CutMarker) || len(v.Message) > 1024 {
					t.Errorf("%s: row %d: a violation echoing %d bytes (message %d)", f.Name, r.N, len(v.Value), len(v.Message))
				}
			}
		}
	}
}

// cpuTime is the CPU time a process has used (user and system), from
// /proc/<pid>/stat, in clock ticks of 10 ms.
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	b := readFile(t, fmt.Sprintf("/proc/%d/stat", pid))
	// The fields after the command, which is in parentheses: state is the
	// 3rd field of the line, utime the 14th, stime the 15th.
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("stat of %d: %q", pid, b)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// procStatus is a memory figure of /proc/<pid>/status, in bytes.
func procStatus(t *testing.T, pid int, name string) int64 {
	t.Helper()
	for line := range strings.SplitSeq(string(readFile(t, fmt.Sprintf("/proc/%d/status", pid))), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in the status of %d", name, pid)
	return 0
}
