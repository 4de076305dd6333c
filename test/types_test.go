package test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestBigHash: a hash of 50,000 fields is built by HSET with many pairs,
// read whole and in part, replicated to every node, renamed and deleted
// with its fields gone from every node.
func TestBigHash(t *testing.T) {
	c := startCluster(t, 3)
	ctx := context.Background()
	lead := c.waitLeader(10 * time.Second)
	cl := c.client(lead)
	const fields, per = 50_000, 1000
	for i := 0; i < fields; i += per {
		args := []any{"HSET", "big"}
		for j := i; j < i+per; j++ {
			args = append(args, fmt.Sprintf("field%06d", j), fmt.Sprintf("value%d", j))
		}
		if n, err := cl.Do(ctx, args...).Int64(); err != nil || n != per {
			t.Fatalf("HSET of %d new fields: %d, %v", per, n, err)
		}
	}
	if n, err := cl.HLen(ctx, "big").Result(); err != nil || n != fields {
		t.Fatalf("HLEN = %d, %v", n, err)
	}
	all, err := cl.HGetAll(ctx, "big").Result()
	if err != nil || len(all) != fields {
		t.Fatalf("HGETALL gave %d fields, %v", len(all), err)
	}
	for _, j := range []int{0, 12345, fields - 1} {
		if v := all[fmt.Sprintf("field%06d", j)]; v != fmt.Sprintf("value%d", j) {
			t.Fatalf("field%06d = %q", j, v)
		}
	}
	if vals, err := cl.HMGet(ctx, "big", "field000007", "nofield", "field049999").Result(); err != nil ||
		vals[0] != "value7" || vals[1] != nil || vals[2] != "value49999" {
		t.Fatalf("HMGET = %q, %v", vals, err)
	}
	if err := cl.Rename(ctx, "big", "big2").Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := cl.HLen(ctx, "big2").Result(); err != nil || n != fields {
		t.Fatalf("HLEN after RENAME = %d, %v", n, err)
	}
	digests := func() map[string]bool {
		commit := commitIndex(t, lead)
		seen := map[string]bool{}
		for _, p := range c.nodes {
			c.waitApplied(p, commit, 10*time.Second)
			d, err := c.client(p).Do(ctx, "DEBUG", "DIGEST").Text()
			if err != nil {
				t.Fatal(err)
			}
			seen[d] = true
		}
		return seen
	}
	if d := digests(); len(d) != 1 {
		t.Fatalf("nodes hold different data: %v", d)
	}
	start := time.Now()
	if n, err := cl.Del(ctx, "big2").Result(); err != nil || n != 1 {
		t.Fatalf("DEL = %d, %v", n, err)
	}
	t.Logf("DEL of a %d-field hash took %v", fields, time.Since(start))
	if n, err := cl.HLen(ctx, "big2").Result(); err != nil || n != 0 {
		t.Fatalf("HLEN after DEL = %d, %v", n, err)
	}
	// Every node is back to an empty data set: no field outlived its key.
	if d := digests(); len(d) != 1 || !d["0000000000000000000000000000000000000000"] {
		t.Fatalf("after DEL the nodes digest to %v, want zeros", d)
	}
}

// TestRandomMembers: SRANDMEMBER and SPOP answer members of the set, as
// many as asked (distinct for a positive count), and SPOP's draw is the
// same on every replica.
func TestRandomMembers(t *testing.T) {
	c := startCluster(t, 3)
	ctx := context.Background()
	lead := c.waitLeader(10 * time.Second)
	cl := c.client(lead)
	in := map[string]bool{}
	var members []any
	for i := range 100 {
		m := fmt.Sprintf("m%d", i)
		in[m] = true
		members = append(members, m)
	}
	if err := cl.SAdd(ctx, "s", members...).Err(); err != nil {
		t.Fatal(err)
	}
	distinct := func(got []string, want int) {
		t.Helper()
		seen := map[string]bool{}
		for _, m := range got {
			if !in[m] || seen[m] {
				t.Fatalf("%q: not a member, or twice", m)
			}
			seen[m] = true
		}
		if len(got) != want {
			t.Fatalf("%d members, want %d", len(got), want)
		}
	}
	got, err := cl.SRandMemberN(ctx, "s", 10).Result()
	if err != nil {
		t.Fatal(err)
	}
	distinct(got, 10)
	if got, _ = cl.SRandMemberN(ctx, "s", 500).Result(); len(got) != 100 {
		t.Fatalf("SRANDMEMBER 500 of 100 gave %d", len(got))
	}
	distinct(got, 100)
	if got, _ = cl.SRandMemberN(ctx, "s", -300).Result(); len(got) != 300 {
		t.Fatalf("SRANDMEMBER -300 gave %d", len(got))
	}
	for _, m := range got {
		if !in[m] {
			t.Fatalf("SRANDMEMBER -300 gave %q", m)
		}
	}
	popped, err := cl.SPopN(ctx, "s", 30).Result()
	if err != nil {
		t.Fatal(err)
	}
	distinct(popped, 30)
	if n, _ := cl.SCard(ctx, "s").Result(); n != 70 {
		t.Fatalf("SCARD after popping 30 = %d", n)
	}
	for _, m := range popped {
		if ok, _ := cl.SIsMember(ctx, "s", m).Result(); ok {
			t.Fatalf("%s is still a member after SPOP", m)
		}
	}
	commit := commitIndex(t, lead)
	digests := map[string]bool{}
	for _, p := range c.nodes {
		c.waitApplied(p, commit, 10*time.Second)
		d, err := c.client(p).Do(ctx, "DEBUG", "DIGEST").Text()
		if err != nil {
			t.Fatal(err)
		}
		digests[d] = true
	}
	if len(digests) != 1 {
		t.Fatalf("replicas popped different members: %v", digests)
	}
}

