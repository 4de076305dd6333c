package conf

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3"
	"gopkg.in/yaml.v3"
)

// EnvPrefix prefixes every environment variable: --resp-addr is
// RAFTKV_RESP_ADDR.
const EnvPrefix = "RAFTKV"

// Peer is one member of the cluster.
type Peer struct {
	ID       uint64
	PeerAddr string // host:port of its Raft transport
	RespAddr string // host:port clients are redirected to
}

// Config is a node's configuration.
type Config struct {
	ID       uint64
	RespAddr string
	PeerAddr string
	Peers    []Peer
	DataDir  string
	// Join is the RESP address of a member to ask, at start, to add this
	// node to the cluster; the node is then not among --peers' voters.
	Join                 string
	HeartbeatInterval    time.Duration
	ElectionTimeout      time.Duration
	FirstElectionTimeout time.Duration
	RequestTimeout       time.Duration
	// SnapshotEntries is how many applied entries the Raft log holds
	// before it is compacted (a snapshot is taken).
	SnapshotEntries uint64
	// SnapshotCatchUpEntries is how many applied entries compaction keeps
	// for followers slightly behind.
	SnapshotCatchUpEntries uint64
	MaxBulkLen             int64
	MaxInlineLen           int
	MaxMultibulkLen        int
	// MaxQueryBuffer bounds the bytes of one command a client has sent
	// but not finished; a client beyond it is disconnected.
	MaxQueryBuffer int64
	// CacheSize is the storage engine's block cache, in bytes.
	CacheSize int64
	// KeyCacheSize is the memory for the states of keys written or read
	// before, in bytes (engine.Options.KeyCacheSize).
	KeyCacheSize int
	// VerifyOnStart reads every stored byte at start, so that a node
	// whose files are damaged refuses to start.
	VerifyOnStart bool
	// UnsafeNoFsync acknowledges writes without waiting for the disk.
	UnsafeNoFsync bool
	// MaxClients bounds the client connections served at once.
	MaxClients int
	// MaxProcs, when positive, is the node's GOMAXPROCS: the most CPUs
	// its Go code runs on at once. Zero keeps Go's default.
	MaxProcs int
	// LeaderMaxProcs, when positive, is the node's GOMAXPROCS while it
	// is the leader (MaxProcs otherwise). It needs MaxProcs.
	LeaderMaxProcs int
	LogLevel       string
	LogJSON        bool
	// PprofAddr, when set, serves Go's /debug/pprof profiles there.
	PprofAddr string
	// MetricsAddr, when set, serves Prometheus metrics at /metrics there.
	MetricsAddr string
	// RequirePass, when set, is the password clients must give (AUTH, or
	// HELLO's AUTH) before any other command, as Redis's requirepass. The
	// node gives it too when it asks the cluster to add it (--join): every
	// node of a cluster has the same one.
	RequirePass string
	// ClusterID names the cluster; peers refuse a node of another one.
	// Empty: the ID recorded at this node's first start, or on the first
	// start one derived from --peers (founding members) or asked of the
	// cluster (--join).
	ClusterID string
	// TLS on the RESP port: the node's certificate and key, the CA that
	// signs clients' certificates, and whether clients must present one
	// (yes, optional or no), as Redis's tls-* settings.
	TLSCertFile    string
	TLSKeyFile     string
	TLSCACertFile  string
	TLSAuthClients string
	// Mutual TLS between peers: this node's certificate and key, and the
	// cluster CA that signs every member's.
	PeerTLSCertFile   string
	PeerTLSKeyFile    string
	PeerTLSCACertFile string
	// ConfigFile is the YAML file the configuration was read from, if any.
	ConfigFile string
}

// CPUShare is the --max-procs of each of nodes nodes run on this machine:
// an equal share of its CPUs, at least one. Go's default lets every node
// run on every CPU; on a machine they share, their runtimes then wake
// idle threads that find nothing to do, and each wake-up is a context
// switch taken from the others.
func CPUShare(nodes int) int {
	return max(1, runtime.NumCPU()/max(nodes, 1))
}

