package test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestExpiry: keys given a time to live disappear for readers as soon as
// it passes, the leader's sweep then deletes them on every replica alike,
// and the keys that remain, of every type, with the expiry of those that
// have one (to the millisecond), are carried exactly through a snapshot to
// a new node, a restart of every node, and a change of leader.
func TestExpiry(t *testing.T) {
	c := startCluster(t, 3, "--snapshot-entries", "100", "--snapshot-catchup-entries", "10")
	ctx := context.Background()
	c.waitLeader(10 * time.Second)
	cl := newPlainClient(t, c.nodes[0].respAddr)
	for _, p := range c.nodes {
		cl.client(p.respAddr)
	}
	do := func(args ...any) *redis.Cmd {
		t.Helper()
		cmd := cl.Do(ctx, args...)
		if err := cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
			t.Fatalf("%v: %v", args, err)
		}
		return cmd
	}
	const short = 300
	for i := range short {
		do("SET", fmt.Sprintf("short%d", i), "v", "PX", 2000)
	}
	do("SET", "long", "v", "EX", 1000)
	do("SET", "plain", "v")
	// One key of every other type, one of them expiring, to travel
	// through the snapshot and the restarts too.
	do("HSET", "hash", "f", "v", "g", "w")
	do("EXPIRE", "hash", 1000)
	do("RPUSH", "list", "a", "b", "c")
	do("SADD", "set", "x", "y")
	do("ZADD", "zset", 1.5, "m", -2, "n")
	if v, _ := do("GET", "short0").Text(); v != "v" {
		t.Fatalf("short0 = %q before its time", v)
	}
	last, _ := do("PEXPIRETIME", fmt.Sprintf("short%d", short-1)).Int64()
	longAt, _ := do("PEXPIRETIME", "long").Int64()
	if now := time.Now().UnixMilli(); longAt < now+999_000 || longAt > now+1_000_000 {
		t.Fatalf("PEXPIRETIME long = %d, %d ms from now", longAt, longAt-now)
	}

	// Every short key has expired once the last one has: no read may
	// return any, whether or not the sweep has run.
	time.Sleep(time.Until(time.UnixMilli(last + 20)))
	for i := range short {
		k := fmt.Sprintf("short%d", i)
		if err := cl.Do(ctx, "GET", k).Err(); !errors.Is(err, redis.Nil) {
			t.Fatalf("GET %s after its expiry: %v", k, err)
		}
		if n, _ := do("TTL", k).Int64(); n != -2 {
			t.Fatalf("TTL %s after its expiry = %d", k, n)
		}
	}
	if n, _ := do("EXISTS", "short0", "long", "plain", "hash").Int64(); n != 3 {
		t.Fatalf("EXISTS counts %d keys, want 3", n)
	}

	// The sweep deletes them through the log: every node ends with the
	// same six keys, two of them with an expiry.
	c.waitFor("the sweep to delete expired keys", func() bool {
		n, err := cl.Do(ctx, "DBSIZE").Int64()
		return err == nil && n == 6
	})
	sameEverywhere := func(what string) {
		t.Helper()
		lead := c.waitLeader(10 * time.Second)
		commit := commitIndex(t, lead)
		want := ""
		for _, p := range c.nodes {
			c.waitApplied(p, commit, 10*time.Second)
			if ks := info(p.respAddr)["db0"]; ks != "keys=6,expires=2,avg_ttl=0" {
				t.Fatalf("%s: node %d keyspace %q", what, p.id, ks)
			}
			d, err := c.client(p).Do(ctx, "DEBUG", "DIGEST").Text()
			if err != nil {
				t.Fatal(err)
			}
			if want == "" {
				want = d
			} else if d != want {
				t.Fatalf("%s: node %d digest %s, node %d's %s", what, p.id, d, c.nodes[0].id, want)
			}
		}
	}
	sameEverywhere("after the sweep")

	// Enough writes to compact the log, then a new node that needs a
	// snapshot.
	for i := range 150 {
		do("SET", "filler", i)
	}
	do("DEL", "filler")
	four := c.addNode(c.nodes[0])
	c.waitFor("node 4 to vote", func() bool {
		l := c.leader()
		return l != nil && strings.Contains(c.raftInfo(l), "id=4,role=voter")
	})
	cl.client(four.respAddr)
	if log, err := os.ReadFile(four.logPath); err != nil || !strings.Contains(string(log), "snapshot installed") {
		t.Fatalf("node 4 did not install a snapshot (%v)", err)
	}
	sameEverywhere("after node 4 joined from a snapshot")

	// Every node restarts.
	for _, p := range c.nodes {
		c.stop(p)
	}
	for _, p := range c.nodes {
		c.start(p)
	}
	c.waitLeader(20 * time.Second)
	sameEverywhere("after a restart")
	if at, _ := do("PEXPIRETIME", "long").Int64(); at != longAt {
		t.Fatalf("PEXPIRETIME long = %d after a restart, was %d", at, longAt)
	}

	// The node that joined from a snapshot leads, with the same expiry.
	if err := cl.Do(ctx, "RAFT.TRANSFER_LEADER", four.id).Err(); err != nil {
		t.Fatalf("transfer leadership to node 4: %v", err)
	}
	c.waitFor("node 4 to lead", func() bool { return c.leader() == four })
	if at, err := c.client(four).Do(ctx, "PEXPIRETIME", "long").Int64(); err != nil || at != longAt {
		t.Fatalf("PEXPIRETIME long on node 4 = %d, %v; was %d", at, err, longAt)
	}
	// TTL is what is left to PEXPIRETIME, in seconds, however long the
	// test took to get here (one second either way for the rounding).
	left := func(now int64) int64 { return (longAt - now) / 1000 }
	before := time.Now().UnixMilli()
	ttl, _ := c.client(four).Do(ctx, "TTL", "long").Int64()
	if after := time.Now().UnixMilli(); ttl < left(after)-1 || ttl > left(before)+1 {
		t.Fatalf("TTL long on node 4 = %d, %d ms before its PEXPIRETIME", ttl, longAt-before)
	}
	four4 := c.client(four)
	if v, _ := four4.Do(ctx, "GET", "plain").Text(); v != "v" {
		t.Fatalf("plain = %q on node 4", v)
	}
	if h, _ := four4.HGetAll(ctx, "hash").Result(); fmt.Sprint(h) != "map[f:v g:w]" {
		t.Fatalf("hash = %v on node 4", h)
	}
	// The hash's expiry was set after long's.
	if ttl, _ := four4.TTL(ctx, "hash").Result(); ttl < time.Duration(left(time.Now().UnixMilli())-1)*time.Second {
		t.Fatalf("hash TTL = %v on node 4", ttl)
	}
	if l, _ := four4.LRange(ctx, "list", 0, -1).Result(); fmt.Sprint(l) != "[a b c]" {
		t.Fatalf("list = %v on node 4", l)
	}
	if m, _ := four4.SMembers(ctx, "set").Result(); fmt.Sprint(m) != "[x y]" {
		t.Fatalf("set = %v on node 4", m)
	}
	if z, _ := four4.ZRangeWithScores(ctx, "zset", 0, -1).Result(); fmt.Sprint(z) != "[{-2 n} {1.5 m}]" {
		t.Fatalf("zset = %v on node 4", z)
	}
}
