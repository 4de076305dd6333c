package test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLogStaysBounded writes 1,000,000 small values in pipelines of 50,
// which the leader packs into some 20,000 entries or more (a pipeline
// split across reads makes more than one), with a snapshot threshold of
// 500: on every node the Raft log on disk then holds only the entries
// after its last snapshot (at most the threshold and the entries in
// flight), not all of them.
func TestLogStaysBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the million-write test in -short mode")
	}
	const (
		writes    = 1_000_000
		threshold = 500
		workers   = 8
		pipeline  = 50
	)
	c := startCluster(t, 3, "--snapshot-entries", strconv.Itoa(threshold), "--snapshot-catchup-entries", "50", "--log-level", "info")
	lead := c.waitLeader(10 * time.Second)
	ctx := context.Background()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := c.client(lead)
			for i := w * pipeline; i < writes; i += workers * pipeline {
				pipe := cl.Pipeline()
				for j := i; j < min(i+pipeline, writes); j++ {
					pipe.Set(ctx, "k"+strconv.Itoa(j%100000), strconv.Itoa(j), 0)
				}
				if _, err := pipe.Exec(ctx); err != nil {
					errs <- fmt.Errorf("pipeline at %d: %w", i, err)
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
	took := time.Since(start)
	t.Logf("%d writes in %v (%.0f/s)", writes, took.Round(time.Millisecond), writes/took.Seconds())

	commit := commitIndex(t, lead)
	if commit < 10*threshold {
		t.Fatalf("%d writes made %d entries: too few to compact the log ten times at %d", writes, commit, threshold)
	}
	for _, p := range c.nodes {
		c.waitApplied(p, commit, 30*time.Second)
		v, err := c.client(p).Do(ctx, "RAFT.INFO").Text()
		if err != nil {
			t.Fatal(err)
		}
		fields := map[string]uint64{}
		for _, l := range strings.Split(v, "\r\n") {
			if k, val, ok := strings.Cut(l, ":"); ok {
				fields[k], _ = strconv.ParseUint(val, 10, 64)
			}
		}
		// Compaction runs once the log holds the threshold; between two
		// compactions it may hold up to one more batch of entries.
		if fields["log_entries"] > threshold+pipeline*workers {
			t.Fatalf("node %d holds %d log entries after %d writes (threshold %d)", p.id, fields["log_entries"], writes, threshold)
		}
		if fields["snapshot_last_idx"]+threshold+pipeline*workers < commit {
			t.Fatalf("node %d's last snapshot is at %d, commit at %d", p.id, fields["snapshot_last_idx"], commit)
		}
		t.Logf("node %d: log_entries %d, snapshot_last_idx %d, commit %d", p.id, fields["log_entries"], fields["snapshot_last_idx"], commit)
	}
}
