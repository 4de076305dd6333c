package test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestClientScenariosGoRedis runs application-style scenarios with
// go-redis: a plain client on the leader, and a ClusterClient seeded with
// a follower (it finds the leader through CLUSTER SLOTS and MOVED).
func TestClientScenariosGoRedis(t *testing.T) {
	c := startCluster(t, 3)
	lead := c.waitLeader(10 * time.Second)
	if err := appScenario(c.client(lead), "plain"); err != nil {
		t.Fatalf("plain client: %v", err)
	}
	if err := appScenario(c.clusterClient(c.followers(lead)[0]), "cluster"); err != nil {
		t.Fatalf("cluster client: %v", err)
	}
}

// appScenario is a cache with TTL, a counter, a job queue, a leaderboard,
// a profile hash, tags and a MULTI/EXEC transfer. Keys share a hash tag so
// that a cluster client sends the transaction to one node.
func appScenario(r redis.UniversalClient, tag string) error {
	ctx := context.Background()
	k := func(name string) string { return "{" + tag + "}" + name }
	check := func(what string, got, want any) error {
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("%s: got %v, want %v", what, got, want)
		}
		return nil
	}
	// A cache entry that expires.
	if err := r.Set(ctx, k("cache:user:1"), `{"name":"ada"}`, 300*time.Millisecond).Err(); err != nil {
		return err
	}
	if v, err := r.Get(ctx, k("cache:user:1")).Result(); err != nil || v != `{"name":"ada"}` {
		return fmt.Errorf("cache hit: %q, %v", v, err)
	}
	if ttl := r.PTTL(ctx, k("cache:user:1")).Val(); ttl <= 0 || ttl > 300*time.Millisecond {
		return fmt.Errorf("cache pttl %v", ttl)
	}
	time.Sleep(450 * time.Millisecond)
	if err := r.Get(ctx, k("cache:user:1")).Err(); !errors.Is(err, redis.Nil) {
		return fmt.Errorf("cache after expiry: %v", err)
	}
	// A counter.
	for range 100 {
		r.Incr(ctx, k("views"))
	}
	if err := check("counter", r.IncrBy(ctx, k("views"), 5).Val(), 105); err != nil {
		return err
	}
	// Counters bumped by a pipeline (one log entry on the server), every
	// command answered on its own, a refusal among them.
	cmds, _ := r.Pipelined(ctx, func(p redis.Pipeliner) error {
		for range 50 {
			p.Incr(ctx, k("hits"))
		}
		p.Decr(ctx, k("hits"))
		p.Set(ctx, k("label"), "x", 0)
		p.Incr(ctx, k("label"))
		p.Decr(ctx, k("misses"))
		return nil
	})
	var answers, want []string
	for _, c := range cmds {
		switch c := c.(type) {
		case *redis.IntCmd:
			answers = append(answers, fmt.Sprint(c.Val(), c.Err()))
		case *redis.StatusCmd:
			answers = append(answers, fmt.Sprint(c.Val(), c.Err()))
		}
	}
	for i := range 50 {
		want = append(want, fmt.Sprint(i+1, nil))
	}
	want = append(want, fmt.Sprint(49, nil), fmt.Sprint("OK", nil),
		fmt.Sprint(0, "ERR value is not an integer or out of range"), fmt.Sprint(-1, nil))
	if err := check("pipelined counters", answers, want); err != nil {
		return err
	}
	// A job queue: first in, first out.
	for i := range 10 {
		r.LPush(ctx, k("jobs"), fmt.Sprintf("job%d", i))
	}
	var got []string
	for {
		v, err := r.RPop(ctx, k("jobs")).Result()
		if errors.Is(err, redis.Nil) {
			break
		} else if err != nil {
			return err
		}
		got = append(got, v)
	}
	if err := check("queue", strings.Join(got, ","), "job0,job1,job2,job3,job4,job5,job6,job7,job8,job9"); err != nil {
		return err
	}
	// A leaderboard.
	r.ZAdd(ctx, k("board"), redis.Z{Score: 10, Member: "ann"}, redis.Z{Score: 30, Member: "bob"}, redis.Z{Score: 20, Member: "cid"}, redis.Z{Score: 5, Member: "dan"})
	if err := check("zincrby", r.ZIncrBy(ctx, k("board"), 15, "ann").Val(), 25); err != nil {
		return err
	}
	if err := check("top 3", r.ZRevRangeWithScores(ctx, k("board"), 0, 2).Val(), []redis.Z{{Score: 30, Member: "bob"}, {Score: 25, Member: "ann"}, {Score: 20, Member: "cid"}}); err != nil {
		return err
	}
	if err := check("rank", r.ZRank(ctx, k("board"), "ann").Val(), 2); err != nil {
		return err
	}
	// A profile hash and tags.
	r.HSet(ctx, k("user:1"), "name", "ada", "age", 36)
	if err := check("hincrby", r.HIncrBy(ctx, k("user:1"), "age", 1).Val(), 37); err != nil {
		return err
	}
	if err := check("hgetall", r.HGetAll(ctx, k("user:1")).Val(), map[string]string{"name": "ada", "age": "37"}); err != nil {
		return err
	}
	r.SAdd(ctx, k("tags"), "go", "raft", "redis")
	if err := check("smembers", r.SMembers(ctx, k("tags")).Val(), []string{"go", "raft", "redis"}); err != nil {
		return err
	}
	// A transfer in one transaction.
	r.MSet(ctx, k("acct:a"), 100, k("acct:b"), 0)
	var a, b *redis.IntCmd
	if _, err := r.TxPipelined(ctx, func(p redis.Pipeliner) error {
		a = p.DecrBy(ctx, k("acct:a"), 30)
		b = p.IncrBy(ctx, k("acct:b"), 30)
		return nil
	}); err != nil {
		return fmt.Errorf("transfer: %w", err)
	}
	return check("transfer", []int64{a.Val(), b.Val()}, []int64{70, 30})
}

// TestClientScenariosRedisPy runs the same scenarios with redis-py from
// Debian's python3-redis: redis.Redis on the leader, RedisCluster seeded
// with a follower.
func TestClientScenariosRedisPy(t *testing.T) {
	const python = "/usr/bin/python3" // Debian's, with python3-redis
	if err := exec.Command(python, "-c", "import redis.cluster").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-py is not installed; .ci/run must install python3-redis")
		}
		t.Skip("Debian's python3-redis not found: install it to run the redis-py scenarios")
	}
	c := startCluster(t, 3)
	lead := c.waitLeader(10 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "testdata/scenario.py", lead.respAddr, c.followers(lead)[0].respAddr).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("redis-py scenarios: %v\n%s", err, out)
	}
}
