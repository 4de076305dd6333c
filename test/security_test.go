package test

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/raftkv/raftkv/test/testcert"
	"github.com/raftkv/raftkv/test/testport"
)

// raftField is one field of RAFT.INFO from p.
func (c *cluster) raftField(p *proc, field string) string {
	for _, line := range strings.Split(c.raftInfo(p), "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return v
		}
	}
	return ""
}

// rogue starts a node that is not of c but names c's first two nodes as
// its peers, as a node wired to the wrong cluster by mistake would; extra
// adds flags. It returns the node's log file.
func (c *cluster) rogue(t *testing.T, extra ...string) string {
	t.Helper()
	ports := testport.Free(t, 2)
	dir := t.TempDir()
	self := fmt.Sprintf("127.0.0.1:%d", ports[1])
	peers := fmt.Sprintf("1=%s/%s,2=%s/%s,3=%s/127.0.0.1:%d",
		c.nodes[0].peerAddr, c.nodes[0].respAddr, c.nodes[1].peerAddr, c.nodes[1].respAddr, self, ports[0])
	logPath := filepath.Join(dir, "rogue.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(binary, append([]string{"server", "--id", "3",
		"--resp-addr", fmt.Sprintf("127.0.0.1:%d", ports[0]), "--peer-addr", self, "--peers", peers,
		"--data-dir", filepath.Join(dir, "data"), "--heartbeat-interval", "50ms", "--election-timeout", "500ms"}, extra...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("--- log of the rogue node ---\n%s", lastLines(b, 40))
		}
	})
	return logPath
}

func logHas(t *testing.T, path, s string) bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(b), s)
}

