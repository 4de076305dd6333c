package test

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestKillAllDurability kills every node at once (SIGKILL) in the middle of
// a write load, restarts them on their data, and checks that every
// acknowledged write is there: a write is acknowledged only once it is
// fsynced on a majority and applied.
func TestKillAllDurability(t *testing.T) {
	c := startCluster(t, 3)
	lead := c.waitLeader(10 * time.Second)
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
