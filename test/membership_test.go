package test

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestGrowAndShrink grows a 3-node cluster to 5 with `raftkv server
// --join` (each new node joins as a learner, catches up, then votes) and
// shrinks it back to 3 with RAFT.NODE REMOVE, the leader among the removed,
// under a steady write load: no acknowledged write is lost, and removed
// nodes stop.
func TestGrowAndShrink(t *testing.T) {
	c := startCluster(t, 3, "--snapshot-entries", "300", "--snapshot-catchup-entries", "30")
	lead := c.waitLeader(10 * time.Second)
	ctx := context.Background()

	var (
		mu     sync.Mutex
		acked  = map[string]string{}
		failed int
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 3 {
		pc := newPlainClient(t, lead.respAddr)
		for _, p := range c.nodes {
			pc.client(p.respAddr)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k, v := fmt.Sprintf("m%d:%d", w, i), fmt.Sprintf("v%d", i)
				wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				err := pc.Do(wctx, "SET", k, v).Err()
				cancel()
				mu.Lock()
				if err == nil {
					acked[k] = v
				} else {
					failed++
				}
				mu.Unlock()
			}
		}()
	}
	raftInfo, waitFor := c.raftInfo, c.waitFor

	time.Sleep(500 * time.Millisecond)
	for range 2 {
		p := c.addNode(c.nodes[0])
		waitFor(fmt.Sprintf("node %d to vote", p.id), func() bool {
			l := c.leader()
			return l != nil && strings.Contains(raftInfo(l), fmt.Sprintf("id=%d,role=voter", p.id))
		})
		t.Logf("node %d joined and votes", p.id)
	}
	l := c.waitLeader(10 * time.Second)
	if info := raftInfo(l); !strings.Contains(info, "num_voting_nodes:5") {
		t.Fatalf("after growing:\n%s", info)
	}

	// Remove the leader, then another of the first three.
	admin := newPlainClient(t, c.nodes[len(c.nodes)-1].respAddr)
	for _, p := range c.nodes {
		admin.client(p.respAddr)
	}
	removed := []*proc{l}
	for _, p := range c.nodes[:3] {
		if p != l {
			removed = append(removed, p)
			break
		}
	}
	for i, p := range removed {
		if i == 0 {
			rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := admin.Do(rctx, "RAFT.NODE", "REMOVE", p.id).Err()
			cancel()
			if err != nil {
				t.Fatalf("remove node %d: %v", p.id, err)
			}
		} else {
			// The binary's subcommand, through a node that redirects.
			out, err := exec.Command(binary, "node", "remove", "--id", strconv.FormatUint(p.id, 10), "--addr", c.nodes[len(c.nodes)-1].respAddr).CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != "OK" {
				t.Fatalf("raftkv node remove --id %d: %v\n%s", p.id, err, out)
			}
		}
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			t.Fatalf("removed node %d did not stop", p.id)
		}
		t.Logf("node %d removed and stopped", p.id)
	}
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()

	l = c.waitLeader(10 * time.Second)
	info := raftInfo(l)
	if !strings.Contains(info, "num_nodes:3") || !strings.Contains(info, "num_voting_nodes:3") {
		t.Fatalf("after shrinking:\n%s", info)
	}
	nodes, err := c.client(l).ClusterNodes(ctx).Result()
	if err != nil || strings.Count(nodes, "\n") != 3 {
		t.Fatalf("CLUSTER NODES after shrinking: %v\n%s", err, nodes)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(acked) < 100 {
		t.Fatalf("only %d writes acknowledged (%d failed)", len(acked), failed)
	}
	check := newPlainClient(t, l.respAddr)
	for k, v := range acked {
		if got, err := check.Do(ctx, "GET", k).Text(); err != nil || got != v {
			t.Fatalf("acknowledged write %s=%s lost: %q, %v", k, v, got, err)
		}
	}
	t.Logf("%d writes acknowledged, %d failed with an unknown outcome", len(acked), failed)
}

// TestJoinWhileAnUnconfiguredNodeLeads: a joining node is configured with
// the first members only; when the leader is a node added later, the
// joiner must still answer it (it learns the leader's address from its
// messages) and catch up from a snapshot.
func TestJoinWhileAnUnconfiguredNodeLeads(t *testing.T) {
	c := startCluster(t, 3, "--snapshot-entries", "100", "--snapshot-catchup-entries", "10")
	ctx := context.Background()
	votes := func(p *proc) func() bool {
		return func() bool {
			l := c.leader()
			return l != nil && strings.Contains(c.raftInfo(l), fmt.Sprintf("id=%d,role=voter", p.id))
		}
	}
	four := c.addNode(c.nodes[0])
	c.waitFor("node 4 to vote", votes(four))
	admin := newPlainClient(t, c.nodes[0].respAddr)
	for _, p := range c.nodes {
		admin.client(p.respAddr)
	}
	if err := admin.Do(ctx, "RAFT.TRANSFER_LEADER", four.id).Err(); err != nil {
		t.Fatalf("transfer leadership to node 4: %v", err)
	}
	c.waitFor("node 4 to lead", func() bool { return c.leader() == four })
	for i := range 300 { // past a compaction, so the joiner needs a snapshot
		if err := admin.Do(ctx, "SET", fmt.Sprintf("k%d", i), "v").Err(); err != nil {
			t.Fatal(err)
		}
	}
	five := c.addNode(c.nodes[0])
	c.waitFor("node 5 to vote while node 4 leads", votes(five))
	c.waitApplied(five, commitIndex(t, four), 10*time.Second)
	if got, err := c.client(five).Do(ctx, "DEBUG", "DIGEST").Text(); err != nil {
		t.Fatal(err)
	} else if want, _ := c.client(four).Do(ctx, "DEBUG", "DIGEST").Text(); got != want {
		t.Fatalf("node 5 holds digest %s, the leader %s", got, want)
	}
}
