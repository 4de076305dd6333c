package test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestKillAllDurability kills every node at once (SIGKILL) in the middle of
// a write load, restarts them on their data, and checks that every
// acknowledged write is there: a write is acknowledged only once it is
// fsynced on a majority and applied. It runs with Go's default processors
// and with one per node, where the log's syncs keep the processor
// (engine.Options.HoldProcessorInSync), as `raftkv cluster` gives on a
// machine with fewer than six CPUs.
func TestKillAllDurability(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		killAll(t, fmt.Sprintf("sync_holds_processor=%v", runtime.GOMAXPROCS(0) == 1))
	})
	t.Run("max-procs 1", func(t *testing.T) { killAll(t, "sync_holds_processor=true", "--max-procs", "1") })
	// As raftkv cluster gives on a 2-CPU machine: the leader runs on two
	// processors and its log syncs as an ordinary system call.
	t.Run("max-procs 1, leader 2", func(t *testing.T) {
		killAll(t, "sync_holds_processor=true", "--max-procs", "1", "--leader-max-procs", "2")
	})
}

// killAll is TestKillAllDurability on nodes started with extra flags,
// whose logs must say logSays, how the engine syncs.
func killAll(t *testing.T, logSays string, extra ...string) {
	c := startCluster(t, 3, extra...)
	for _, p := range c.nodes {
		if log, err := os.ReadFile(p.logPath); err != nil || !strings.Contains(string(log), logSays) {
			t.Fatalf("node %d's log does not say %s (%v)", p.id, logSays, err)
		}
	}
	lead := c.waitLeader(10 * time.Second)
	if slices.Contains(extra, "--leader-max-procs") {
		if log, err := os.ReadFile(lead.logPath); err != nil || !strings.Contains(string(log), "role=leader procs=2") {
			t.Fatalf("the leader, node %d, did not log running on 2 CPUs (%v)", lead.id, err)
		}
	}
	ctx := context.Background()
	var (
		mu    sync.Mutex
		acked = map[string]string{}
	)
	var wg sync.WaitGroup
	for w := range 8 {
		pc := newPlainClient(t, lead.respAddr)
		for _, p := range c.nodes {
			pc.client(p.respAddr)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				k, v := fmt.Sprintf("d%d:%d", w, i), fmt.Sprintf("v%d", i)
				wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				err := pc.Do(wctx, "APPEND", k, v).Err()
				cancel()
				if err != nil {
					return // the nodes are gone
				}
				mu.Lock()
				acked[k] = v
				mu.Unlock()
			}
		}()
	}
	time.Sleep(2 * time.Second)
	// Every node at once.
	for _, p := range c.nodes {
		p.cmd.Process.Signal(syscall.SIGKILL)
	}
	for _, p := range c.nodes {
		<-p.exited
		p.cmd = nil
	}
	wg.Wait()
	for _, p := range c.nodes {
		c.start(p)
	}
	lead = c.waitLeader(10 * time.Second)
	mu.Lock()
	defer mu.Unlock()
	if len(acked) < 50 {
		t.Fatalf("only %d writes acknowledged before the crash", len(acked))
	}
	check := newPlainClient(t, lead.respAddr)
	for k, v := range acked {
		// APPEND to a fresh key: exactly the one value, once.
		got, err := check.Do(ctx, "GET", k).Text()
		if err != nil || got != v {
			t.Fatalf("acknowledged APPEND %s=%s after the crash: %q, %v", k, v, got, err)
		}
	}
	t.Logf("%d acknowledged writes survived SIGKILL of every node", len(acked))
}