// TestScan: SCAN, HSCAN, SSCAN and ZSCAN walk a large keyspace or
// collection in small steps and return every element present throughout
// the walk, even with writes going on; MATCH and TYPE filter.
func TestScan(t *testing.T) {
	c := startCluster(t, 3)
	ctx := context.Background()
	lead := c.waitLeader(10 * time.Second)
	cl := c.client(lead)
	const n = 1000
	// 4,000 pipelined writes, most answered one Raft round each: more
	// than the usual read timeout on a loaded machine.
	slow := redis.NewClient(&redis.Options{Addr: lead.respAddr, ReadTimeout: 2 * time.Minute})
	defer slow.Close()
	pipe := slow.Pipeline()
	for i := range n {
		pipe.Set(ctx, fmt.Sprintf("key:%04d", i), i, 0)
		pipe.HSet(ctx, "h", fmt.Sprintf("f%04d", i), i)
		pipe.SAdd(ctx, "s", fmt.Sprintf("m%04d", i))
		pipe.ZAdd(ctx, "z", redis.Z{Score: float64(i), Member: fmt.Sprintf("m%04d", i)})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	// Writes during the walks: new keys come and go; the ones above stay.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		w := c.client(lead)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			k := fmt.Sprintf("key:churn%d", i%50)
			w.Set(ctx, k, i, 0)
			w.Del(ctx, fmt.Sprintf("key:churn%d", (i+25)%50))
			w.HSet(ctx, "h", fmt.Sprintf("churn%d", i%50), i)
		}
	}()
	walk := func(what string, next func(cursor uint64) ([]string, uint64, error), per int, want func(string) bool) map[string]bool {
		t.Helper()
		seen := map[string]bool{}
		var cursor uint64
		for calls := 0; ; calls++ {
			items, nc, err := next(cursor)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			for i := 0; i < len(items); i += per {
				seen[items[i]] = true
			}
			if cursor = nc; cursor == 0 {
				break
			}
			if calls > 10*n {
				t.Fatalf("%s does not end", what)
			}
		}
		for i := range n {
			for _, f := range []string{"key:%04d", "f%04d", "m%04d"} {
				if k := fmt.Sprintf(f, i); want(k) && !seen[k] {
					t.Fatalf("%s missed %s", what, k)
				}
			}
		}
		return seen
	}
	keysOnly := func(s string) bool { return len(s) > 4 && s[:4] == "key:" }
	walk("SCAN", func(cur uint64) ([]string, uint64, error) { return cl.Scan(ctx, cur, "", 7).Result() }, 1, keysOnly)
	got := walk("SCAN MATCH", func(cur uint64) ([]string, uint64, error) { return cl.Scan(ctx, cur, "key:00*", 50).Result() }, 1,
		func(s string) bool { return len(s) > 6 && s[:6] == "key:00" })
	for k := range got {
		if k[:6] != "key:00" {
			t.Fatalf("SCAN MATCH key:00* returned %s", k)
		}
	}
	got = walk("SCAN TYPE", func(cur uint64) ([]string, uint64, error) { return cl.ScanType(ctx, cur, "", 100, "zset").Result() }, 1, func(string) bool { return false })
	if len(got) != 1 || !got["z"] {
		t.Fatalf("SCAN TYPE zset returned %v", got)
	}
	walk("HSCAN", func(cur uint64) ([]string, uint64, error) { return cl.HScan(ctx, "h", cur, "", 13).Result() }, 2,
		func(s string) bool { return s[0] == 'f' })
	walk("SSCAN", func(cur uint64) ([]string, uint64, error) { return cl.SScan(ctx, "s", cur, "", 13).Result() }, 1,
		func(s string) bool { return s[0] == 'm' })
	walk("ZSCAN", func(cur uint64) ([]string, uint64, error) { return cl.ZScan(ctx, "z", cur, "", 13).Result() }, 2,
		func(s string) bool { return s[0] == 'm' })
	close(stop)
	<-done
	// A cursor this node never gave out starts the walk over.
	if keys, _, err := cl.Scan(ctx, 12345, "key:0000", 2000).Result(); err != nil || len(keys) != 1 {
		t.Fatalf("SCAN with an unknown cursor: %q, %v", keys, err)
	}
}
