package resp

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/tidwall/redcon"

	"github.com/raftkv/raftkv/fsm"
	"github.com/raftkv/raftkv/raft"
)

// Config configures a Server.
type Config struct {
	// Addr is the host:port to serve clients on.
	Addr    string
	Backend Backend
	Logger  hclog.Logger
	// MaxBulkLen is the largest bulk string accepted (Redis's
	// proto-max-bulk-len). Default 512 MiB.
	MaxBulkLen int64
	// MaxInlineLen is the longest inline command line. Default 64 KiB.
	MaxInlineLen int
	// MaxMultibulkLen is the most arguments in one command. Default 1048576.
	MaxMultibulkLen int
	// MaxQueryBuffer bounds the bytes of one unfinished command; a client
	// beyond it is disconnected, as Redis does past
	// client-query-buffer-limit. Default 1 GiB.
	MaxQueryBuffer int64
	// RequestTimeout bounds one replication or read confirmation, to
	// within a fiftieth of it (at most 100 ms less). Default 5s.
	RequestTimeout time.Duration
	// LeaderWait is how long a command waits for a leader to be known
	// before it is answered -CLUSTERDOWN. Default 2s.
	LeaderWait time.Duration
	// MaxClients bounds the connections served at once; 0 means no bound.
	MaxClients int
	// Version is raftkv's version, and Commit the commit it was built
	// from (empty when unknown), reported by INFO.
	Version string
	Commit  string
	// ClusterID is the cluster's name, reported by INFO and RAFT.INFO.
	ClusterID string
	// TLS, when set, makes the port speak TLS only.
	TLS *tls.Config
	// ConfigFile is reported by INFO as config_file.
	ConfigFile string
	// RequirePass, when set, is the password of the default user: a
	// client must AUTH (or HELLO ... AUTH) before other commands.
	RequirePass string
}

// Server serves the Redis protocol for one node.
type Server struct {
	cfg     Config
	backend Backend
	logger  hclog.Logger
	runID   string
	started time.Time

	ln      net.Listener
	done    chan struct{}
	closeMu sync.Once

	clients  atomic.Int64
	stats    *stats
	clientID atomic.Int64
	// inflight counts commands being served, so that Close can let them
	// finish.
	inflight atomic.Int64
	// cursors are the resume points of SCAN and its kin.
	cursors cursorTable
	// conns are the connected clients, by ID.
	connsMu sync.Mutex
	conns   map[int64]*client
	// deadlines bound what commands wait for (RequestTimeout).
	deadlines *deadlines
}

// New checks cfg and fills its defaults.
func New(cfg Config) (*Server, error) {
	if cfg.Backend == nil {
		return nil, errors.New("resp: Backend is required")
	}
	if cfg.Addr == "" {
		return nil, errors.New("resp: Addr is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.MaxBulkLen <= 0 {
		cfg.MaxBulkLen = 512 << 20
	}
	if cfg.MaxInlineLen <= 0 {
		cfg.MaxInlineLen = 64 << 10
	}
	if cfg.MaxMultibulkLen <= 0 {
		cfg.MaxMultibulkLen = 1 << 20
	}
	if cfg.MaxQueryBuffer <= 0 {
		cfg.MaxQueryBuffer = 1 << 30
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 5 * time.Second
	}
	if cfg.LeaderWait <= 0 {
		cfg.LeaderWait = 2 * time.Second
	}
	id := make([]byte, 20)
	rand.Read(id)
	return &Server{
		cfg:       cfg,
		backend:   cfg.Backend,
		logger:    cfg.Logger,
		runID:     hex.EncodeToString(id),
		stats:     newStats(),
		done:      make(chan struct{}),
		deadlines: newDeadlines(cfg.RequestTimeout),
	}, nil
}

// Start listens on Addr and serves clients in the background.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return err
	}
	if s.cfg.TLS != nil {
		ln = tls.NewListener(ln, s.cfg.TLS)
	}
	s.ln = &limitedListener{Listener: ln, lim: limits{
		maxBulk:      s.cfg.MaxBulkLen,
		maxInline:    s.cfg.MaxInlineLen,
		maxMultibulk: s.cfg.MaxMultibulkLen,
		maxQuery:     s.cfg.MaxQueryBuffer,
	}, logger: s.logger}
	s.started = time.Now()
	go func() {
		defer close(s.done)
		err := redcon.Serve(s.ln, s.serve, s.accept, s.closed)
		if err != nil {
			s.logger.Error("client listener stopped", "error", err)
		}
	}()
	return nil
}

// Addr returns the address clients connect to.
func (s *Server) Addr() string {
	if s.ln == nil {
		return s.cfg.Addr
	}
	return s.ln.Addr().String()
}

// drainWait bounds how long Close waits for commands in progress.
const drainWait = 2 * time.Second

// Close stops accepting clients and closes every connection, after
// letting commands in progress finish (for at most drainWait): a write
// being replicated gets its answer rather than a closed connection.
func (s *Server) Close() error {
	s.closeMu.Do(func() {
		deadline := time.Now().Add(drainWait)
		for s.inflight.Load() > 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if s.ln != nil {
			s.ln.Close()
			<-s.done
		}
	})
	return nil
}

