package test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSnapshotToWipedNode replaces a follower whose data directory was
// wiped: the leader's log no longer holds the early entries, so the node
// receives a snapshot of the data, then catches up from the log.
func TestSnapshotToWipedNode(t *testing.T) {
	c := startCluster(t, 3, "--snapshot-entries", "200", "--snapshot-catchup-entries", "20")
	lead := c.waitLeader(10 * time.Second)
	ctx := context.Background()
	cl := c.client(lead)
	// One write at a time from 20 connections: 1000 entries (a pipeline's
	// writes would share a few).
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for w := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < 1000; i += 20 {
				if err := cl.Set(ctx, fmt.Sprintf("key%d", i), fmt.Sprintf("value%d", i), 0).Err(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	info := func(p *proc, field string) string {
		v, err := c.client(p).Do(ctx, "RAFT.INFO").Text()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(v, "\r\n") {
			if k, val, ok := strings.Cut(l, ":"); ok && k == field {
				return val
			}
		}
		return ""
	}
	// The leader compacts its log after it applies, and keeps what a live
	// follower has yet to acknowledge: the last replies can come before
	// the compaction that follows them.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		idx, _ := strconv.Atoi(info(lead, "snapshot_last_idx"))
		n, _ := strconv.Atoi(info(lead, "log_entries"))
		if idx >= 500 && n <= 250 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("5 s after 1000 writes with --snapshot-entries 200, the leader's snapshot_last_idx is %d (want 500 or more) and its log holds %d entries (want at most 250)", idx, n)
		}
	}

	f := c.followers(lead)[0]
	c.kill(f)
	if err := os.RemoveAll(f.dataDir); err != nil {
		t.Fatal(err)
	}
	// More writes while it is gone.
	for i := 1000; i < 1100; i++ {
		if err := cl.Set(ctx, fmt.Sprintf("key%d", i), fmt.Sprintf("value%d", i), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	c.start(f)
	c.waitApplied(f, commitIndex(t, lead), 15*time.Second)
	log, _ := os.ReadFile(f.logPath)
	if !strings.Contains(string(log), "snapshot installed") {
		t.Fatalf("the wiped node caught up without a snapshot")
	}
	// It holds every key: make it the leader and read them back.
	if err := c.client(lead).Do(ctx, "RAFT.TRANSFER_LEADER", f.id).Err(); err != nil {
		t.Fatal(err)
	}
	if l := c.waitLeader(5 * time.Second); l != f {
		t.Fatalf("leader is node %d, want the restored node %d", l.id, f.id)
	}
	fc := c.client(f)
	for i := range 1100 {
		if v, err := fc.Get(ctx, fmt.Sprintf("key%d", i)).Result(); err != nil || v != fmt.Sprintf("value%d", i) {
			t.Fatalf("restored node: key%d = %q, %v", i, v, err)
		}
	}
	if got := info(f, "snapshot_last_idx"); got == "0" {
		t.Fatal("restored node reports no snapshot")
	}
}
