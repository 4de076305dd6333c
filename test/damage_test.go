package test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDamagedNodeRefusesToStart flips a bit in a stopped follower's
// sstable: the node refuses to start, says why and what to do, and the
// cluster goes on without it.
func TestDamagedNodeRefusesToStart(t *testing.T) {
	c := startCluster(t, 3)
	lead := c.waitLeader(10 * time.Second)
	ctx := context.Background()
	rdb := c.client(lead)
	// Enough data for pebble to flush sstables (its memtable holds 4 MiB).
	value := strings.Repeat("v", 10<<10)
	pipe := rdb.Pipeline()
	for i := range 1000 {
		pipe.Set(ctx, fmt.Sprintf("k%d", i), value, 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	f := c.followers(lead)[0]
	c.waitApplied(f, commitIndex(t, lead), 10*time.Second)
	c.stop(f)

	db := filepath.Join(f.dataDir, "db")
	ssts, _ := filepath.Glob(filepath.Join(db, "*.sst"))
	if len(ssts) == 0 {
		t.Fatalf("node %d has no sstables in %s; the test needs one to damage", f.id, db)
	}
	largest, size := "", int64(0)
	for _, p := range ssts {
		if fi, err := os.Stat(p); err == nil && fi.Size() > size {
			largest, size = p, fi.Size()
		}
	}
	b, err := os.ReadFile(largest)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(largest, b, 0o644); err != nil {
		t.Fatal(err)
	}

	logBefore, _ := os.ReadFile(f.logPath)
	c.start(f)
	select {
	case <-f.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("node %d started on a damaged sstable", f.id)
	}
	if code := f.cmd.ProcessState.ExitCode(); code == 0 {
		t.Fatalf("node %d exited with status 0 on damaged data", f.id)
	}
	logAll, _ := os.ReadFile(f.logPath)
	msg := string(bytes.TrimPrefix(logAll, logBefore))
	for _, want := range []string{"corrupt", filepath.Base(largest), "checksum mismatch", "delete its data directory"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("node %d's refusal does not say %q:\n%s", f.id, want, lastLines([]byte(msg), 20))
		}
	}
	t.Logf("node %d refused to start: %s", f.id, lastLines(bytes.TrimSpace([]byte(msg)), 1))
	if err := rdb.Set(ctx, "after", "ok", 0).Err(); err != nil {
		t.Fatalf("the cluster stopped serving: %v", err)
	}
}
