package conf

import (
	"crypto/tls"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/raftkv/raftkv/test/testcert"
)

const peers3 = "1=127.0.0.1:16380/127.0.0.1:6380,2=127.0.0.1:16381/127.0.0.1:6381,3=127.0.0.1:16382/127.0.0.1:6382"

func TestFlags(t *testing.T) {
	c, err := Parse("test", []string{"--id", "2", "--peer-addr", "127.0.0.1:16381", "--resp-addr", "127.0.0.1:6381",
		"--peers", peers3, "--data-dir", "d2", "--election-timeout", "500ms", "--heartbeat-interval", "50ms", "--log-json"})
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != 2 || c.RespAddr != "127.0.0.1:6381" || c.DataDir != "d2" || c.ElectionTimeout != 500*time.Millisecond ||
		c.HeartbeatInterval != 50*time.Millisecond || !c.LogJSON || len(c.Peers) != 3 {
		t.Fatalf("parsed %+v", c)
	}
	if c.Peers[2] != (Peer{ID: 3, PeerAddr: "127.0.0.1:16382", RespAddr: "127.0.0.1:6382"}) {
		t.Fatalf("peer 3 is %+v", c.Peers[2])
	}
	// Defaults stay for what was not given.
	if c.RequestTimeout != 5*time.Second || c.MaxBulkLen != 512<<20 || c.LogLevel != "info" {
		t.Fatalf("defaults lost: %+v", c)
	}
}

func TestEnvAndPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "n.yaml")
	os.WriteFile(file, []byte("id: 1\npeers:\n  - id: 1\n    peer-addr: 127.0.0.1:16380\n    resp-addr: 127.0.0.1:6380\ndata-dir: from-file\nlog-level: warn\nrequest-timeout: 7s\n"), 0o644)
	t.Setenv("RAFTKV_DATA_DIR", "from-env")
	t.Setenv("RAFTKV_LOG_LEVEL", "error")
	c, err := Parse("test", []string{"--config", file, "--log-level", "debug"})
	if err != nil {
		t.Fatal(err)
	}
	if c.LogLevel != "debug" {
		t.Errorf("flag lost to env or file: log level %q", c.LogLevel)
	}
	if c.DataDir != "from-env" {
		t.Errorf("env lost to file: data dir %q", c.DataDir)
	}
	if c.RequestTimeout != 7*time.Second || c.ID != 1 || len(c.Peers) != 1 {
		t.Errorf("file settings lost: %+v", c)
	}
	if c.ConfigFile != file {
		t.Errorf("ConfigFile %q, want %q", c.ConfigFile, file)
	}
	// The config file itself may come from the environment.
	t.Setenv("RAFTKV_CONFIG", file)
	if c, err := Parse("test", nil); err != nil || c.ID != 1 {
		t.Errorf("RAFTKV_CONFIG: %+v, %v", c, err)
	}
}

func TestWriteFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raftkv.yaml")
	want := Default()
	want.ID = 3
	want.PeerAddr = "127.0.0.1:16382"
	want.RespAddr = "127.0.0.1:6382"
	want.Peers, _ = ParsePeers(peers3)
	want.FirstElectionTimeout = 300 * time.Millisecond
	want.LogJSON = true
	want.MaxProcs = 1
	want.LeaderMaxProcs = 2
	want.KeyCacheSize = 100 << 20
	if err := WriteFile(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := Parse("test", []string{"--config", path})
	if err != nil {
		t.Fatal(err)
	}
	want.ConfigFile = path
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("read back\n%+v\nwant\n%+v", got, want)
	}
}

