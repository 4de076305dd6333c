package test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// fill writes n strings, a hash and a key with an expiry through cl.
func fill(t *testing.T, cl redis.Cmdable, n int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		if err := cl.Set(ctx, fmt.Sprint("key", i), fmt.Sprint("value", i), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.HSet(ctx, "hash", "a", "1", "b", "2").Err(); err != nil {
		t.Fatal(err)
	}
	if err := cl.Set(ctx, "expiring", "soon", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
}

// checkFilled checks what fill wrote, through cl.
func checkFilled(t *testing.T, cl redis.Cmdable, n int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		if v, err := cl.Get(ctx, fmt.Sprint("key", i)).Result(); err != nil || v != fmt.Sprint("value", i) {
			t.Fatalf("key%d: %q, %v", i, v, err)
		}
	}
	if h, err := cl.HGetAll(ctx, "hash").Result(); err != nil || len(h) != 2 || h["a"] != "1" || h["b"] != "2" {
		t.Fatalf("hash: %v, %v", h, err)
	}
	if ttl, err := cl.TTL(ctx, "expiring").Result(); err != nil || ttl <= 0 || ttl > time.Hour {
		t.Fatalf("expiring key's TTL: %v, %v", ttl, err)
	}
	if size, err := cl.DBSize(ctx).Result(); err != nil || size != int64(n+2) {
		t.Fatalf("DBSIZE %d, %v; want %d", size, err, n+2)
	}
}

// TestBackupAndRestore: raftkv backup, asked of a follower, writes the
// leader's data to a file; raftkv restore builds a new cluster from it,
// with its own members and cluster ID, that serves the same data and
// takes writes.
func TestBackupAndRestore(t *testing.T) {
	const n = 300
	c := startCluster(t, 3)
	lead := c.waitLeader(10 * time.Second)
	fill(t, c.clusterClient(lead), n)
	file := filepath.Join(t.TempDir(), "raftkv.backup")
	out, err := command(binary, "backup", "--addr", c.followers(lead)[0].respAddr, "--out", file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "from "+lead.respAddr) {
		t.Fatalf("backup did not come from the leader %s: %s", lead.respAddr, out)
	}

	nc := newCluster(t, 3, nil)
	// A restore that fails (a damaged file) leaves the folder empty, so
	// that it can be run again.
	damaged := filepath.Join(t.TempDir(), "damaged.backup")
	if b, err := os.ReadFile(file); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(damaged, b[:len(b)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	p0 := nc.nodes[0]
	if out, err := command(binary, "restore", "--from", damaged, "--id", "1", "--peers", nc.peers,
		"--resp-addr", p0.respAddr, "--peer-addr", p0.peerAddr, "--data-dir", p0.dataDir); err == nil {
		t.Fatalf("restore from half a backup succeeded: %s", out)
	}
	for _, p := range nc.nodes {
		out, err := command(binary, "restore", "--from", file, "--id", fmt.Sprint(p.id), "--peers", nc.peers,
			"--resp-addr", p.respAddr, "--peer-addr", p.peerAddr, "--data-dir", p.dataDir)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, fmt.Sprintf("%d keys, 3 members", n+2)) {
			t.Fatalf("restore said: %s", out)
		}
	}
	// A folder that holds data is not overwritten.
	p := nc.nodes[0]
	if out, err := command(binary, "restore", "--from", file, "--id", "1", "--peers", nc.peers,
		"--resp-addr", p.respAddr, "--peer-addr", p.peerAddr, "--data-dir", p.dataDir); err == nil || !strings.Contains(out, "already holds data") {
		t.Fatalf("restore into a folder with data: %v: %s", err, out)
	}
	nc.launch()
	nlead := nc.waitLeader(10 * time.Second)
	cc := nc.clusterClient(nlead)
	checkFilled(t, cc, n)
	for _, f := range nc.followers(nlead) {
		nc.waitApplied(f, commitIndex(t, nlead), 10*time.Second)
		if v := info(f.respAddr)["db0"]; !strings.HasPrefix(v, fmt.Sprintf("keys=%d,", n+2)) {
			t.Fatalf("follower %d: db0 %q", f.id, v)
		}
	}
	if err := cc.Set(context.Background(), "after-restore", "yes", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if old, nw := c.raftField(lead, "cluster_id"), nc.raftField(nlead, "cluster_id"); old == nw || nw == "" {
		t.Fatalf("the restored cluster has cluster ID %q, the original %q: want a new one", nw, old)
	}
}

// TestDisasterRecovery: two of three nodes are lost for good; raftkv
// recover builds a one-node cluster from the survivor's data, with a new
// cluster ID, that holds every acknowledged write and takes new ones.
func TestDisasterRecovery(t *testing.T) {
	const n = 200
	c := startCluster(t, 3)
	lead := c.waitLeader(10 * time.Second)
	fill(t, c.clusterClient(lead), n)
	survivor := c.followers(lead)[0]
	c.waitApplied(survivor, commitIndex(t, lead), 10*time.Second)
	oldID := c.raftField(lead, "cluster_id")
	for _, p := range c.nodes {
		c.kill(p)
	}

	nc := newCluster(t, 1, nil)
	p := nc.nodes[0]
	out, err := command(binary, "recover", "--from-data-dir", survivor.dataDir, "--id", "1", "--peers", nc.peers,
		"--resp-addr", p.respAddr, "--peer-addr", p.peerAddr, "--data-dir", p.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "DISASTER RECOVERY") {
		t.Fatalf("recover was not loud about it:\n%s", out)
	}
	// More than one member is refused: the new cluster starts alone.
	if out, err := command(binary, "recover", "--from-data-dir", survivor.dataDir, "--id", "1", "--peers", c.peers,
		"--resp-addr", c.nodes[0].respAddr, "--peer-addr", c.nodes[0].peerAddr, "--data-dir", t.TempDir()); err == nil || !strings.Contains(out, "must list this node alone") {
		t.Fatalf("recover into a 3-node cluster: %v: %s", err, out)
	}
	nc.launch()
	cl := nc.client(p)
	checkFilled(t, cl, n)
	if err := cl.Set(context.Background(), "after-recovery", "yes", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if id := nc.raftField(p, "cluster_id"); id == oldID || id == "" {
		t.Fatalf("the recovered cluster kept cluster ID %q (old %q)", id, oldID)
	}
}