type limitedListener struct {
	net.Listener
	lim    limits
	logger hclog.Logger
}

func (l *limitedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &limitedConn{Conn: c, lim: l.lim, logger: l.logger}, nil
}

// client is the per-connection state. Fields under mu are also read by
// other connections (CLIENT LIST, KILL): the connection's goroutine
// writes them holding mu. The others are its own.
type client struct {
	id      int64
	conn    redcon.Conn
	out     *errConn // conn, counting error replies
	created time.Time

	mu      sync.Mutex
	name    string
	lib     string
	ver     string
	lastCmd string
	lastAt  time.Time

	// tx is the open MULTI, if any; watched the keys WATCH read.
	tx      *txState
	watched []fsm.Watched
	// proto is the protocol version HELLO chose: 2 or 3.
	proto int
	// authed says the client may run commands: it authenticated, or no
	// password is required.
	authed bool

	// run, buf, encs, idxs, ents and firsts keep their arrays from one
	// pipelined run of writes to the next (serveRun), used by the
	// connection's goroutine alone.
	run    []redcon.Command
	buf    []byte
	encs   [][]byte
	idxs   []int
	ents   [][]byte
	firsts []int
}

func (s *Server) accept(conn redcon.Conn) bool {
	if max := s.cfg.MaxClients; max > 0 && s.clients.Load() >= int64(max) {
		// As Redis: the client reads the reason, then the connection
		// closes (redcon closes it when accept says no).
		conn.NetConn().SetWriteDeadline(time.Now().Add(time.Second))
		io.WriteString(conn.NetConn(), "-ERR max number of clients reached\r\n")
		s.logger.Debug("client refused: max number of clients reached", "addr", conn.RemoteAddr())
		return false
	}
	s.clients.Add(1)
	now := time.Now()
	s.stats.connections.Add(1)
	cl := &client{id: s.clientID.Add(1), conn: conn, out: &errConn{Conn: conn}, created: now, lastAt: now, proto: 2, authed: s.cfg.RequirePass == ""}
	conn.SetContext(cl)
	s.connsMu.Lock()
	if s.conns == nil {
		s.conns = make(map[int64]*client)
	}
	s.conns[cl.id] = cl
	s.connsMu.Unlock()
	s.logger.Debug("client connected", "addr", conn.RemoteAddr())
	return true
}

func (s *Server) closed(conn redcon.Conn, err error) {
	s.clients.Add(-1)
	if cl, ok := conn.Context().(*client); ok {
		s.connsMu.Lock()
		delete(s.conns, cl.id)
		s.connsMu.Unlock()
	}
	s.logger.Debug("client disconnected", "addr", conn.RemoteAddr(), "error", err)
}

// serve runs one command.
func (s *Server) serve(conn redcon.Conn, cmd redcon.Command) {
	s.inflight.Add(1)
	defer s.inflight.Add(-1)
	defer func() {
		if p := recover(); p != nil {
			s.logger.Error("command panicked", "command", string(cmd.Args[0]), "panic", p)
			conn.WriteError("ERR internal error")
		}
	}()
	start := time.Now()
	cl := conn.Context().(*client)
	if cl.tx == nil && s.serveRun(cl.out, cmd, start) {
		return
	}
	s.dispatchTimed(cl.out, cmd, start)
}

// dispatchTimed dispatches cmd and counts it in the server's figures.
func (s *Server) dispatchTimed(conn *errConn, cmd redcon.Command, start time.Time) {
	before := conn.errors.Load()
	idx := s.dispatch(conn, cmd)
	s.stats.record(idx, time.Since(start), conn.errors.Load() != before)
}

// dispatch runs one command through the command table, and returns the
// command's idx (-1 if it is not in the table).
func (s *Server) dispatch(conn redcon.Conn, cmd redcon.Command) int {
	c := lookupCommand(cmd.Args[0])
	name, idx := "", -1
	if c != nil {
		name, idx = c.name, c.idx
	} else {
		name = strings.ToLower(string(cmd.Args[0]))
	}
	cl := conn.Context().(*client)
	cl.mu.Lock()
	cl.lastCmd, cl.lastAt = name, time.Now()
	cl.mu.Unlock()
	if !cl.authed && name != "auth" && name != "hello" && name != "quit" {
		conn.WriteError("NOAUTH Authentication required.")
		if cl.tx != nil {
			cl.tx.failed = true
		}
		return idx
	}
	if cl.tx != nil && !txControl[name] {
		s.queue(conn, cl, name, cmd.Args)
		return idx
	}
	if c == nil {
		conn.WriteError(unknownCommand(cmd.Args))
		return -1
	}
	if !c.arityOK(len(cmd.Args)) {
		if c.name == "exec" {
			// Redis discards the transaction, and says so.
			cl.tx, cl.watched = nil, nil
			conn.WriteError("EXECABORT Transaction discarded because of: " + strings.TrimPrefix(wrongArity(c.name), "ERR "))
			return c.idx
		}
		conn.WriteError(wrongArity(c.name))
		return c.idx
	}
	c.run(&call{s: s, conn: conn, args: cmd.Args, cl: cl})
	return c.idx
}