func TestValidationNamesTheSetting(t *testing.T) {
	base := []string{"--id", "1", "--peers", peers3}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--peers", peers3}, "missing --id"},
		{[]string{"--id", "1"}, "missing --peers"},
		{[]string{"--id", "4", "--peers", peers3}, "--id 4 is not listed"},
		{append(base, "--peer-addr", "127.0.0.1:9999"), "peer address 127.0.0.1:16380 but --peer-addr is 127.0.0.1:9999"},
		{append(base, "--resp-addr", "nohost"), "invalid --resp-addr"},
		{append(base, "--election-timeout", "150ms"), "invalid --election-timeout 150ms: must be at least twice --heartbeat-interval"},
		{append(base, "--heartbeat-interval", "0s"), "invalid --heartbeat-interval"},
		{append(base, "--first-election-timeout", "1ms"), "invalid --first-election-timeout"},
		{append(base, "--request-timeout", "0s"), "invalid --request-timeout"},
		{append(base, "--max-bulk-len", "0"), "invalid --max-bulk-len"},
		{append(base, "--max-inline-len", "-1"), "invalid --max-inline-len"},
		{append(base, "--max-multibulk-len", "0"), "invalid --max-multibulk-len"},
		{append(base, "--maxclients", "0"), "invalid --maxclients 0"},
		{append(base, "--max-procs", "-1"), "invalid --max-procs -1"},
		{append(base, "--max-procs", "1", "--leader-max-procs", "-1"), "invalid --leader-max-procs -1"},
		{append(base, "--leader-max-procs", "2"), "invalid --leader-max-procs 2: it needs --max-procs"},
		{append(base, "--key-cache-size", "1048576"), "invalid --key-cache-size 1048576: must be at least 32 MiB"},
		{append(base, "--log-level", "loud"), "invalid --log-level \"loud\""},
		{append(base, "--data-dir", ""), "missing --data-dir"},
		{[]string{"--id", "1", "--peers", "1=127.0.0.1:16380/127.0.0.1:6380,1=127.0.0.1:16381/127.0.0.1:6381"}, "ID 1 is listed twice"},
		{[]string{"--id", "1", "--peers", "1=127.0.0.1:16380"}, "is not ID=PEER-ADDR/RESP-ADDR"},
		{[]string{"--id", "1", "--peers", "x=127.0.0.1:16380/127.0.0.1:6380"}, "ID must be a positive integer"},
		{[]string{"--id", "1", "--peers", "1=127.0.0.1:99999/127.0.0.1:6380"}, "invalid port"},
		{[]string{"--id", "one"}, "-id"},
		{append(base, "extra"), "unexpected argument \"extra\""},
		{[]string{"--id", "4", "--peers", peers3, "--join", "127.0.0.1:6380", "--resp-addr", "0.0.0.0:6383", "--peer-addr", "10.0.0.4:16380"}, "--resp-addr 0.0.0.0:6383 is not an address clients can be sent to"},
		{append(base, "--cluster-id", "two words"), "invalid --cluster-id \"two words\""},
		{append(base, "--tls-cert-file", "c.pem"), "--tls-cert-file and --tls-key-file go together"},
		{append(base, "--tls-cert-file", "c.pem", "--tls-key-file", "k.pem"), "missing --tls-ca-cert-file"},
		{append(base, "--tls-cert-file", "c.pem", "--tls-key-file", "k.pem", "--tls-auth-clients", "no"), "invalid --tls-cert-file c.pem or --tls-key-file k.pem"},
		{append(base, "--tls-auth-clients", "maybe"), "invalid --tls-auth-clients \"maybe\""},
		{append(base, "--peer-tls-cert-file", "c.pem", "--peer-tls-key-file", "k.pem"), "--peer-tls-cert-file, --peer-tls-key-file and --peer-tls-ca-cert-file go together"},
		{append(base, "--peer-tls-cert-file", "c.pem", "--peer-tls-key-file", "k.pem", "--peer-tls-ca-cert-file", "ca.pem"), "invalid --peer-tls-cert-file c.pem or --peer-tls-key-file k.pem"},
	} {
		_, err := Parse("test", tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q): %v, want an error containing %q", tc.args, err, tc.want)
		}
		if err != nil && strings.Contains(strings.TrimSuffix(err.Error(), "."), "\n") {
			t.Errorf("Parse(%q): error spans lines: %q", tc.args, err)
		}
	}
}

func TestConfigFileErrors(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct{ body, want string }{
		"unknown key":  {"id: 1\nport: 5\n", `unknown setting "port"`},
		"unknown peer": {"id: 1\npeers:\n  - id: 1\n    addr: x\n", `peers[0]: unknown setting "addr"`},
		"bad yaml":     {"id: [1\n", "not valid YAML"},
		"bad value":    {"id: 1\nelection-timeout: soon\n", "election-timeout"},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yaml")
		os.WriteFile(path, []byte(tc.body), 0o644)
		_, err := Parse("test", []string{"--config", path})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, tc.want)
		}
	}
	if _, err := Parse("test", []string{"--config", filepath.Join(dir, "missing.yaml")}); err == nil {
		t.Error("a missing config file was accepted")
	}
}

func TestJoinAdvertisesItsPeersEntry(t *testing.T) {
	// A joining node may bind a wildcard address when its own --peers
	// entry says where others reach it.
	_, err := Parse("test", []string{"--id", "4", "--join", "127.0.0.1:6380", "--resp-addr", "0.0.0.0:6380", "--peer-addr", "10.0.0.4:16380",
		"--peers", peers3 + ",4=10.0.0.4:16380/10.0.0.4:6380"})
	if err != nil {
		t.Fatal(err)
	}
}

func TestHelp(t *testing.T) {
	if _, err := Parse("test", []string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v, want flag.ErrHelp", err)
	}
}

func TestPeersRoundTrip(t *testing.T) {
	ps, err := ParsePeers(peers3)
	if err != nil {
		t.Fatal(err)
	}
	if got := FormatPeers(ps); got != peers3 {
		t.Fatalf("FormatPeers(ParsePeers(%q)) = %q", peers3, got)
	}
}