// LeaderMaxProcs is the --leader-max-procs a launcher gives nodes whose
// --max-procs is maxProcs: one CPU more. A node with one CPU keeps it
// while its log syncs (see --max-procs), which spares a follower the
// context switches of a handoff, but a leader with one CPU then serves
// no client, applies nothing and reads no acknowledgement for the
// sync's length. With a second CPU while it leads, that work goes on
// beside the sync, an ordinary system call again. Six alternating
// rounds on fresh 3-node clusters sharing 2 vCPUs (BENCHMARKS.md),
// against one CPU for the leader: SET -c 50 -P 16 at 247-312k/s (mean
// 285k) against 232-288k/s (255k), SET -c 50 at 32-39k/s (36.9k) against
// 31-38k/s (34.2k), GET -c 50 at 63-79k/s (74.8k) against 62-86k/s
// (69.6k); SET -c 1 the same, for a leader's CPU per SET up from 127-149
// to 175-205 us. Two CPUs for every node instead cost the followers
// 7.4-9.2 us of CPU a SET -c 50 against 4.9-5.7.
func LeaderMaxProcs(maxProcs int) int { return maxProcs + 1 }

// NodeEnv is the environment for a node started by a launcher whose own
// environment is environ: environ with NodeVars(environ) added at the end,
// where they win over any earlier setting of the same variable (os/exec
// keeps the last).
func NodeEnv(environ []string) []string {
	return append(environ[:len(environ):len(environ)], NodeVars(environ)...)
}

// NodeVars are the variables a launcher adds to the environment environ
// for its nodes:
//
//   - MALLOC_ARENA_MAX=2 unless environ sets it. In a build with cgo,
//     pebble allocates its block cache and memtables with C's malloc, and
//     glibc's gives threads arenas of their own (up to eight per CPU) that
//     keep what is freed in them: over a million keys (3,000,000 SETs of
//     100-byte values, then 150,000 more) the nodes' peaks were 222-304 MB
//     in two runs with glibc's default and 183-199 MB in two with two
//     arenas. Without cgo (the Docker image) pebble allocates from the Go
//     heap and the variable does nothing.
//   - GODEBUG with SysmonGODEBUG added, unless environ's GODEBUG sets
//     schedtrace (see SysmonGODEBUG).
func NodeVars(environ []string) []string {
	var vars []string
	if _, ok := LookupEnv(environ, "MALLOC_ARENA_MAX"); !ok {
		vars = append(vars, "MALLOC_ARENA_MAX=2")
	}
	switch godebug, _ := LookupEnv(environ, "GODEBUG"); {
	case godebug == "":
		vars = append(vars, "GODEBUG="+SysmonGODEBUG)
	case !godebugSets(godebug, "schedtrace"):
		vars = append(vars, "GODEBUG="+godebug+","+SysmonGODEBUG)
	}
	return vars
}

// LookupEnv is the value the environment environ gives the variable
// name: its last setting, the one os/exec keeps; false if it has none.
func LookupEnv(environ []string, name string) (string, bool) {
	for i := len(environ) - 1; i >= 0; i-- {
		if k, v, _ := strings.Cut(environ[i], "="); k == name {
			return v, true
		}
	}
	return "", false
}

// SysmonGODEBUG is the GODEBUG setting a launcher gives its nodes so that
// Go's system monitor (sysmon) does not check on a node every 20 us each
// time the node wakes up.
//
// sysmon sleeps for good while every processor of the node is idle, and
// the first system call after that wakes it at its shortest period, 20 us,
// which it keeps for 50 checks before it starts to lengthen it. A follower
// idles between appends, so each append woke sysmon, which then woke every
// 20 us through the follower's fdatasync: under SET -c 50 on three nodes
// sharing two vCPUs, sysmon's thread took about a quarter of each
// follower's CPU (its time in /proc, and perf). With a schedule trace
// period set, sysmon never sleeps for good; its period grows to 10 ms as
// it finds nothing to do and stays there, as it already did on a leader
// kept busy by its clients, and an idle node's sysmon wakes every 10 ms.
// The period is Go's largest, 2^31-1 ms (24.8 days): the trace itself, one
// line of scheduler counts on standard error ("SCHED ..."), comes every
// 24.8 days, and at start on a machine up for longer than that. Only the
// environment sets it; GODEBUG schedtrace=0 keeps Go's default.
const SysmonGODEBUG = "schedtrace=2147483647"

