package peer

import (
	"bytes"
	"crypto/tls"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/raftkv/raftkv/conf"
	"github.com/raftkv/raftkv/raft"
	"github.com/raftkv/raftkv/test/testcert"
)

// logBuffer is a logger whose lines a test can search.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Contains(l.buf.String(), s)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// node starts a transport with cfg's security settings and a log.
func secureNode(t *testing.T, cfg Config, in *inbox) (*Transport, *logBuffer) {
	t.Helper()
	var log logBuffer
	cfg.Handler = in.handle
	cfg.QueueSize = 256
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Output: &log, Level: hclog.Info})
	tr, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr, &log
}

// sendUntil sends heartbeats from 1 to 2 until cond holds.
func sendUntil(t *testing.T, from *Transport, what string, cond func() bool) {
	t.Helper()
	waitFor(t, 10*time.Second, what, func() bool {
		from.Send([]raft.Message{{Type: raft.MsgHeartbeat, From: 1, To: 2, Term: 1}})
		time.Sleep(20 * time.Millisecond)
		return cond()
	})
}

// refusedFor sends from 1 to 2 for a while and checks that nothing arrives.
func refusedFor(t *testing.T, from *Transport, in *inbox, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); {
		from.Send([]raft.Message{{Type: raft.MsgHeartbeat, From: 1, To: 2, Term: 1}})
		time.Sleep(20 * time.Millisecond)
	}
	if n := in.count(); n != 0 {
		t.Fatalf("%d messages crossed a link that must refuse them", n)
	}
}

func TestOtherClusterRefused(t *testing.T) {
	addrs := peerAddrs(t, 2)
	var in1, in2 inbox
	t1, log1 := secureNode(t, Config{ID: 1, ListenAddr: addrs[1], Peers: addrs, ClusterID: "alpha"}, &in1)
	_, log2 := secureNode(t, Config{ID: 2, ListenAddr: addrs[2], Peers: addrs, ClusterID: "beta"}, &in2)
	refusedFor(t, t1, &in2, time.Second)
	waitFor(t, 5*time.Second, "both ends to log the refusal", func() bool {
		return log2.has("refused a peer of another cluster") && log1.has("the peer refused this node")
	})
	if !log2.has(`its_cluster_id=alpha`) || !log1.has("cluster ID mismatch") {
		t.Fatalf("the refusal does not name the clusters:\n%s\n%s", log1, log2)
	}
	// Refusals are logged once a minute per host, not per attempt.
	if n := strings.Count(log2.String(), "refused a peer"); n != 1 {
		t.Fatalf("refusal logged %d times:\n%s", n, log2)
	}
}

func TestSameClusterAccepted(t *testing.T) {
	addrs := peerAddrs(t, 2)
	var in1, in2 inbox
	t1, _ := secureNode(t, Config{ID: 1, ListenAddr: addrs[1], Peers: addrs, ClusterID: "alpha"}, &in1)
	secureNode(t, Config{ID: 2, ListenAddr: addrs[2], Peers: addrs, ClusterID: "alpha"}, &in2)
	sendUntil(t, t1, "a message to cross", func() bool { return in2.count() > 0 })
}

func peerTLS(t *testing.T, ca *testcert.CA, name string) *tls.Config {
	t.Helper()
	f := ca.Issue(name)
	c := &conf.Config{PeerTLSCertFile: f.CertFile, PeerTLSKeyFile: f.KeyFile, PeerTLSCACertFile: ca.CertFile}
	cfg, err := c.PeerTLS()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestMutualTLS(t *testing.T) {
	ca := testcert.NewCA(t, "cluster")
	addrs := peerAddrs(t, 2)
	var in1, in2 inbox
	t1, _ := secureNode(t, Config{ID: 1, ListenAddr: addrs[1], Peers: addrs, ClusterID: "c", TLS: peerTLS(t, ca, "node1")}, &in1)
	secureNode(t, Config{ID: 2, ListenAddr: addrs[2], Peers: addrs, ClusterID: "c", TLS: peerTLS(t, ca, "node2")}, &in2)
	sendUntil(t, t1, "a message to cross the TLS link", func() bool { return in2.count() > 0 })
	for _, m := range in2.all() {
		if m.From != 1 || m.Type != raft.MsgHeartbeat {
			t.Fatalf("received %+v", m)
		}
	}
}

// TestMutualTLSRefusals: a node whose certificate another CA signed, and
// a node without TLS, are refused by a member, and the member says why.
func TestMutualTLSRefusals(t *testing.T) {
	ca := testcert.NewCA(t, "cluster")
	other := testcert.NewCA(t, "other")
	cases := []struct {
		name string
		tls  *tls.Config
		// knows: the refused node can tell why (a plaintext client only
		// sees the connection close).
		knows bool
	}{
		{"certificate of another CA", func() *tls.Config {
			c := peerTLS(t, other, "rogue")
			c.RootCAs = ca.Pool() // it trusts the member; the member must not trust it
			return c
		}(), true},
		{"no TLS", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addrs := peerAddrs(t, 2)
			var in1, in2 inbox
			rogue, log1 := secureNode(t, Config{ID: 1, ListenAddr: addrs[1], Peers: addrs, ClusterID: "c", TLS: tc.tls}, &in1)
			_, log2 := secureNode(t, Config{ID: 2, ListenAddr: addrs[2], Peers: addrs, ClusterID: "c", TLS: peerTLS(t, ca, "node2")}, &in2)
			refusedFor(t, rogue, &in2, time.Second)
			waitFor(t, 5*time.Second, "both ends to log the refusal", func() bool {
				return log2.has("refused a peer connection: TLS handshake failed") && (!tc.knows || log1.has("the peer refused this node"))
			})
		})
	}
}