func TestTLSSettings(t *testing.T) {
	ca := testcert.NewCA(t, "conf")
	f := ca.Issue("node")
	base := []string{"--id", "1", "--peers", peers3}
	c, err := Parse("test", append(base, "--tls-cert-file", f.CertFile, "--tls-key-file", f.KeyFile, "--tls-ca-cert-file", ca.CertFile,
		"--tls-auth-clients", "optional", "--peer-tls-cert-file", f.CertFile, "--peer-tls-key-file", f.KeyFile, "--peer-tls-ca-cert-file", ca.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := c.RespTLS()
	if err != nil || rt == nil || rt.ClientAuth != tls.VerifyClientCertIfGiven || rt.ClientCAs == nil {
		t.Fatalf("RespTLS() = %+v, %v", rt, err)
	}
	pt, err := c.PeerTLS()
	if err != nil || pt == nil || pt.ClientAuth != tls.RequireAndVerifyClientCert || pt.RootCAs == nil || pt.ClientCAs == nil {
		t.Fatalf("PeerTLS() = %+v, %v", pt, err)
	}
	if ct, err := c.ClientTLS(); err != nil || ct == nil || len(ct.Certificates) != 1 || ct.RootCAs == nil {
		t.Fatalf("ClientTLS() = %+v, %v", ct, err)
	}
	// Off by default.
	c, err = Parse("test", base)
	if err != nil {
		t.Fatal(err)
	}
	if rt, _ := c.RespTLS(); rt != nil {
		t.Fatal("RESP TLS on without settings")
	}
	if pt, _ := c.PeerTLS(); pt != nil {
		t.Fatal("peer TLS on without settings")
	}
	// A CA file that holds no certificate is named.
	junk := filepath.Join(t.TempDir(), "junk.pem")
	os.WriteFile(junk, []byte("not a certificate"), 0o644)
	_, err = Parse("test", append(base, "--peer-tls-cert-file", f.CertFile, "--peer-tls-key-file", f.KeyFile, "--peer-tls-ca-cert-file", junk))
	if err == nil || !strings.Contains(err.Error(), "invalid --peer-tls-ca-cert-file "+junk+": no PEM certificate") {
		t.Fatalf("junk CA: %v", err)
	}
}

// TestNodeEnv: a launcher's nodes get two malloc arenas and sysmon's long
// period unless the launcher's environment chose, and the environment
// given is not changed.
func TestNodeEnv(t *testing.T) {
	environ := make([]string, 2, 3)
	environ[0], environ[1] = "HOME=/root", "PATH=/bin"
	got := NodeEnv(environ)
	if want := []string{"HOME=/root", "PATH=/bin", "MALLOC_ARENA_MAX=2", "GODEBUG=schedtrace=2147483647"}; !slices.Equal(got, want) {
		t.Errorf("NodeEnv: %q, want %q", got, want)
	}
	if extra := environ[:3][2]; extra != "" {
		t.Errorf("NodeEnv wrote %q into its argument's spare capacity", extra)
	}
	for _, c := range []struct {
		environ, want []string
	}{
		{[]string{"MALLOC_ARENA_MAX=8", "GODEBUG=schedtrace=0"}, nil},
		{[]string{"GODEBUG=madvdontneed=1", "MALLOC_ARENA_MAX=8"}, []string{"GODEBUG=madvdontneed=1,schedtrace=2147483647"}},
		{[]string{"GODEBUG=", "PATH=/bin"}, []string{"MALLOC_ARENA_MAX=2", "GODEBUG=schedtrace=2147483647"}},
		// os/exec keeps the last of a variable set twice.
		{[]string{"GODEBUG=schedtrace=0", "GODEBUG=gctrace=1"}, []string{"MALLOC_ARENA_MAX=2", "GODEBUG=gctrace=1,schedtrace=2147483647"}},
		{[]string{"GODEBUG=gctrace=1,schedtrace=5000,x=1"}, []string{"MALLOC_ARENA_MAX=2"}},
		{[]string{"GODEBUG=myschedtrace=1"}, []string{"MALLOC_ARENA_MAX=2", "GODEBUG=myschedtrace=1,schedtrace=2147483647"}},
	} {
		if got := NodeVars(c.environ); !slices.Equal(got, c.want) {
			t.Errorf("NodeVars(%q): %q, want %q", c.environ, got, c.want)
		}
		if got, want := NodeEnv(c.environ), append(slices.Clone(c.environ), c.want...); !slices.Equal(got, want) {
			t.Errorf("NodeEnv(%q): %q, want %q", c.environ, got, want)
		}
	}
}

func TestLookupEnv(t *testing.T) {
	env := []string{"A=1", "B=", "A=2", "AB=3", "C"}
	for _, c := range []struct {
		name, want string
		ok         bool
	}{{"A", "2", true}, {"B", "", true}, {"AB", "3", true}, {"X", "", false}, {"C", "", true}} {
		if got, ok := LookupEnv(env, c.name); got != c.want || ok != c.ok {
			t.Errorf("LookupEnv(%q) = %q, %v; want %q, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}