// godebugSets reports whether the GODEBUG value godebug has a setting
// named key.
func godebugSets(godebug, key string) bool {
	for _, field := range strings.Split(godebug, ",") {
		if k, _, ok := strings.Cut(field, "="); ok && k == key {
			return true
		}
	}
	return false
}

// Default returns the defaults: a node listening on 127.0.0.1:6380 for
// clients and 127.0.0.1:16380 for peers, with no ID and no peers.
func Default() *Config {
	return &Config{
		RespAddr:               "127.0.0.1:6380",
		PeerAddr:               "127.0.0.1:16380",
		DataDir:                "raftkv-data",
		HeartbeatInterval:      100 * time.Millisecond,
		ElectionTimeout:        time.Second,
		RequestTimeout:         5 * time.Second,
		SnapshotEntries:        10000,
		SnapshotCatchUpEntries: 1000,
		MaxBulkLen:             512 << 20,
		MaxInlineLen:           64 << 10,
		MaxMultibulkLen:        1 << 20,
		MaxQueryBuffer:         1 << 30,
		CacheSize:              48 << 20,
		KeyCacheSize:           32 << 20,
		VerifyOnStart:          true,
		LogLevel:               "info",
		TLSAuthClients:         "yes",
		MaxClients:             10000,
	}
}

// peersValue is the flag.Value of --peers.
type peersValue struct{ peers *[]Peer }

func (v peersValue) String() string {
	if v.peers == nil {
		return ""
	}
	return FormatPeers(*v.peers)
}

func (v peersValue) Set(s string) error {
	ps, err := ParsePeers(s)
	if err != nil {
		return err
	}
	*v.peers = ps
	return nil
}

