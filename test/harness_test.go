package test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/raftkv/raftkv/conf"
	"github.com/raftkv/raftkv/test/testport"
)

// binary is the raftkv binary built once for every test in this package,
// stamped with this version and commit as a release build is.
var binary string

const (
	buildVersion = "0.0.0-test"
	buildCommit  = "0123456789abcdef0123456789abcdef01234567"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "raftkv-test-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "raftkv")
	// go test caches a package's result until the files the test opened
	// change: open every source file the binary is built from, so that a
	// change anywhere in the module reruns these tests.
	filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "go.mod")) {
			if f, err := os.Open(path); err == nil {
				f.Close()
			}
		}
		return nil
	})
	build := exec.Command("go", "build", "-ldflags", "-X main.version="+buildVersion+" -X main.commit="+buildCommit, "-o", binary, "../cmd/raftkv")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build raftkv: %v\n%s", err, out)
		os.Exit(1)
	}
	// go-redis reports every refused dial; while the nemesis has nodes
	// down there are thousands, and the tests check outcomes instead.
	redis.SetLogger(quietLogger{})
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// proc is one raftkv server process of a test cluster.
type proc struct {
	id       uint64
	respAddr string
	peerAddr string
	dataDir  string
	logPath  string
	join     string // --join, for a node added to a running cluster
	cmd      *exec.Cmd
	exited   chan struct{}
}

// cluster is a set of raftkv server processes on 127.0.0.1.
type cluster struct {
	t     testing.TB
	nodes []*proc
	peers string
	extra []string // flags given to every node
	// rates, when set, skew node i's clock: its timers run rates[(id-1) %
	// len(rates)] times as fast as real time.
	rates []float64
	last  uint64 // the highest node ID given out
	mu    sync.Mutex
	// password is the nodes' --requirepass, if extra sets one, and tls
	// how clients connect when extra turns TLS on for the RESP port.
	password string
	tls      *tls.Config
}

// passwords maps a node's RESP address to its --requirepass, and
// clientTLS to the TLS configuration that connects to it, for info.
var passwords, clientTLS sync.Map

// startCluster starts n raftkv server processes and waits for a leader.
// extra flags are passed to every node.
func startCluster(t testing.TB, n int, extra ...string) *cluster {
	t.Helper()
	return startSkewedCluster(t, n, nil, extra...)
}

// startSkewedCluster is startCluster with clocks that run at different
// rates: node i's heartbeat and election timers run rates[(i-1) %
// len(rates)] times as fast as real time, as a node's would on a machine
// whose clock is fast or slow.
func startSkewedCluster(t testing.TB, n int, rates []float64, extra ...string) *cluster {
	t.Helper()
	c := newCluster(t, n, rates, extra...)
	c.launch()
	return c
}

// newCluster lays out a cluster of n nodes (addresses, folders) without
// starting it; launch starts it.
func newCluster(t testing.TB, n int, rates []float64, extra ...string) *cluster {
	t.Helper()
	ports := testport.Free(t, 2*n)
	c := &cluster{t: t, extra: extra, last: uint64(n), rates: rates}
	var tc conf.Config
	for i, a := range extra {
		if i+1 == len(extra) {
			break
		}
		switch a {
		case "--requirepass":
			c.password = extra[i+1]
		case "--tls-cert-file":
			tc.TLSCertFile = extra[i+1]
		case "--tls-key-file":
			tc.TLSKeyFile = extra[i+1]
		case "--tls-ca-cert-file":
			tc.TLSCACertFile = extra[i+1]
		}
	}
	// With TLS on the RESP port, the test's clients present the nodes'
	// own certificate, which the test CA issued for clients too.
	tlsCfg, err := tc.ClientTLS()
	if err != nil {
		t.Fatal(err)
	}
	c.tls = tlsCfg
	var peers []string
	base := t.TempDir()
	for i := 0; i < n; i++ {
		p := &proc{
			id:       uint64(i + 1),
			respAddr: fmt.Sprintf("127.0.0.1:%d", ports[i]),
			peerAddr: fmt.Sprintf("127.0.0.1:%d", ports[n+i]),
			dataDir:  filepath.Join(base, fmt.Sprintf("node%d", i+1)),
			logPath:  filepath.Join(base, fmt.Sprintf("node%d.log", i+1)),
		}
		c.nodes = append(c.nodes, p)
		peers = append(peers, fmt.Sprintf("%d=%s/%s", p.id, p.peerAddr, p.respAddr))
	}
	c.peers = strings.Join(peers, ",")
	return c
}

