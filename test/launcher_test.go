package test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/raftkv/raftkv/conf"
	"github.com/raftkv/raftkv/test/testport"
)

// TestClusterCommand runs `raftkv cluster` as a user would: it starts three
// processes with node 1 as the usual leader, each with its share of the
// CPUs, serves writes, stops every node on SIGINT, and resumes with the
// same data when started again.
func TestClusterCommand(t *testing.T) {
	dir := t.TempDir()
	// The launcher places node i on port+i-1: both runs of three ports
	// must be free, and apart.
	respPort, peerPort := 0, 0
	for tries := 0; ; tries++ {
		ports := testport.Free(t, 2)
		respPort, peerPort = min(ports[0], ports[1]), max(ports[0], ports[1])
		if peerPort-respPort >= 3 && portFree(respPort+1) && portFree(respPort+2) &&
			portFree(peerPort+1) && portFree(peerPort+2) {
			break
		}
		if tries == 20 {
			t.Fatalf("no two runs of three free ports in %d tries", tries+1)
		}
	}
	var logPath string
	run := func(env ...string) (*exec.Cmd, chan struct{}) {
		cmd := exec.Command(binary, "cluster", "-port", strconv.Itoa(respPort), "-peer-port", strconv.Itoa(peerPort))
		cmd.Dir = dir
		cmd.Env = append(withoutEnv("GOMAXPROCS", "MALLOC_ARENA_MAX", "GODEBUG"), env...)
		logPath = filepath.Join(dir, fmt.Sprintf("cluster-%d.log", time.Now().UnixNano()))
		logf, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); logf.Close(); close(done) }()
		t.Cleanup(func() {
			// SIGINT, as a user's Ctrl-C: the launcher stops its nodes. A
			// SIGKILL would leave them running, orphaned.
			cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		})
		return cmd, done
	}
	ctx := context.Background()
	node1 := fmt.Sprintf("127.0.0.1:%d", respPort)
	cl := redis.NewClient(&redis.Options{Addr: node1, MaxRetries: -1})
	defer cl.Close()
	setWhenReady := func() {
		deadline := time.Now().Add(15 * time.Second)
		var err error
		for time.Now().Before(deadline) {
			if err = cl.Set(ctx, "greeting", "hello", 0).Err(); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("set on node 1 (the usual first leader): %v", err)
	}

	cmd, done := run()
	setWhenReady()
	if err := cl.Append(ctx, "greeting", " world").Err(); err != nil {
		t.Fatal(err)
	}
	// The three nodes share this machine's CPUs: each config says so, and
	// each node applies it.
	share := conf.CPUShare(3)
	for i := 1; i <= 3; i++ {
		c, err := conf.Parse("test", []string{"--config", nodeConfig(dir, i)})
		if err != nil {
			t.Fatalf("node %d config: %v", i, err)
		}
		if c.MaxProcs != share {
			t.Errorf("node %d config: max-procs %d, want %d (%d CPUs, 3 nodes)", i, c.MaxProcs, share, runtime.NumCPU())
		}
		if c.LeaderMaxProcs != share+1 {
			t.Errorf("node %d config: leader-max-procs %d, want %d", i, c.LeaderMaxProcs, share+1)
		}
	}
	// The leader runs on one CPU more (conf.LeaderMaxProcs).
	if b, _ := os.ReadFile(logPath); !strings.Contains(string(b), fmt.Sprintf("role=leader procs=%d", share+1)) {
		t.Errorf("no node logged running on %d CPUs as the leader; log:\n%s", share+1, b)
	}
	if b, _ := os.ReadFile(logPath); strings.Count(string(b), fmt.Sprintf("max_procs=%d ", share)) != 3 {
		t.Errorf("want 3 nodes logging max_procs=%d; log:\n%s", share, b)
	}
	// Two malloc arenas each and sysmon's long period (conf.NodeEnv),
	// and the hint to restart a node by hand says so.
	checkNodeEnv(t, logPath, "MALLOC_ARENA_MAX=2")
	checkNodeEnv(t, logPath, "GODEBUG="+conf.SysmonGODEBUG)
	if b, _ := os.ReadFile(logPath); !strings.Contains(string(b), "restart N:  MALLOC_ARENA_MAX=2 GODEBUG="+conf.SysmonGODEBUG+" ") {
		t.Errorf("the restart hint does not give MALLOC_ARENA_MAX=2 GODEBUG=%s; log:\n%s", conf.SysmonGODEBUG, b)
	}
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("raftkv cluster did not stop within 20s of SIGINT")
	}
	if cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("raftkv cluster exited with %d after SIGINT", cmd.ProcessState.ExitCode())
	}
	for i := 0; i < 3; i++ {
		if !portFree(respPort+i) || !portFree(peerPort+i) {
			t.Fatalf("node %d still listening after the cluster stopped", i+1)
		}
	}

	// Started again in the same folder, it resumes with the data there. A
	// GOMAXPROCS or MALLOC_ARENA_MAX of the user's is left to the nodes,
	// which inherit it; a GODEBUG gets sysmon's setting added.
	run("GOMAXPROCS=1", "MALLOC_ARENA_MAX=4", "GODEBUG=madvdontneed=1")
	deadline := time.Now().Add(15 * time.Second)
	for {
		v, err := cl.Get(ctx, "greeting").Result()
		if err == nil && v == "hello world" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after restart: %q, %v", v, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i := 1; i <= 3; i++ {
		c, err := conf.Parse("test", []string{"--config", nodeConfig(dir, i)})
		if err != nil {
			t.Fatalf("node %d config: %v", i, err)
		}
		if c.MaxProcs != 0 || c.LeaderMaxProcs != 0 {
			t.Errorf("node %d config with GOMAXPROCS set: max-procs %d, leader-max-procs %d, want neither", i, c.MaxProcs, c.LeaderMaxProcs)
		}
	}
	checkNodeEnv(t, logPath, "MALLOC_ARENA_MAX=4")
	checkNodeEnv(t, logPath, "GODEBUG=madvdontneed=1,"+conf.SysmonGODEBUG)
	if b, _ := os.ReadFile(logPath); strings.Contains(string(b), "restart N:  MALLOC_ARENA_MAX") {
		t.Errorf("the restart hint sets MALLOC_ARENA_MAX over the user's; log:\n%s", b)
	}
}