// flagSet declares every setting on a new FlagSet bound to c.
func flagSet(name string, c *Config) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Uint64Var(&c.ID, "id", c.ID, "this node's ID, a positive integer listed in --peers (required)")
	fs.StringVar(&c.RespAddr, "resp-addr", c.RespAddr, "host:port to serve Redis clients on")
	fs.StringVar(&c.PeerAddr, "peer-addr", c.PeerAddr, "host:port to serve the Raft transport on")
	fs.Var(peersValue{&c.Peers}, "peers", "every member as ID=PEER-ADDR/RESP-ADDR, comma-separated, this node included (required)")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "folder holding this node's data")
	fs.StringVar(&c.Join, "join", c.Join, "RESP host:port of any member: ask the cluster to add this node (a learner until it has caught up, then a voter); --peers then lists the current members")
	fs.DurationVar(&c.HeartbeatInterval, "heartbeat-interval", c.HeartbeatInterval, "time between a leader's heartbeats")
	fs.DurationVar(&c.ElectionTimeout, "election-timeout", c.ElectionTimeout, "time without a leader before a follower stands for election (randomized up to twice this)")
	fs.DurationVar(&c.FirstElectionTimeout, "first-election-timeout", c.FirstElectionTimeout, "election timeout right after start-up; 0 means --election-timeout")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", c.RequestTimeout, "longest a client command waits for replication or a read confirmation, to within a fiftieth: commands starting together share a deadline")
	fs.Uint64Var(&c.SnapshotEntries, "snapshot-entries", c.SnapshotEntries, "applied entries the Raft log holds before it is compacted (a snapshot is taken)")
	fs.Uint64Var(&c.SnapshotCatchUpEntries, "snapshot-catchup-entries", c.SnapshotCatchUpEntries, "applied entries kept after compaction, so that a follower slightly behind catches up from the log")
	fs.Int64Var(&c.MaxBulkLen, "max-bulk-len", c.MaxBulkLen, "largest bulk string a client may send, in bytes (Redis proto-max-bulk-len)")
	fs.IntVar(&c.MaxInlineLen, "max-inline-len", c.MaxInlineLen, "longest inline command line, in bytes")
	fs.IntVar(&c.MaxMultibulkLen, "max-multibulk-len", c.MaxMultibulkLen, "most arguments in one command")
	fs.Int64Var(&c.MaxQueryBuffer, "max-query-buffer", c.MaxQueryBuffer, "most bytes of one unfinished command a client may send before it is disconnected (Redis client-query-buffer-limit)")
	fs.Int64Var(&c.CacheSize, "cache-size", c.CacheSize, "bytes of recently read data blocks kept in memory by the storage engine (at least 1 MiB; its memtables, 12 MiB at most, come on top); reads and the existence checks of writes to keys not in it read the disk")
	fs.IntVar(&c.KeyCacheSize, "key-cache-size", c.KeyCacheSize, "bytes of memory for the states of keys written before (whether each exists, its type, its expiry), which spare the next write to such a key the check of its record in the storage engine (at least 32 MiB; a key takes its length and 5 bytes of it, 14 with an expiry, and 20 to 40 bytes more for the index)")
	fs.BoolVar(&c.VerifyOnStart, "verify-on-start", c.VerifyOnStart, "read every stored byte at start to check its checksum, so that a node with damaged files refuses to start (0.6 s for 512 MiB when the files are in the page cache; a cold disk's read speed sets it)")
	fs.BoolVar(&c.UnsafeNoFsync, "unsafe-no-fsync", c.UnsafeNoFsync, "acknowledge writes without waiting for the disk (fsync): a power loss on a majority can lose acknowledged writes; for tests and benchmarks only")
	fs.IntVar(&c.MaxClients, "maxclients", c.MaxClients, "most client connections served at once; more are refused with -ERR max number of clients reached (Redis maxclients)")
	fs.IntVar(&c.MaxProcs, "max-procs", c.MaxProcs, "most CPUs the node runs Go code on at once (GOMAXPROCS); 0 keeps Go's default: every CPU, or the container's CPU limit. Nodes sharing one machine do better with a share each (raftkv cluster gives each its share). With 1, the node keeps its CPU while its log syncs: nothing else of the node runs then (unless --leader-max-procs gives a leader more), and a stalled disk stops it all")
	fs.IntVar(&c.LeaderMaxProcs, "leader-max-procs", c.LeaderMaxProcs, "most CPUs the node runs Go code on while it is the leader; 0 means --max-procs, which it needs. A leader does the clients' work beside its log's syncs: raftkv cluster gives its nodes one CPU more while they lead")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: trace, debug, info, warn or error")
	fs.BoolVar(&c.LogJSON, "log-json", c.LogJSON, "write logs as JSON lines")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", c.MetricsAddr, "host:port to serve Prometheus metrics on, at /metrics (off when empty)")
	fs.StringVar(&c.PprofAddr, "pprof-addr", c.PprofAddr, "host:port to serve Go's /debug/pprof profiles on (off when empty; keep it on a private address)")
	fs.StringVar(&c.RequirePass, "requirepass", c.RequirePass, "password clients must give with AUTH before other commands, as Redis's requirepass (off when empty); prefer RAFTKV_REQUIREPASS or the config file to keep it out of the process list")
	fs.StringVar(&c.ClusterID, "cluster-id", c.ClusterID, "name of the cluster; peers refuse messages from a node of another cluster (default: recorded at first start, derived then from --peers, or asked of the cluster with --join)")
	fs.StringVar(&c.TLSCertFile, "tls-cert-file", c.TLSCertFile, "certificate (PEM) for TLS on the RESP port; with --tls-key-file, clients must connect with TLS (redis-cli --tls)")
	fs.StringVar(&c.TLSKeyFile, "tls-key-file", c.TLSKeyFile, "private key (PEM) of --tls-cert-file")
	fs.StringVar(&c.TLSCACertFile, "tls-ca-cert-file", c.TLSCACertFile, "CA certificate (PEM) that signs clients' certificates")
	fs.StringVar(&c.TLSAuthClients, "tls-auth-clients", c.TLSAuthClients, "whether RESP clients must present a certificate signed by --tls-ca-cert-file: yes, optional or no")
	fs.StringVar(&c.PeerTLSCertFile, "peer-tls-cert-file", c.PeerTLSCertFile, "certificate (PEM) of this node for mutual TLS between peers, naming the host of its peer address")
	fs.StringVar(&c.PeerTLSKeyFile, "peer-tls-key-file", c.PeerTLSKeyFile, "private key (PEM) of --peer-tls-cert-file")
	fs.StringVar(&c.PeerTLSCACertFile, "peer-tls-ca-cert-file", c.PeerTLSCACertFile, "cluster CA certificate (PEM): a peer whose certificate it did not sign is refused")
	fs.StringVar(&c.ConfigFile, "config", c.ConfigFile, "YAML file of settings, keys named as these flags")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s [flags]\n\nEvery flag may also be set as an environment variable (--resp-addr as %s_RESP_ADDR)\nor as a key of the --config file (resp-addr: ...). Flags win over the environment,\nwhich wins over the file.\n\nFlags:\n", name, EnvPrefix)
		fs.PrintDefaults()
	}
	return fs
}

