package test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// benchSuite is redis-benchmark's default test list (7.0) but XADD:
// streams are not among raftkv's types.
const benchSuite = "ping_inline,ping_mbulk,set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100,lrange_300,lrange_500,lrange_600,mset"

// TestRedisBenchmarkSuite runs redis-benchmark's default suite against the
// leader of a 3-node cluster: every test must finish, and no reply may be
// an error.
func TestRedisBenchmarkSuite(t *testing.T) {
	path, err := exec.LookPath("redis-benchmark")
	if err != nil {
		redisCLI(t) // the same package; skips or fails the same way
		t.Fatal("redis-cli is installed but redis-benchmark is not")
	}
	c := startCluster(t, 3)
	lead := c.waitLeader(10 * time.Second)
	host, port := hostPort(lead.respAddr)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "-h", host, "-p", port, "-q", "-n", "2000", "-c", "20", "-t", benchSuite).CombinedOutput()
	text := strings.ReplaceAll(string(out), "\r", "\n")
	t.Logf("redis-benchmark:\n%s", text)
	if err != nil {
		t.Fatalf("redis-benchmark: %v", err)
	}
	if strings.Contains(text, "ERR") || strings.Contains(text, "rror") {
		t.Fatal("redis-benchmark saw an error reply")
	}
	for _, want := range []string{"PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "LPUSH", "RPUSH", "LPOP", "RPOP", "SADD", "HSET", "SPOP", "ZADD", "ZPOPMIN",
		"LRANGE_100", "LRANGE_300", "LRANGE_500", "LRANGE_600", "MSET"} {
		found := false
		for _, line := range strings.Split(text, "\n") {
			if strings.HasPrefix(line, want+":") || strings.HasPrefix(line, want+" ") {
				found = found || strings.Contains(line, "requests per second")
			}
		}
		if !found {
			t.Errorf("no result line for %s", want)
		}
	}
}
