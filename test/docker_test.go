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
	"testing"
	"time"
)

// The Docker back end of the fault suite: one node per container on a
// private network, built FROM scratch from the static binary (no image is
// pulled). Besides killing, pausing and restarting containers, it cuts
// links between nodes with iptables rules in a container's network
// namespace, entered from the host (a FROM scratch image has no tools).

// docker runs the docker CLI with a bounded time.
func docker(args ...string) (string, error) {
	return command("docker", args...)
}

// command runs a program with a bounded time and returns its output.
func command(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// requireDocker skips the test when no Docker engine runs here.
func requireDocker(t *testing.T) {
	t.Helper()
	if _, err := docker("info", "--format", "{{.ServerVersion}}"); err != nil {
		t.Skipf("skipping: no Docker engine is running here (%v)", err)
	}
}

// buildImage builds the Dockerfile's prebuilt target, from the binary
// TestMain built with CGO_ENABLED=0, as image, removed when t ends. The
// context holds only the binary, as a user's would after go build.
func buildImage(t *testing.T, image string) {
	t.Helper()
	ctxDir := t.TempDir()
	data, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "raftkv"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := docker("build", "-q", "--target", "prebuilt", "-f", "../Dockerfile", "-t", image, ctxDir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { docker("rmi", "-f", image) })
}

type dockerNode struct {
	id   uint64
	name string
	ip   string
	join string // --join, for a node added to a running cluster
}

func (n dockerNode) resp() string { return n.ip + ":6380" }

// dockerCluster implements backend.
type dockerCluster struct {
	t       *testing.T
	tag     string
	image   string
	network string
	subnet  string // the first three octets
	peers   string // the initial members, for --peers
	last    uint64 // the highest node ID given out
	nodes   []dockerNode
	gone    []dockerNode // removed from the cluster, kept for their logs
}

// startDockerCluster builds the image and starts n containers, or skips
// the test when no Docker engine runs.
func startDockerCluster(t *testing.T, n int) *dockerCluster {
	t.Helper()
	requireDocker(t)
	if _, err := exec.LookPath("nsenter"); err != nil {
		t.Fatalf("the Docker back end cuts links with nsenter and iptables: %v", err)
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Fatalf("the Docker back end cuts links with nsenter and iptables: %v", err)
	}
	tag := fmt.Sprintf("%d-%d", os.Getpid(), rand.IntN(1<<20))
	c := &dockerCluster{t: t, tag: tag, image: "raftkv-test:" + tag, network: "raftkv-test-" + tag, last: uint64(n)}
	// Containers go before the image: cleanups run last first.
	buildImage(t, c.image)
	t.Cleanup(c.remove)

	// A private network with fixed addresses, so that MOVED names an
	// address this host reaches.
	for attempt := 0; ; attempt++ {
		c.subnet = fmt.Sprintf("172.%d.%d", 20+rand.IntN(12), rand.IntN(250))
		_, err := docker("network", "create", "--subnet", c.subnet+".0/24", c.network)
		if err == nil {
			break
		}
		if attempt == 5 {
			t.Fatal(err)
		}
	}
	var peers []string
	for i := 1; i <= n; i++ {
		nd := c.newNode(uint64(i))
		c.nodes = append(c.nodes, nd)
		peers = append(peers, fmt.Sprintf("%d=%s:16380/%s:6380", nd.id, nd.ip, nd.ip))
	}
	c.peers = strings.Join(peers, ",")
	for _, nd := range c.nodes {
		c.run(nd)
	}
	// The image's HEALTHCHECK (raftkv health) reports a serving node.
	waitUntil(t, 30*time.Second, 200*time.Millisecond, "the first container to report healthy", func() bool {
		out, err := docker("inspect", "-f", "{{.State.Health.Status}}", c.nodes[0].name)
		return err == nil && strings.TrimSpace(out) == "healthy"
	})
	return c
}

func (c *dockerCluster) newNode(id uint64) dockerNode {
	return dockerNode{id: id, name: fmt.Sprintf("raftkv-%s-n%d", c.tag, id), ip: fmt.Sprintf("%s.%d", c.subnet, 10+id)}
}

// run creates and starts nd's container.
func (c *dockerCluster) run(nd dockerNode) {
	c.t.Helper()
	peers := c.peers
	// One processor each, as nodes sharing a small machine get from
	// `raftkv cluster`: their log syncs keep it (engine.Options
	// HoldProcessorInSync). The process back end runs Go's default, so
	// the suite puts both ways of syncing through its faults.
	args := []string{"run", "-d", "--name", nd.name, "--network", c.network, "--ip", nd.ip, c.image,
		"server", "--id", fmt.Sprint(nd.id), "--resp-addr", "0.0.0.0:6380", "--peer-addr", nd.ip + ":16380",
		"--data-dir", "/data", "--heartbeat-interval", "50ms", "--election-timeout", "500ms", "--max-procs", "1"}
	if nd.join != "" {
		peers += fmt.Sprintf(",%d=%s:16380/%s", nd.id, nd.ip, nd.resp())
		args = append(args, "--join", nd.join)
	}
	c.must(append(args, "--peers", peers)...)
}

func (c *dockerCluster) remove() {
	if c.t.Failed() {
		for _, nd := range append(c.nodes, c.gone...) {
			if out, err := docker("logs", "--tail", "60", nd.name); err == nil {
				c.t.Logf("--- log of %s ---\n%s", nd.name, out)
			}
		}
	}
	for _, nd := range append(c.nodes, c.gone...) {
		docker("rm", "-f", "-v", nd.name)
	}
	docker("network", "rm", c.network)
}

func (c *dockerCluster) must(args ...string) {
	c.t.Helper()
	if _, err := docker(args...); err != nil {
		c.t.Fatal(err)
	}
}

func (c *dockerCluster) name() string      { return "docker" }
func (c *dockerCluster) size() int         { return len(c.nodes) }
func (c *dockerCluster) resp(i int) string { return c.nodes[i].resp() }
func (c *dockerCluster) id(i int) uint64   { return c.nodes[i].id }
func (c *dockerCluster) kill(i int)        { c.must("kill", c.nodes[i].name) }
func (c *dockerCluster) restart(i int)     { c.must("start", c.nodes[i].name) }
func (c *dockerCluster) pause(i int)       { c.must("pause", c.nodes[i].name) }
func (c *dockerCluster) resume(i int)      { c.must("unpause", c.nodes[i].name) }
func (c *dockerCluster) stop(i int)        { c.must("stop", "-t", "15", c.nodes[i].name) }
func (c *dockerCluster) canCut() bool      { return true }

// nsenter runs iptables in node i's network namespace.
func (c *dockerCluster) iptables(i int, args ...string) {
	c.t.Helper()
	pid, err := docker("inspect", "-f", "{{.State.Pid}}", c.nodes[i].name)
	if err != nil {
		c.t.Fatal(err)
	}
	if pid == "0" {
		c.t.Fatalf("%s is not running", c.nodes[i].name)
	}
	if _, err := command("nsenter", append([]string{"-t", pid, "-n", "iptables"}, args...)...); err != nil {
		c.t.Fatal(err)
	}
}

// cut drops every packet node to receives from node from.
func (c *dockerCluster) cut(from, to int) {
	c.iptables(to, "-A", "INPUT", "-s", c.nodes[from].ip, "-j", "DROP")
}

// heal removes every rule the nemesis added.
func (c *dockerCluster) heal() {
	for i := range c.nodes {
		c.iptables(i, "-F", "INPUT")
	}
}

// add starts a new node that joins through via.
func (c *dockerCluster) add(via int) uint64 {
	c.last++
	nd := c.newNode(c.last)
	nd.join = c.nodes[via].resp()
	c.run(nd)
	c.nodes = append(c.nodes, nd)
	return nd.id
}

// forget waits for node i, removed from the cluster, to stop, and drops
// it from the slots.
func (c *dockerCluster) forget(i int) {
	c.t.Helper()
	nd := c.nodes[i]
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := docker("inspect", "-f", "{{.State.Running}}", nd.name)
		if err == nil && out == "false" {
			break
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("removed node %d (%s) did not stop", nd.id, nd.name)
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.gone = append(c.gone, nd)
	c.nodes = append(c.nodes[:i:i], c.nodes[i+1:]...)
}

// TestFaultsDocker runs the fault suite on containers.
func TestFaultsDocker(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the fault suite in -short mode")
	}
	runFaultSuite(t, startDockerCluster(t, 5))
}