// Parse reads the configuration from args, the environment and the file
// named by --config (or RAFTKV_CONFIG), then validates it. It returns
// flag.ErrHelp unchanged for -h.
func Parse(name string, args []string) (*Config, error) {
	return parse(name, args, true)
}

// CheckFile reads and validates a config file alone, as `raftkv config
// check` does: no flags, and the environment left out, so that a setting
// missing from the file is not hidden by a variable of this shell.
func CheckFile(path string) (*Config, error) {
	c, err := parse("raftkv config check", []string{"--config", path}, false)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func parse(name string, args []string, env bool) (*Config, error) {
	c := Default()
	fs := flagSet(name, c)
	// The flag package would print the whole usage with every error; one
	// sentence is clearer, and -h still prints it.
	fs.SetOutput(io.Discard)
	opts := []ff.Option{ff.WithConfigFileFlag("config"), ff.WithConfigFileParser(yamlParser(fs))}
	if env {
		opts = append(opts, ff.WithEnvVarPrefix(EnvPrefix))
	}
	err := ff.Parse(fs, args, opts...)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stderr)
			fs.Usage()
			return nil, err
		}
		return nil, fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "error parsing commandline arguments: "))
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// yamlParser reads a YAML mapping whose keys are flag names. peers may be
// a list of {id, peer-addr, resp-addr} mappings or the flag's string form.
func yamlParser(fs *flag.FlagSet) ff.ConfigFileParser {
	return func(r io.Reader, set func(name, value string) error) error {
		var m map[string]any
		if err := yaml.NewDecoder(r).Decode(&m); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("config file is not valid YAML: %w", err)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if k == "config" || fs.Lookup(k) == nil {
				return fmt.Errorf("config file: unknown setting %q", k)
			}
			v, err := yamlValue(k, m[k])
			if err != nil {
				return err
			}
			if err := set(k, v); err != nil {
				return fmt.Errorf("config file: invalid %s %q: %w", k, v, err)
			}
		}
		return nil
	}
}

func yamlValue(key string, v any) (string, error) {
	list, ok := v.([]any)
	if !ok {
		if v == nil {
			return "", nil
		}
		return fmt.Sprint(v), nil
	}
	if key != "peers" {
		return "", fmt.Errorf("config file: %s must be a single value, not a list", key)
	}
	parts := make([]string, 0, len(list))
	for i, item := range list {
		pm, ok := item.(map[string]any)
		if !ok {
			return "", fmt.Errorf("config file: peers[%d] must be a mapping with id, peer-addr and resp-addr", i)
		}
		for k := range pm {
			if k != "id" && k != "peer-addr" && k != "resp-addr" {
				return "", fmt.Errorf("config file: peers[%d]: unknown setting %q", i, k)
			}
		}
		parts = append(parts, fmt.Sprintf("%v=%v/%v", pm["id"], pm["peer-addr"], pm["resp-addr"]))
	}
	return strings.Join(parts, ","), nil
}

