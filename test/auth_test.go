package test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/raftkv/raftkv/test/testport"
)

// TestRequirePass: a cluster started with --requirepass refuses commands
// until a client authenticates, on every node, with Redis's replies
// (compared byte for byte with a redis-server started with requirepass);
// go-redis's plain and cluster clients, redis-cli -a and a node joining
// with the password all work.
func TestRequirePass(t *testing.T) {
	const pass = "s3cret"
	c := startCluster(t, 3, "--requirepass", pass)
	lead := c.waitLeader(10 * time.Second)
	ctx := context.Background()

	if server, err := exec.LookPath("redis-server"); err == nil {
		port := testport.Free(t, 1)[0]
		dir := t.TempDir()
		redis := exec.Command(server, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", dir, "--logfile", filepath.Join(dir, "log"), "--requirepass", pass)
		if err := redis.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { redis.Process.Kill(); redis.Wait() })
		ref, got := dialReplies(t, fmt.Sprintf("127.0.0.1:%d", port)), dialReplies(t, lead.respAddr)
		for _, cmd := range [][]string{
			{"GET", "k"}, {"PING"}, {"SET", "k", "v"}, {"HELLO", "3"}, {"HELLO"}, {"MULTI"}, {"AUTH", "wrong"}, {"AUTH", "default", "wrong"},
			{"AUTH", "nobody", pass}, {"AUTH"}, {"AUTH", "a", "b", "c"}, {"HELLO", "2", "AUTH", "default", "wrong"}, {"GET", "k"},
			{"AUTH", pass}, {"GET", "k"}, {"SET", "k", "v"}, {"AUTH", "default", pass}, {"GET", "k"}, {"AUTH", "wrong"}, {"GET", "k"},
		} {
			if want, have := ref.do(cmd...), got.do(cmd...); want != have {
				t.Errorf("%q: Redis replies %q, raftkv %q", cmd, want, have)
			}
		}
		ref, got = dialReplies(t, fmt.Sprintf("127.0.0.1:%d", port)), dialReplies(t, lead.respAddr)
		for _, r := range []*replyConn{ref, got} {
			if reply := r.do("HELLO", "3", "AUTH", "default", pass); !strings.HasPrefix(reply, "%7\r\n") {
				t.Errorf("HELLO 3 AUTH default <password> answered %q", reply)
			}
			if reply := r.do("GET", "k"); reply != "$1\r\nv\r\n" {
				t.Errorf("GET after HELLO's AUTH answered %q", reply)
			}
		}
	} else if os.Getenv("CI") != "" {
		t.Fatal("redis-server is not installed; .ci/run must install it")
	}

	// Every node asks, followers too.
	for _, p := range c.nodes {
		noPass := redis.NewClient(&redis.Options{Addr: p.respAddr, MaxRetries: -1, Protocol: 2})
		if err := noPass.Get(ctx, "k").Err(); err == nil || !strings.HasPrefix(err.Error(), "NOAUTH") {
			t.Fatalf("node %d without a password: %v", p.id, err)
		}
		noPass.Close()
	}
	if err := appScenario(c.clusterClient(c.followers(lead)[0]), "auth"); err != nil {
		t.Fatalf("cluster client with the password: %v", err)
	}
	if path, err := exec.LookPath("redis-cli"); err == nil {
		h, p := hostPort(lead.respAddr)
		out, err := exec.Command(path, "--no-auth-warning", "-a", pass, "-h", h, "-p", p, "get", "k").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "v" {
			t.Fatalf("redis-cli -a: %v %q", err, out)
		}
	}
	// A node joins: it gives its own --requirepass to RAFT.NODE ADD.
	four := c.addNode(c.nodes[0])
	c.waitFor("node 4 to vote", func() bool {
		l := c.leader()
		return l != nil && strings.Contains(c.raftInfo(l), "id=4,role=voter")
	})
	if v, err := c.client(four).Ping(ctx).Result(); err != nil || v != "PONG" {
		t.Fatalf("node 4: %q, %v", v, err)
	}
}