// launch starts every node of c and waits for a leader.
func (c *cluster) launch() {
	t := c.t
	t.Helper()
	for _, p := range c.nodes {
		c.start(p)
	}
	t.Cleanup(func() {
		// A node that exited without the test stopping it says how.
		var gone []string
		for _, p := range c.nodes {
			if p.cmd != nil && !p.running() {
				gone = append(gone, fmt.Sprintf("node %d exited by itself: %v", p.id, p.cmd.ProcessState))
			}
		}
		for _, p := range c.nodes {
			c.kill(p)
		}
		if t.Failed() {
			for _, g := range gone {
				t.Log(g)
			}
			for _, p := range c.nodes {
				if b, err := os.ReadFile(p.logPath); err == nil {
					t.Logf("--- log of node %d, without clients connecting and leaving ---\n%s", p.id, lastLines(withoutClientChurn(b), 60))
				}
			}
		}
	})
	c.waitLeader(10 * time.Second)
}

// withoutClientChurn drops from a node's log the lines of clients that
// connect and leave without an error: the harness's own polls, which
// would crowd out everything else.
func withoutClientChurn(b []byte) []byte {
	var out [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if bytes.Contains(l, []byte("resp: client connected: ")) ||
			bytes.Contains(l, []byte("resp: client disconnected: ")) && bytes.HasSuffix(l, []byte("error=<nil>")) {
			continue
		}
		out = append(out, l)
	}
	return bytes.Join(out, []byte("\n"))
}

func lastLines(b []byte, n int) []byte {
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return bytes.Join(lines, []byte("\n"))
}

// start starts (or restarts) p's process on its data directory.
func (c *cluster) start(p *proc) {
	c.t.Helper()
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command(binary, "server",
		"--id", strconv.FormatUint(p.id, 10),
		"--resp-addr", p.respAddr,
		"--peer-addr", p.peerAddr,
		"--peers", c.peers,
		"--data-dir", p.dataDir,
		"--heartbeat-interval", "50ms",
		"--election-timeout", "500ms",
		"--log-level", "debug",
	)
	if len(c.rates) > 0 {
		rate := c.rates[(p.id-1)%uint64(len(c.rates))]
		cmd.Args = append(cmd.Args,
			"--heartbeat-interval", time.Duration(float64(50*time.Millisecond)/rate).String(),
			"--election-timeout", time.Duration(float64(500*time.Millisecond)/rate).String())
	}
	cmd.Args = append(cmd.Args, c.extra...)
	if p.join != "" {
		cmd.Args = append(cmd.Args, "--join", p.join)
	}
	passwords.Store(p.respAddr, c.password)
	if c.tls != nil {
		clientTLS.Store(p.respAddr, c.tls)
	}
	// The nodes run in the environment raftkv cluster gives its own
	// (conf.NodeEnv: sysmon's long period, above all), so that the
	// fault and linearizability suites test what the launcher runs. A
	// cluster whose every log line must be JSON keeps Go's default: the
	// setting's rare "SCHED" line from the runtime is not one.
	cmd.Env = conf.NodeEnv(os.Environ())
	if slices.Contains(c.extra, "--log-json") {
		cmd.Env = os.Environ()
	}
	cmd.Stdout = logf
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start node %d: %v", p.id, err)
	}
	logf.Close()
	p.cmd = cmd
	p.exited = make(chan struct{})
	go func(ch chan struct{}) { cmd.Wait(); close(ch) }(p.exited)
}