// ParsePeers parses the --peers form "1=host:port/host:port,2=...".
func ParsePeers(s string) ([]Peer, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var peers []Peer
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		idStr, addrs, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("peer %q is not ID=PEER-ADDR/RESP-ADDR", item)
		}
		id, err := strconv.ParseUint(strings.TrimSpace(idStr), 10, 64)
		if err != nil || id == 0 {
			return nil, fmt.Errorf("peer %q: ID must be a positive integer", item)
		}
		peerAddr, respAddr, ok := strings.Cut(addrs, "/")
		if !ok {
			return nil, fmt.Errorf("peer %q is not ID=PEER-ADDR/RESP-ADDR", item)
		}
		p := Peer{ID: id, PeerAddr: strings.TrimSpace(peerAddr), RespAddr: strings.TrimSpace(respAddr)}
		if err := checkAddr(p.PeerAddr); err != nil {
			return nil, fmt.Errorf("peer %d: peer address: %w", id, err)
		}
		if err := checkAddr(p.RespAddr); err != nil {
			return nil, fmt.Errorf("peer %d: RESP address: %w", id, err)
		}
		peers = append(peers, p)
	}
	return peers, nil
}

// FormatPeers is the inverse of ParsePeers.
func FormatPeers(peers []Peer) string {
	parts := make([]string, len(peers))
	for i, p := range peers {
		parts[i] = fmt.Sprintf("%d=%s/%s", p.ID, p.PeerAddr, p.RespAddr)
	}
	return strings.Join(parts, ",")
}

func checkAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	_ = host
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q has an invalid port", addr)
	}
	return nil
}

// Validate checks c and returns one sentence naming the first bad setting.
func (c *Config) Validate() error {
	if c.ID == 0 {
		return errors.New("missing --id (or RAFTKV_ID, or id in the config file): every node needs a positive ID")
	}
	if err := checkAddr(c.RespAddr); err != nil {
		return fmt.Errorf("invalid --resp-addr: %w", err)
	}
	if err := checkAddr(c.PeerAddr); err != nil {
		return fmt.Errorf("invalid --peer-addr: %w", err)
	}
	if len(c.Peers) == 0 {
		return errors.New("missing --peers (or RAFTKV_PEERS, or peers in the config file): list every member as ID=PEER-ADDR/RESP-ADDR")
	}
	seen := make(map[uint64]bool)
	self := false
	for _, p := range c.Peers {
		if seen[p.ID] {
			return fmt.Errorf("invalid --peers: ID %d is listed twice", p.ID)
		}
		seen[p.ID] = true
		if p.ID == c.ID {
			self = true
			if p.PeerAddr != c.PeerAddr {
				return fmt.Errorf("invalid --peers: node %d is listed with peer address %s but --peer-addr is %s", p.ID, p.PeerAddr, c.PeerAddr)
			}
		}
	}
	if !self && c.Join == "" {
		return fmt.Errorf("invalid --peers: this node's --id %d is not listed (use --join to add a new node to a cluster)", c.ID)
	}
	if c.Join != "" {
		if err := checkAddr(c.Join); err != nil {
			return fmt.Errorf("invalid --join: %w", err)
		}
		if host, _, _ := net.SplitHostPort(c.RespAddr); !self && (host == "" || net.ParseIP(host) != nil && net.ParseIP(host).IsUnspecified()) {
			return fmt.Errorf("invalid --join: --resp-addr %s is not an address clients can be sent to; list this node in --peers as %d=PEER-ADDR/RESP-ADDR with the addresses others reach it at", c.RespAddr, c.ID)
		}
	}
	if c.DataDir == "" {
		return errors.New("missing --data-dir: every node needs a folder for its data")
	}
	if c.HeartbeatInterval <= 0 {
		return fmt.Errorf("invalid --heartbeat-interval %v: must be positive", c.HeartbeatInterval)
	}
	if c.ElectionTimeout < 2*c.HeartbeatInterval {
		return fmt.Errorf("invalid --election-timeout %v: must be at least twice --heartbeat-interval (%v)", c.ElectionTimeout, 2*c.HeartbeatInterval)
	}
	if c.FirstElectionTimeout != 0 && c.FirstElectionTimeout < c.HeartbeatInterval {
		return fmt.Errorf("invalid --first-election-timeout %v: must be 0 or at least --heartbeat-interval (%v)", c.FirstElectionTimeout, c.HeartbeatInterval)
	}
	if c.RequestTimeout <= 0 {
		return fmt.Errorf("invalid --request-timeout %v: must be positive", c.RequestTimeout)
	}
	if c.SnapshotEntries == 0 {
		return errors.New("invalid --snapshot-entries 0: must be positive")
	}
	if c.SnapshotCatchUpEntries >= c.SnapshotEntries {
		return fmt.Errorf("invalid --snapshot-catchup-entries %d: must be below --snapshot-entries (%d)", c.SnapshotCatchUpEntries, c.SnapshotEntries)
	}
	if c.MaxBulkLen <= 0 {
		return fmt.Errorf("invalid --max-bulk-len %d: must be positive", c.MaxBulkLen)
	}
	if c.MaxInlineLen <= 0 {
		return fmt.Errorf("invalid --max-inline-len %d: must be positive", c.MaxInlineLen)
	}
	if c.MaxMultibulkLen <= 0 {
		return fmt.Errorf("invalid --max-multibulk-len %d: must be positive", c.MaxMultibulkLen)
	}
	if c.MaxQueryBuffer <= 0 {
		return fmt.Errorf("invalid --max-query-buffer %d: must be positive", c.MaxQueryBuffer)
	}
	if c.MaxClients <= 0 {
		return fmt.Errorf("invalid --maxclients %d: must be positive", c.MaxClients)
	}
	if c.MaxProcs < 0 {
		return fmt.Errorf("invalid --max-procs %d: must be positive, or 0 for Go's default", c.MaxProcs)
	}
	if c.LeaderMaxProcs < 0 {
		return fmt.Errorf("invalid --leader-max-procs %d: must be positive, or 0 for --max-procs", c.LeaderMaxProcs)
	}
	if c.LeaderMaxProcs > 0 && c.MaxProcs == 0 {
		return fmt.Errorf("invalid --leader-max-procs %d: it needs --max-procs, the CPUs of the node when it is not the leader", c.LeaderMaxProcs)
	}
	if c.CacheSize < 1<<20 {
		return fmt.Errorf("invalid --cache-size %d: must be at least 1 MiB (1048576)", c.CacheSize)
	}
	if c.KeyCacheSize < 32<<20 {
		return fmt.Errorf("invalid --key-cache-size %d: must be at least 32 MiB (33554432)", c.KeyCacheSize)
	}
	if c.PprofAddr != "" {
		if err := checkAddr(c.PprofAddr); err != nil {
			return fmt.Errorf("invalid --pprof-addr: %w", err)
		}
	}
	if c.MetricsAddr != "" {
		if err := checkAddr(c.MetricsAddr); err != nil {
			return fmt.Errorf("invalid --metrics-addr: %w", err)
		}
	}
	switch c.LogLevel {
	case "trace", "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("invalid --log-level %q: must be trace, debug, info, warn or error", c.LogLevel)
	}
	for _, r := range c.ClusterID {
		if r <= ' ' || r > '~' || r == ',' {
			return fmt.Errorf("invalid --cluster-id %q: use printable ASCII without spaces or commas", c.ClusterID)
		}
	}
	return c.validateTLS()
}

