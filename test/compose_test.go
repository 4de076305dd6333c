package test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/raftkv/raftkv/test/testport"
)

// composeCommand is how this host runs Docker Compose: the docker CLI
// plugin, or the standalone docker-compose.
func composeCommand(t *testing.T) []string {
	t.Helper()
	if _, err := docker("compose", "version"); err == nil {
		return []string{"docker", "compose"}
	}
	if _, err := exec.LookPath("docker-compose"); err == nil {
		return []string{"docker-compose"}
	}
	t.Skip("skipping: neither docker compose nor docker-compose is installed")
	return nil
}

// TestImage checks the image the Dockerfile makes: an unprivileged user,
// the version and commit compiled in, and a node that writes its data
// volume as that user.
func TestImage(t *testing.T) {
	requireDocker(t)
	image := fmt.Sprintf("raftkv-test:image-%d-%d", os.Getpid(), rand.IntN(1<<20))
	buildImage(t, image)
	user, err := docker("inspect", "-f", "{{.Config.User}}", image)
	if err != nil {
		t.Fatal(err)
	}
	if user == "" || user == "0" || strings.HasPrefix(user, "0:") || user == "root" {
		t.Errorf("image runs as %q, want an unprivileged user", user)
	}
	out, err := docker("run", "--rm", image, "version")
	if err != nil {
		t.Fatal(err)
	}
	if want := "raftkv " + buildVersion + " (" + buildCommit[:12] + ")"; out != want {
		t.Errorf("raftkv version printed %q, want %q", out, want)
	}
}

// TestCompose starts the repository's compose file (the README's second
// way to try raftkv) with the image built from the local binary, and uses
// it as a user would: a cluster client on the published ports, redirects to
// the addresses compose publishes, INFO's build metadata, and a restart
// that keeps the data in the named volumes.
func TestCompose(t *testing.T) {
	requireDocker(t)
	compose := composeCommand(t)
	tag := fmt.Sprintf("%d-%d", os.Getpid(), rand.IntN(1<<20))
	image := "raftkv-test:compose-" + tag
	buildImage(t, image)
	ports := testport.Free(t, 3)
	project := "raftkv-test-" + tag
	env := []string{"RAFTKV_IMAGE=" + image}
	for i, p := range ports {
		env = append(env, fmt.Sprintf("RAFTKV_PORT_%d=%d", i+1, p))
	}
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		all := append(append(compose[1:], "-p", project, "-f", "../compose.yaml"), args...)
		cmd := exec.CommandContext(ctx, compose[0], all...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return string(out), fmt.Errorf("%s %s: %v: %s", compose[0], strings.Join(all, " "), err, out)
		}
		return string(out), nil
	}
	t.Cleanup(func() {
		if t.Failed() {
			if out, err := run("logs", "--no-color", "--tail", "40"); err == nil {
				t.Logf("--- compose logs ---\n%s", out)
			}
		}
		if _, err := run("down", "-v", "-t", "5"); err != nil {
			t.Log(err)
		}
	})
	if _, err := run("up", "-d", "--no-build"); err != nil {
		t.Fatal(err)
	}

	addrs := make([]string, 3)
	for i, p := range ports {
		addrs[i] = fmt.Sprintf("127.0.0.1:%d", p)
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs[:1], MaxRedirects: 8})
	defer cc.Close()
	ctx := context.Background()
	waitUntil(t, 60*time.Second, 200*time.Millisecond, "the compose cluster to take a write", func() bool {
		return cc.Set(ctx, "compose", "up", 0).Err() == nil
	})
	for i := range 50 {
		if err := cc.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// Every node, follower or leader, answers for the whole keyspace.
	for _, a := range addrs {
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{a}})
		v, err := c.Get(ctx, "k49").Result()
		c.Close()
		if err != nil || v != "49" {
			t.Fatalf("GET k49 through %s: %q, %v", a, v, err)
		}
		in := info(a)
		if in["raftkv_version"] != buildVersion || in["raftkv_git_sha1"] != buildCommit {
			t.Errorf("INFO on %s: raftkv_version %q raftkv_git_sha1 %q, want %q %q", a, in["raftkv_version"], in["raftkv_git_sha1"], buildVersion, buildCommit)
		}
	}

	// A restart of every container keeps the data: it lives in the volumes.
	if _, err := run("restart", "-t", "10"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 60*time.Second, 200*time.Millisecond, "the restarted cluster to serve reads", func() bool {
		v, err := cc.Get(ctx, "k7").Result()
		return err == nil && v == "7"
	})
	for i := range 50 {
		v, err := cc.Get(ctx, fmt.Sprintf("k%d", i)).Result()
		if err != nil || v != fmt.Sprint(i) {
			t.Fatalf("after restart, GET k%d: %q, %v", i, v, err)
		}
	}
}