// checkUndisturbed checks that c kept its leader and term while the rogue
// ran, and still takes writes.
func checkUndisturbed(t *testing.T, c *cluster, lead *proc, term string) {
	t.Helper()
	for _, p := range c.nodes[:3] {
		if got := c.raftField(p, "current_term"); got != term {
			t.Errorf("node %d is at term %s, was %s: the rogue disturbed the cluster", p.id, got, term)
		}
		if got := c.raftField(p, "leader_id"); got != fmt.Sprint(lead.id) {
			t.Errorf("node %d follows %s, want %d", p.id, got, lead.id)
		}
	}
	if err := c.clusterClient(lead).Set(context.Background(), "after-rogue", "ok", 0).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestClusterID: members agree on one cluster ID, a node that joins learns
// it, a node of another cluster wired to this one is refused both ways
// without disturbing it, and a node restarted with another --cluster-id
// than its data's refuses to start.
func TestClusterID(t *testing.T) {
	// A long election timeout: the term must not move while the rogue
	// runs, and on a loaded machine a short one could move it anyway.
	c := startCluster(t, 3, "--election-timeout", "3s")
	id := c.raftField(c.nodes[0], "cluster_id")
	if id == "" {
		t.Fatal("RAFT.INFO has no cluster_id")
	}
	for _, p := range c.nodes {
		if got := c.raftField(p, "cluster_id"); got != id {
			t.Fatalf("node %d has cluster ID %q, node 1 %q", p.id, got, id)
		}
		if got := info(p.respAddr)["raft_cluster_id"]; got != id {
			t.Fatalf("INFO on node %d: raft_cluster_id %q, want %q", p.id, got, id)
		}
	}
	j := c.addNode(c.nodes[0])
	c.waitFor("the joined node to learn the cluster ID", func() bool { return c.raftField(j, "cluster_id") == id })

	lead := c.waitLeader(10 * time.Second)
	term := c.raftField(lead, "current_term")
	rogueLog := c.rogue(t, "--cluster-id", "some-other-cluster")
	waitUntil(t, 15*time.Second, 100*time.Millisecond, "the refusal to be logged on both sides", func() bool {
		return logHas(t, c.nodes[0].logPath, `refused a peer of another cluster`) &&
			logHas(t, c.nodes[0].logPath, `its_cluster_id=some-other-cluster`) &&
			logHas(t, rogueLog, "the peer refused this node")
	})
	time.Sleep(2 * time.Second) // several of the rogue's election timeouts
	checkUndisturbed(t, c, lead, term)

	// The data names its cluster: another --cluster-id is refused.
	p := c.nodes[1]
	c.stop(p)
	out, err := exec.Command(binary, "server", "--id", "2", "--resp-addr", p.respAddr, "--peer-addr", p.peerAddr,
		"--peers", c.peers, "--data-dir", p.dataDir, "--cluster-id", "renamed").CombinedOutput()
	if err == nil || !strings.Contains(string(out), `--cluster-id "renamed" differs from "`+id+`"`) {
		t.Fatalf("a node started with another --cluster-id than its data's: %v\n%s", err, out)
	}
}

// TestPeerMutualTLS: a cluster whose peers speak mutual TLS works, and a
// node with a certificate another CA signed is refused by the members,
// which log why, without disturbing them.
func TestPeerMutualTLS(t *testing.T) {
	ca := testcert.NewCA(t, "cluster")
	f := ca.Issue("node")
	c := startCluster(t, 3, "--election-timeout", "3s", "--peer-tls-cert-file", f.CertFile, "--peer-tls-key-file", f.KeyFile, "--peer-tls-ca-cert-file", ca.CertFile)
	lead := c.waitLeader(10 * time.Second)
	cc := c.clusterClient(lead)
	ctx := context.Background()
	for i := range 20 {
		if err := cc.Set(ctx, fmt.Sprint("k", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	c.waitApplied(c.followers(lead)[0], commitIndex(t, lead), 10*time.Second)

	other := testcert.NewCA(t, "other")
	rf := other.Issue("rogue")
	// The same cluster ID, so that only the certificate tells it apart.
	term := c.raftField(lead, "current_term")
	rogueLog := c.rogue(t, "--cluster-id", c.raftField(lead, "cluster_id"),
		"--peer-tls-cert-file", rf.CertFile, "--peer-tls-key-file", rf.KeyFile, "--peer-tls-ca-cert-file", ca.CertFile)
	waitUntil(t, 15*time.Second, 100*time.Millisecond, "a member to log the refused handshake", func() bool {
		return logHas(t, c.nodes[0].logPath, "refused a peer connection: TLS handshake failed") &&
			logHas(t, rogueLog, "the peer refused this node")
	})
	time.Sleep(2 * time.Second)
	checkUndisturbed(t, c, lead, term)
}

// TestRespTLS: with TLS on the RESP port, redis-cli --tls and go-redis
// work, follower redirects included; a plaintext client and one without a
// certificate (tls-auth-clients yes) are turned away.
func TestRespTLS(t *testing.T) {
	ca := testcert.NewCA(t, "resp")
	f := ca.Issue("node")
	c := startCluster(t, 3, "--tls-cert-file", f.CertFile, "--tls-key-file", f.KeyFile, "--tls-ca-cert-file", ca.CertFile)
	lead := c.waitLeader(10 * time.Second)
	follower := c.followers(lead)[0]
	_, port, _ := strings.Cut(follower.respAddr, ":")
	cli := func(args ...string) (string, error) {
		return command("redis-cli", append([]string{"--tls", "--cacert", ca.CertFile, "--cert", f.CertFile, "--key", f.KeyFile, "-h", "127.0.0.1", "-p", port}, args...)...)
	}
	if out, err := cli("-c", "set", "secure", "yes"); err != nil || out != "OK" {
		t.Fatalf("redis-cli --tls -c set through a follower: %q, %v", out, err)
	}
	if out, err := cli("-c", "get", "secure"); err != nil || out != "yes" {
		t.Fatalf("redis-cli --tls -c get: %q, %v", out, err)
	}
	if out, _ := cli("get", "secure"); !strings.HasPrefix(out, "MOVED ") {
		t.Fatalf("a follower over TLS answered GET with %q, want a MOVED redirect", out)
	}
	if v, err := c.clusterClient(follower).Get(context.Background(), "secure").Result(); err != nil || v != "yes" {
		t.Fatalf("go-redis over TLS: %q, %v", v, err)
	}

	// A plaintext client gets no answer; neither does a TLS client
	// without a certificate.
	out, err := command("redis-cli", "-h", "127.0.0.1", "-p", port, "ping")
	if err == nil && strings.Contains(out, "PONG") {
		t.Fatalf("a plaintext client was answered: %q", out)
	}
	noCert := redis.NewClient(&redis.Options{Addr: follower.respAddr, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: time.Second,
		TLSConfig: &tls.Config{RootCAs: ca.Pool()}})
	defer noCert.Close()
	if err := noCert.Ping(context.Background()).Err(); err == nil {
		t.Fatal("a client without a certificate was answered")
	}
	// raftkv's own client commands speak TLS with redis-cli's flags.
	if out, err := command(binary, "health", "--addr", follower.respAddr, "--cacert", ca.CertFile, "--cert", f.CertFile, "--key", f.KeyFile); err != nil {
		t.Fatalf("raftkv health over TLS: %v\n%s", err, out)
	}
	// The node still serves after turning those clients away.
	if v, err := c.client(lead).Get(context.Background(), "secure").Result(); err != nil || v != "yes" {
		t.Fatalf("after refusals: %q, %v", v, err)
	}
}

// TestTLSJoin: a node joins a cluster whose RESP port and peers speak TLS.
func TestTLSJoin(t *testing.T) {
	ca := testcert.NewCA(t, "all")
	f := ca.Issue("node")
	c := startCluster(t, 3, "--tls-cert-file", f.CertFile, "--tls-key-file", f.KeyFile, "--tls-ca-cert-file", ca.CertFile,
		"--peer-tls-cert-file", f.CertFile, "--peer-tls-key-file", f.KeyFile, "--peer-tls-ca-cert-file", ca.CertFile)
	lead := c.waitLeader(10 * time.Second)
	if err := c.clusterClient(lead).Set(context.Background(), "before-join", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	j := c.addNode(c.nodes[0])
	c.waitFor("the new node to become a voter and catch up", func() bool {
		return strings.Contains(c.raftInfo(lead), fmt.Sprintf("id=%d,role=voter", j.id)) &&
			c.raftField(j, "cluster_id") == c.raftField(lead, "cluster_id")
	})
	c.waitApplied(j, commitIndex(t, lead), 10*time.Second)
}