// wrongArity is Redis's error for a command given the wrong number of
// arguments.
func wrongArity(name string) string {
	return fmt.Sprintf("ERR wrong number of arguments for '%s' command", name)
}

// unknownCommand is Redis's reply to an unknown command: the name and the
// first arguments, quoted, within about 128 bytes, newlines blanked.
func unknownCommand(args [][]byte) string {
	var b strings.Builder
	for _, a := range args[1:] {
		if b.Len() >= 128 {
			break
		}
		a = a[:min(len(a), 128-b.Len())]
		fmt.Fprintf(&b, "'%s' ", a)
	}
	name := args[0][:min(len(args[0]), 128)]
	msg := fmt.Sprintf("ERR unknown command '%s', with args beginning with: %s", name, b.String())
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(msg)
}

// call is one command being served.
type call struct {
	s    *Server
	conn redcon.Conn
	args [][]byte
	cl   *client
	// nowMS is the command's time, read once (see now).
	nowMS int64
	// tx is set when the command runs as a write of EXEC: write hands
	// its encoding to EXEC instead of proposing it.
	tx *txCmd
	// txr is set when the command runs as a read of EXEC, from the apply
	// loop: it reads the batch being applied, with no barrier.
	txr fsm.Reader
}

// now is the time the command runs at, in Unix milliseconds: this node's
// clock, but never behind the state machine's (a new leader whose clock
// is slow must not bring back keys its predecessor saw expire). Reads
// judge expiry at it; writes carry it in their log entry, where it is
// apply's time.
func (c *call) now() int64 {
	if c.nowMS == 0 {
		c.nowMS = max(time.Now().UnixMilli(), c.s.backend.Clock())
	}
	return c.nowMS
}

func (c *call) ok() { c.conn.WriteString("OK") }

func (c *call) syntaxError() { c.conn.WriteError("ERR syntax error") }

// route decides whether this node may serve a data command on key. It
// answers the client itself (MOVED or CLUSTERDOWN) and returns false when
// it may not. With no known leader it waits up to LeaderWait for one.
func (c *call) route(key []byte) bool {
	st := c.s.backend.Status()
	if st.Leader == None {
		deadline := time.Now().Add(c.s.cfg.LeaderWait)
		for st.Leader == None && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
			st = c.s.backend.Status()
		}
	}
	switch {
	case st.Leader == st.ID:
		return true
	case st.Leader == None:
		c.conn.WriteError("CLUSTERDOWN The cluster is down: no Raft leader is elected")
		return false
	}
	if addr := memberAddr(st, st.Leader); addr != "" {
		slot := 0
		if key != nil {
			slot = Slot(key)
		}
		c.conn.WriteError(fmt.Sprintf("MOVED %d %s", slot, addr))
	} else {
		c.conn.WriteError("CLUSTERDOWN The cluster is down: the leader's address is unknown")
	}
	return false
}

// None is the zero node ID: no leader known.
const None = 0

func memberAddr(st Status, id uint64) string {
	for _, m := range st.Members {
		if m.ID == id {
			return m.RespAddr
		}
	}
	return ""
}

// ctx bounds what the command waits for by RequestTimeout. The context is
// shared with the commands that started about the same time, so it is
// never cancelled early: it ends at its deadline.
func (c *call) ctx() context.Context {
	return c.s.deadlines.get(time.Now())
}

// backendError answers err, from Propose (write) or ReadBarrier (read).
// Every mapping from a Go error to a reply happens here.
func (c *call) backendError(key []byte, err error, write bool) {
	switch {
	case errors.Is(err, raft.ErrNotLeader):
		// Leadership moved since route looked: redirect to where it is now.
		c.route(key)
	case errors.Is(err, raft.ErrProposalDropped):
		c.conn.WriteError("TRYAGAIN the command was not replicated; it is safe to retry")
	case errors.Is(err, raft.ErrTransferring):
		c.conn.WriteError("TRYAGAIN leadership is being handed to another node; retry shortly")
	case errors.Is(err, raft.ErrStopped):
		c.conn.WriteError("ERR server is shutting down")
	case write && (errors.Is(err, raft.ErrLeadershipLost) || errors.Is(err, context.DeadlineExceeded)):
		// Not TRYAGAIN: the write may still commit, and a retry could
		// apply it twice.
		c.conn.WriteError("ERR the write's outcome is unknown: leadership changed or replication timed out before it was confirmed; it may or may not have been applied")
	case errors.Is(err, raft.ErrLeadershipLost) || errors.Is(err, context.DeadlineExceeded):
		c.conn.WriteError("TRYAGAIN the read could not be confirmed by a quorum in time")
	default:
		c.s.logger.Error("command failed", "command", string(c.args[0]), "error", err)
		c.conn.WriteError("ERR " + err.Error())
	}
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}
