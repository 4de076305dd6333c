package test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The same cluster, as Docker containers on a private network: one node
// per container, built FROM scratch from the static binary (no image is
// pulled). Faults are the network's and the container's: disconnect from
// the network, pause (SIGSTOP), kill and restart.

// docker runs the docker CLI with a bounded time.
func docker(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

type dockerNode struct {
	id   uint64
	name string
	ip   string
}

func (n dockerNode) resp() string { return n.ip + ":6380" }

type dockerCluster struct {
	t       *testing.T
	tag     string
	image   string
	network string
	nodes   []dockerNode
}

// startDockerCluster builds the image and starts n containers, or skips
// the test when no Docker engine runs.
func startDockerCluster(t *testing.T, n int) *dockerCluster {
	t.Helper()
	if _, err := docker("info", "--format", "{{.ServerVersion}}"); err != nil {
		t.Skipf("skipping: no Docker engine is running here (%v)", err)
	}
	tag := fmt.Sprintf("%d-%d", os.Getpid(), rand.IntN(1<<20))
	c := &dockerCluster{t: t, tag: tag, image: "raftkv-test:" + tag, network: "raftkv-test-" + tag}
	t.Cleanup(c.remove)

	// The image, from the binary TestMain built with CGO_ENABLED=0.
	ctxDir := t.TempDir()
	data, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "raftkv"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	dockerfile, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), dockerfile, 0o644)
	if _, err := docker("build", "-q", "-t", c.image, ctxDir); err != nil {
		t.Fatal(err)
	}

	// A private network with fixed addresses, so that MOVED names an
	// address this host reaches.
	var subnet string
	for attempt := 0; ; attempt++ {
		subnet = fmt.Sprintf("172.%d.%d", 20+rand.IntN(12), rand.IntN(250))
		if _, err = docker("network", "create", "--subnet", subnet+".0/24", c.network); err == nil {
			break
		}
		if attempt == 5 {
			t.Fatal(err)
		}
	}
	var peers []string
	for i := 1; i <= n; i++ {
		nd := dockerNode{id: uint64(i), name: fmt.Sprintf("raftkv-%s-n%d", tag, i), ip: fmt.Sprintf("%s.%d", subnet, 10+i)}
		c.nodes = append(c.nodes, nd)
		peers = append(peers, fmt.Sprintf("%d=%s:16380/%s:6380", nd.id, nd.ip, nd.ip))
	}
	for _, nd := range c.nodes {
		_, err := docker("run", "-d", "--name", nd.name, "--network", c.network, "--ip", nd.ip, c.image,
			"server", "--id", fmt.Sprint(nd.id), "--resp-addr", "0.0.0.0:6380", "--peer-addr", nd.ip+":16380",
			"--peers", strings.Join(peers, ","), "--data-dir", "/data",
			"--heartbeat-interval", "50ms", "--election-timeout", "500ms")
		if err != nil {
			t.Fatal(err)
		}
	}
	c.waitLeader(30 * time.Second)
	return c
}

func (c *dockerCluster) remove() {
	if c.t.Failed() {
		for _, nd := range c.nodes {
			if out, err := docker("logs", "--tail", "40", nd.name); err == nil {
				c.t.Logf("--- log of %s ---\n%s", nd.name, out)
			}
		}
	}
	for _, nd := range c.nodes {
		docker("rm", "-f", "-v", nd.name)
	}
	docker("network", "rm", c.network)
	docker("rmi", "-f", c.image)
}

// leader returns the node every reachable node names as leader, or nil.
func (c *dockerCluster) leader() *dockerNode {
	var lead *dockerNode
	for i, nd := range c.nodes {
		m := info(nd.resp())
		if m == nil {
			continue
		}
		if m["raft_role"] == "leader" {
			if lead != nil {
				return nil
			}
			lead = &c.nodes[i]
		}
	}
	return lead
}

func (c *dockerCluster) waitLeader(d time.Duration) *dockerNode {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if l := c.leader(); l != nil {
			return l
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("no leader within %v", d)
	return nil
}

func (c *dockerCluster) must(args ...string) {
	c.t.Helper()
	if _, err := docker(args...); err != nil {
		c.t.Fatal(err)
	}
}

// TestDockerFaults runs a GET/SET/APPEND workload on a few keys against
// containers while a nemesis cuts the leader off the network, pauses it,
// and kills and restarts a node, healing in between. The history must be
// linearizable, every acknowledged write present, and the nodes converge.
func TestDockerFaults(t *testing.T) {
	c := startDockerCluster(t, 3)
	h := &history{start: time.Now()}
	keys := []string{"x", "y", "z"}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 5 {
		pc := newPlainClient(t, c.nodes[w%len(c.nodes)].resp())
		for _, nd := range c.nodes {
			pc.client(nd.resp())
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				in := kvInput{Key: keys[rng.IntN(len(keys))]}
				switch r := rng.IntN(10); {
				case r < 4:
					in.Op = "get"
				case r < 6:
					in.Op, in.Value = "set", fmt.Sprintf("s%d.%d", w, i)
				default:
					in.Op, in.Value = "append", fmt.Sprintf("a%d.%d;", w, i)
				}
				if op, ok := run(pc, w, in, h); ok {
					h.add(op)
				}
			}
		}()
	}

	heal := func() {
		time.Sleep(2 * time.Second)
		c.waitLeader(30 * time.Second)
	}
	time.Sleep(time.Second)
	// 1. The leader is cut off the network, then reconnected.
	l := c.waitLeader(10 * time.Second)
	t.Logf("isolating leader %s", l.name)
	c.must("network", "disconnect", c.network, l.name)
	time.Sleep(3 * time.Second)
	c.must("network", "connect", "--ip", l.ip, c.network, l.name)
	heal()
	// 2. The leader is paused (SIGSTOP), then resumed.
	l = c.waitLeader(10 * time.Second)
	t.Logf("pausing leader %s", l.name)
	c.must("pause", l.name)
	time.Sleep(3 * time.Second)
	c.must("unpause", l.name)
	heal()
	// 3. A node is killed, then started again on its data.
	victim := c.nodes[rand.IntN(len(c.nodes))]
	t.Logf("killing %s", victim.name)
	c.must("kill", victim.name)
	time.Sleep(2 * time.Second)
	c.must("start", victim.name)
	heal()
	close(stop)
	wg.Wait()

	// The cluster recovers: a write succeeds.
	pc := newPlainClient(t, c.nodes[0].resp())
	for _, nd := range c.nodes {
		pc.client(nd.resp())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := pc.Do(ctx, "SET", "after", "faults").Err(); err != nil {
		t.Fatalf("write after healing: %v", err)
	}
	// Final reads of every key join the history: the final state must
	// hold exactly what the acknowledged writes imply.
	for _, k := range keys {
		op, ok := run(pc, 99, kvInput{Op: "get", Key: k}, h)
		if !ok {
			t.Fatalf("final read of %s failed", k)
		}
		h.add(op)
	}
	h.check(t)

	// Every node converges to the same state.
	l = c.waitLeader(10 * time.Second)
	var want string
	deadline := time.Now().Add(20 * time.Second)
	for {
		lm := info(l.resp())
		same := lm != nil
		for _, nd := range c.nodes {
			m := info(nd.resp())
			if m == nil || lm == nil || m["raft_applied_index"] != lm["raft_applied_index"] || m["db0"] != lm["db0"] {
				same = false
			}
		}
		if same {
			want = lm["db0"]
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("nodes did not converge within 20s of healing")
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("converged: %s", want)
}