// running reports whether p's process is up.
func (p *proc) running() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// addNode starts a new node that joins the cluster through via.
func (c *cluster) addNode(via *proc) *proc {
	c.t.Helper()
	ports := testport.Free(c.t, 2)
	c.last++
	id := c.last
	base := filepath.Dir(c.nodes[0].dataDir)
	p := &proc{
		id:       id,
		respAddr: fmt.Sprintf("127.0.0.1:%d", ports[0]),
		peerAddr: fmt.Sprintf("127.0.0.1:%d", ports[1]),
		dataDir:  filepath.Join(base, fmt.Sprintf("node%d", id)),
		logPath:  filepath.Join(base, fmt.Sprintf("node%d.log", id)),
		join:     via.respAddr,
	}
	c.nodes = append(c.nodes, p)
	c.start(p)
	return p
}

// raftInfo returns RAFT.INFO from p, or "" if p does not answer.
func (c *cluster) raftInfo(p *proc) string {
	v, err := c.client(p).Do(context.Background(), "RAFT.INFO").Text()
	if err != nil {
		return ""
	}
	return v
}

// waitFor waits up to 20 seconds for cond.
func (c *cluster) waitFor(what string, cond func() bool) {
	c.t.Helper()
	waitUntil(c.t, 20*time.Second, 50*time.Millisecond, what, cond)
}

// waitUntil checks cond every poll until it holds, and fails t when it
// does not within d.
func waitUntil(t testing.TB, d, poll time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(poll)
	}
}

// kill sends SIGKILL to p and waits for it to exit.
func (c *cluster) kill(p *proc) { c.signal(p, syscall.SIGKILL) }

// stop sends SIGTERM to p and waits for it to exit.
func (c *cluster) stop(p *proc) { c.signal(p, syscall.SIGTERM) }

func (c *cluster) signal(p *proc, sig syscall.Signal) {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
		c.t.Errorf("node %d did not exit within 15s of %v", p.id, sig)
	}
	p.cmd = nil
}

// client returns a plain go-redis client for p.
func (c *cluster) client(p *proc) *redis.Client {
	cl := redis.NewClient(&redis.Options{Addr: p.respAddr, Password: c.password, TLSConfig: c.tls, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: 10 * time.Second})
	c.t.Cleanup(func() { cl.Close() })
	return cl
}

// clusterClient returns a go-redis ClusterClient seeded with one node.
func (c *cluster) clusterClient(seed *proc) *redis.ClusterClient {
	cl := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:        []string{seed.respAddr},
		Password:     c.password,
		TLSConfig:    c.tls,
		MaxRedirects: 8,
		DialTimeout:  time.Second,
		ReadTimeout:  10 * time.Second,
	})
	c.t.Cleanup(func() { cl.Close() })
	return cl
}

// info returns the fields of INFO's sections on p, or nil if p is down.
func info(addr string) map[string]string {
	conn, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err != nil {
		return nil
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	pw, _ := passwords.Load(addr)
	password, _ := pw.(string)
	tc, _ := clientTLS.Load(addr)
	tlsCfg, _ := tc.(*tls.Config)
	cl := redis.NewClient(&redis.Options{Addr: addr, Password: password, TLSConfig: tlsCfg, MaxRetries: -1, DialTimeout: 500 * time.Millisecond, ReadTimeout: 2 * time.Second})
	defer cl.Close()
	s, err := cl.Info(context.Background(), "server", "replication", "keyspace").Result()
	if err != nil {
		return nil
	}
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":"); ok {
			m[k] = v
		}
	}
	return m
}

// leader returns the node that reports itself leader with every other
// live node agreeing, or nil.
func (c *cluster) leader() *proc {
	var lead *proc
	var leadID string
	for _, p := range c.nodes {
		if !p.running() {
			continue
		}
		m := info(p.respAddr)
		if m == nil {
			return nil
		}
		if leadID == "" {
			leadID = m["raft_leader_id"]
		} else if m["raft_leader_id"] != leadID {
			return nil
		}
		if m["raft_role"] == "leader" {
			lead = p
		}
	}
	if lead == nil || leadID != strconv.FormatUint(lead.id, 10) {
		return nil
	}
	return lead
}