// fileConfig is the YAML form written by WriteFile.
type fileConfig struct {
	ID                   uint64     `yaml:"id"`
	RespAddr             string     `yaml:"resp-addr"`
	PeerAddr             string     `yaml:"peer-addr"`
	Peers                []filePeer `yaml:"peers"`
	DataDir              string     `yaml:"data-dir"`
	Join                 string     `yaml:"join,omitempty"`
	HeartbeatInterval    string     `yaml:"heartbeat-interval"`
	ElectionTimeout      string     `yaml:"election-timeout"`
	FirstElectionTimeout string     `yaml:"first-election-timeout"`
	RequestTimeout       string     `yaml:"request-timeout"`
	SnapshotEntries      uint64     `yaml:"snapshot-entries"`
	SnapshotCatchUp      uint64     `yaml:"snapshot-catchup-entries"`
	MaxBulkLen           int64      `yaml:"max-bulk-len"`
	MaxInlineLen         int        `yaml:"max-inline-len"`
	MaxMultibulkLen      int        `yaml:"max-multibulk-len"`
	MaxQueryBuffer       int64      `yaml:"max-query-buffer"`
	CacheSize            int64      `yaml:"cache-size"`
	KeyCacheSize         int        `yaml:"key-cache-size"`
	VerifyOnStart        bool       `yaml:"verify-on-start"`
	UnsafeNoFsync        bool       `yaml:"unsafe-no-fsync,omitempty"`
	MaxClients           int        `yaml:"maxclients"`
	MaxProcs             int        `yaml:"max-procs,omitempty"`
	LeaderMaxProcs       int        `yaml:"leader-max-procs,omitempty"`
	LogLevel             string     `yaml:"log-level"`
	LogJSON              bool       `yaml:"log-json"`
	PprofAddr            string     `yaml:"pprof-addr,omitempty"`
	MetricsAddr          string     `yaml:"metrics-addr,omitempty"`
	RequirePass          string     `yaml:"requirepass,omitempty"`
	ClusterID            string     `yaml:"cluster-id,omitempty"`
	TLSCertFile          string     `yaml:"tls-cert-file,omitempty"`
	TLSKeyFile           string     `yaml:"tls-key-file,omitempty"`
	TLSCACertFile        string     `yaml:"tls-ca-cert-file,omitempty"`
	TLSAuthClients       string     `yaml:"tls-auth-clients,omitempty"`
	PeerTLSCertFile      string     `yaml:"peer-tls-cert-file,omitempty"`
	PeerTLSKeyFile       string     `yaml:"peer-tls-key-file,omitempty"`
	PeerTLSCACertFile    string     `yaml:"peer-tls-ca-cert-file,omitempty"`
}

