package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/raftkv/raftkv/test/testport"
)

// TestHealthAndConfigCheck: `raftkv health` succeeds against a serving
// node and fails against nothing; `raftkv config check` accepts a valid
// file and names the bad setting in one that is not, whatever the
// environment holds.
func TestHealthAndConfigCheck(t *testing.T) {
	c := startCluster(t, 3)
	lead := c.waitLeader(10 * time.Second)
	run := func(env []string, args ...string) (string, error) {
		cmd := exec.Command(binary, args...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if out, err := run(nil, "health", "--addr", lead.respAddr); err != nil || !strings.Contains(out, "OK: leader, leader ") {
		t.Fatalf("health on the leader: %v: %s", err, out)
	}
	if out, err := run(nil, "health", "--addr", c.followers(lead)[0].respAddr); err != nil || !strings.Contains(out, "OK: follower, leader ") {
		t.Fatalf("health on a follower: %v: %s", err, out)
	}
	closed := testport.Free(t, 1)[0]
	if out, err := run(nil, "health", "--addr", "127.0.0.1:"+strconv.Itoa(closed), "--timeout", "500ms"); err == nil || !strings.Contains(out, "does not answer") {
		t.Fatalf("health on a closed port: %v: %s", err, out)
	}

	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("id: 2\npeers: 1=127.0.0.1:16380/127.0.0.1:6380,2=127.0.0.1:16381/127.0.0.1:6381\nresp-addr: 127.0.0.1:6381\npeer-addr: 127.0.0.1:16381\n"), 0o644)
	if out, err := run(nil, "config", "check", good); err != nil || !strings.Contains(out, "OK: node 2 of 2") {
		t.Fatalf("config check of a valid file: %v: %s", err, out)
	}
	for content, want := range map[string]string{
		"peers: 1=127.0.0.1:16380/127.0.0.1:6380\n":                       "missing --id",
		"id: 1\npeers: 1=a/b\nelection-timeout: soon\n":                   "election-timeout",
		"id: 1\npeers: 1=127.0.0.1:1/127.0.0.1:2\nbogus: 1\n":             `unknown setting "bogus"`,
		"id: 1\npeers: 1=127.0.0.1:16380/127.0.0.1:6380\ncache-size: 5\n": "--cache-size 5",
	} {
		bad := filepath.Join(dir, "bad.yaml")
		os.WriteFile(bad, []byte(content), 0o644)
		// RAFTKV_ID in the environment must not hide the file's missing id.
		if out, err := run([]string{"RAFTKV_ID=3"}, "config", "check", bad); err == nil || !strings.Contains(out, want) {
			t.Fatalf("config check of %q: %v: %s (want %q)", content, err, out, want)
		}
	}
}