// checkNodeEnv checks that the three nodes a launcher logged to logPath
// (its "node starting" lines give their PIDs) run with kv in their
// environment, and kv's variable only once.
func checkNodeEnv(t *testing.T, logPath, kv string) {
	t.Helper()
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	name, _, _ := strings.Cut(kv, "=")
	var nodes int
	for _, line := range strings.Split(string(b), "\n") {
		_, rest, ok := strings.Cut(line, "node starting:")
		if !ok {
			continue
		}
		_, pid, _ := strings.Cut(rest, " pid=")
		pid, _, _ = strings.Cut(pid, " ")
		var got []string
		for _, e := range procEnviron(t, pid) {
			if strings.HasPrefix(e, name+"=") {
				got = append(got, e)
			}
		}
		if len(got) != 1 || got[0] != kv {
			t.Errorf("node pid %s: %v in its environment, want %s", pid, got, kv)
		}
		nodes++
	}
	if nodes != 3 {
		t.Errorf("%d nodes logged as starting, want 3; log:\n%s", nodes, b)
	}
}

// procEnviron is the environment of the process pid, from /proc.
func procEnviron(t *testing.T, pid string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", pid, "environ"))
	if err != nil {
		t.Fatalf("environment of pid %q: %v", pid, err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

func nodeConfig(dir string, i int) string {
	return filepath.Join(dir, "raftkv-data", fmt.Sprintf("node%d", i), "raftkv.yaml")
}

// withoutEnv is this process's environment without the variables named.
func withoutEnv(names ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, name) {
			env = append(env, kv)
		}
	}
	return env
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// TestHarnessNodeEnv: the suites' nodes run in the environment raftkv
// cluster gives its own, but for clusters whose logs must be JSON only.
func TestHarnessNodeEnv(t *testing.T) {
	if _, err := os.Stat("/proc/self/environ"); err != nil {
		t.Skipf("no /proc environ to read: %v", err)
	}
	godebug := func(c *cluster) string {
		t.Helper()
		v, _ := conf.LookupEnv(procEnviron(t, strconv.Itoa(c.nodes[0].cmd.Process.Pid)), "GODEBUG")
		return v
	}
	want, ok := conf.LookupEnv(conf.NodeVars(os.Environ()), "GODEBUG")
	if !ok {
		t.Skip("this environment's GODEBUG sets schedtrace: the launcher would leave it")
	}
	if got := godebug(startCluster(t, 1)); got != want {
		t.Errorf("node GODEBUG %q, want %q (conf.NodeEnv)", got, want)
	}
	if got := godebug(startCluster(t, 1, "--log-json")); got != os.Getenv("GODEBUG") {
		t.Errorf("JSON-logging node GODEBUG %q, want the test's own %q", got, os.Getenv("GODEBUG"))
	}
}