type filePeer struct {
	ID       uint64 `yaml:"id"`
	PeerAddr string `yaml:"peer-addr"`
	RespAddr string `yaml:"resp-addr"`
}

// WriteFile writes c as a YAML config file that Parse reads back, replacing
// path atomically.
func WriteFile(path string, c *Config) error {
	fc := fileConfig{
		ID: c.ID, RespAddr: c.RespAddr, PeerAddr: c.PeerAddr, DataDir: c.DataDir, Join: c.Join,
		HeartbeatInterval: c.HeartbeatInterval.String(), ElectionTimeout: c.ElectionTimeout.String(),
		FirstElectionTimeout: c.FirstElectionTimeout.String(), RequestTimeout: c.RequestTimeout.String(),
		SnapshotEntries: c.SnapshotEntries, SnapshotCatchUp: c.SnapshotCatchUpEntries,
		MaxBulkLen: c.MaxBulkLen, MaxInlineLen: c.MaxInlineLen, MaxMultibulkLen: c.MaxMultibulkLen,
		MaxQueryBuffer: c.MaxQueryBuffer, CacheSize: c.CacheSize, KeyCacheSize: c.KeyCacheSize, VerifyOnStart: c.VerifyOnStart, UnsafeNoFsync: c.UnsafeNoFsync, MaxClients: c.MaxClients, MaxProcs: c.MaxProcs, LeaderMaxProcs: c.LeaderMaxProcs, LogLevel: c.LogLevel, LogJSON: c.LogJSON, PprofAddr: c.PprofAddr, MetricsAddr: c.MetricsAddr,
		RequirePass: c.RequirePass, ClusterID: c.ClusterID,
		TLSCertFile: c.TLSCertFile, TLSKeyFile: c.TLSKeyFile, TLSCACertFile: c.TLSCACertFile, TLSAuthClients: c.TLSAuthClients,
		PeerTLSCertFile: c.PeerTLSCertFile, PeerTLSKeyFile: c.PeerTLSKeyFile, PeerTLSCACertFile: c.PeerTLSCACertFile,
	}
	for _, p := range c.Peers {
		fc.Peers = append(fc.Peers, filePeer(p))
	}
	var buf bytes.Buffer
	buf.WriteString("# raftkv node configuration; every key is also a flag (--key) and\n# an environment variable (RAFTKV_KEY). Start with: raftkv server --config <this file>\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(fc); err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".raftkv-conf-*")
	if err != nil {
		return fmt.Errorf("write config %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("write config %s: %w", path, err)
	}
	mode := os.FileMode(0o644)
	if c.RequirePass != "" {
		mode = 0o600 // it holds the clients' password
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write config %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write config %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write config %s: %w", path, err)
	}
	return nil
}
