package test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestClusterCommand runs `raftkv cluster` as a user would: it starts three
// processes with node 1 as the usual leader, serves writes, stops every
// node on SIGINT, and resumes with the same data when started again.
func TestClusterCommand(t *testing.T) {
	dir := t.TempDir()
	ports := freePorts(t, 6)
	respPort, peerPort := ports[0], ports[3]
	// The launcher places node i on port+i-1: check those are free too.
	for i := 1; i < 3; i++ {
		if !portFree(respPort+i) || !portFree(peerPort+i) {
			t.Skipf("ports next to %d/%d are taken; rerun", respPort, peerPort)
		}
	}
	run := func() (*exec.Cmd, chan struct{}) {
		cmd := exec.Command(binary, "cluster", "-port", strconv.Itoa(respPort), "-peer-port", strconv.Itoa(peerPort))
		cmd.Dir = dir
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("cluster-%d.log", time.Now().UnixNano())))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); logf.Close(); close(done) }()
		t.Cleanup(func() { cmd.Process.Kill(); <-done })
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
	for i := 1; i <= 3; i++ {
		if _, err := os.Stat(filepath.Join(dir, "raftkv-data", fmt.Sprintf("node%d", i), "raftkv.yaml")); err != nil {
			t.Fatalf("node %d config: %v", i, err)
		}
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

	// Started again in the same folder, it resumes with the data there.
	run()
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
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