// waitLeader waits until the live nodes agree on a leader.
func (c *cluster) waitLeader(d time.Duration) *proc {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if l := c.leader(); l != nil {
			return l
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("no agreed leader within %v", d)
	return nil
}

// followers returns the live nodes other than lead.
func (c *cluster) followers(lead *proc) []*proc {
	var fs []*proc
	for _, p := range c.nodes {
		if p != lead && p.running() {
			fs = append(fs, p)
		}
	}
	return fs
}

// waitApplied waits until p has applied at least index.
func (c *cluster) waitApplied(p *proc, index uint64, d time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	var last string
	for time.Now().Before(deadline) {
		if m := info(p.respAddr); m != nil {
			last = m["raft_applied_index"]
			if v, err := strconv.ParseUint(last, 10, 64); err == nil && v >= index {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("node %d applied %s, not %d, within %v", p.id, last, index, d)
}

func commitIndex(t testing.TB, p *proc) uint64 {
	t.Helper()
	m := info(p.respAddr)
	v, err := strconv.ParseUint(m["raft_commit_index"], 10, 64)
	if err != nil {
		t.Fatalf("node %d: raft_commit_index %q: %v", p.id, m["raft_commit_index"], err)
	}
	return v
}

// plainClient talks to the cluster as a careful client does: it follows
// -MOVED (the command was not run) and retries -TRYAGAIN and -CLUSTERDOWN
// (nothing was applied), but never retries after a lost connection or a
// timeout, whose outcome is unknown. go-redis's ClusterClient retries
// those, which can apply an APPEND twice.
type plainClient struct {
	mu      sync.Mutex
	target  string
	clients map[string]*redis.Client
}

func newPlainClient(t testing.TB, addr string) *plainClient {
	pc := &plainClient{target: addr, clients: map[string]*redis.Client{}}
	t.Cleanup(func() {
		for _, c := range pc.clients {
			c.Close()
		}
	})
	return pc
}

func (pc *plainClient) client(addr string) *redis.Client {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	c := pc.clients[addr]
	if c == nil {
		c = redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 500 * time.Millisecond, ReadTimeout: 5 * time.Second})
		pc.clients[addr] = c
	}
	return c
}

// Do runs one command. A nil error means it ran once; redis.Nil is a
// missing key.
func (pc *plainClient) Do(ctx context.Context, args ...any) *redis.Cmd {
	pc.mu.Lock()
	addr := pc.target
	pc.mu.Unlock()
	for {
		cmd := pc.client(addr).Do(ctx, args...)
		err := cmd.Err()
		if err == nil || err == redis.Nil {
			return cmd
		}
		msg := err.Error()
		switch {
		case strings.HasPrefix(msg, "MOVED "):
			f := strings.Fields(msg)
			addr = f[len(f)-1]
			pc.mu.Lock()
			pc.target = addr
			pc.mu.Unlock()
			continue
		case strings.HasPrefix(msg, "TRYAGAIN") || strings.HasPrefix(msg, "CLUSTERDOWN"):
		default:
			var opErr *net.OpError
			if !errors.As(err, &opErr) || opErr.Op != "dial" {
				return cmd // the outcome is unknown, or a plain error
			}
			// Nothing was sent: try the other nodes.
			addr = pc.next(addr)
		}
		select {
		case <-ctx.Done():
			return cmd
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// next returns a known address after addr, to look for the leader.
func (pc *plainClient) next(addr string) string {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	addrs := make([]string, 0, len(pc.clients))
	for a := range pc.clients {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	for i, a := range addrs {
		if a == addr {
			return addrs[(i+1)%len(addrs)]
		}
	}
	return addr
}
