package resp

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/raftkv/raftkv/engine"
	"github.com/raftkv/raftkv/fsm"
	"github.com/raftkv/raftkv/raft"
)

// fakeBackend is a map-backed Backend whose status and errors a test sets.
type fakeBackend struct {
	mu         sync.Mutex
	data       map[string][]byte
	st         Status
	proposeErr error
	readErr    error
	proposals  int
	transfers  int
	// batches are the entries of each ProposeMany; writes are the writes
	// of each entry proposed.
	batches []int
	writes  []int
	// hang makes proposals and read barriers wait for their context.
	hang bool
}

// waitIfHung waits for ctx when f hangs.
func (f *fakeBackend) waitIfHung(ctx context.Context) error {
	f.mu.Lock()
	hang := f.hang
	f.mu.Unlock()
	if !hang {
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}

func newFake() *fakeBackend {
	return &fakeBackend{
		data: map[string][]byte{},
		st: Status{ID: 1, Leader: 1, Term: 3, Role: "leader", Members: []Member{
			{ID: 1, RespAddr: "127.0.0.1:7001", PeerAddr: "127.0.0.1:17001"},
			{ID: 2, RespAddr: "127.0.0.1:7002", PeerAddr: "127.0.0.1:17002"},
			{ID: 3, RespAddr: "127.0.0.1:7003", PeerAddr: "127.0.0.1:17003"},
		}},
	}
}

func (f *fakeBackend) Propose(ctx context.Context, b []byte) (any, error) {
	if err := f.waitIfHung(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.proposals++
	if f.proposeErr != nil {
		return nil, f.proposeErr
	}
	cmd, err := fsm.Decode(b)
	if err != nil {
		return nil, err
	}
	if cmd.Op != fsm.OpMulti {
		f.writes = append(f.writes, 1)
		return f.apply(cmd)
	}
	// Writes packed into one entry (fsm.EncodeWrites): nonce, no watched
	// keys, then each write.
	if len(cmd.Args) < 2 || string(cmd.Args[1]) != "\x00\x00\x00\x00\x00\x00\x00\x00" {
		return nil, fmt.Errorf("the fake takes packed writes only: %q", b)
	}
	var r fsm.Result
	for _, w := range cmd.Args[2:] {
		sub, err := fsm.Decode(w[1:])
		if err != nil || w[0] != fsm.TxWrite || sub.Now != 0 {
			return nil, fmt.Errorf("packed write %q: %v", w, err)
		}
		v, _ := f.apply(sub)
		r.Multi = append(r.Multi, result(v))
	}
	f.writes = append(f.writes, len(cmd.Args)-2)
	return r, nil
}

// apply applies one write to the fake's data.
func (f *fakeBackend) apply(cmd fsm.Command) (any, error) {
	switch cmd.Op {
	case fsm.OpSet:
		f.data[string(cmd.Args[0])] = append([]byte(nil), cmd.Args[1]...)
	case fsm.OpAppend:
		if string(cmd.Args[0]) == "wrongtype" {
			return fsm.Result{Err: fsm.ErrWrongType}, nil
		}
		v := append(f.data[string(cmd.Args[0])], cmd.Args[1]...)
		f.data[string(cmd.Args[0])] = v
		return fsm.Result{Int: int64(len(v))}, nil
	case fsm.OpSetIf:
		old, found := f.data[string(cmd.Args[0])]
		r, flags := fsm.Result{Found: found, Old: old}, cmd.Args[2][0]
		if (flags&fsm.SetNX != 0 && found) || (flags&fsm.SetXX != 0 && !found) {
			return r, nil
		}
		f.data[string(cmd.Args[0])] = append([]byte(nil), cmd.Args[1]...)
		r.Int = 1
		return r, nil
	case fsm.OpIncrBy:
		k := string(cmd.Args[0])
		if k == "wrongtype" {
			return fsm.Result{Err: fsm.ErrWrongType}, nil
		}
		var n int64
		if v, found := f.data[k]; found {
			var ok bool
			if n, ok = fsm.ParseInt(v); !ok {
				return fsm.Result{Err: fsm.ErrNotInteger}, nil
			}
		}
		n += int64(binary.BigEndian.Uint64(cmd.Args[1]))
		f.data[k] = strconv.AppendInt(nil, n, 10)
		return fsm.Result{Int: n}, nil
	case fsm.OpDel:
		n := 0
		for _, k := range cmd.Args {
			if _, ok := f.data[string(k)]; ok {
				delete(f.data, string(k))
				n++
			}
		}
		return fsm.Result{Int: int64(n)}, nil
	}
	return fsm.Result{}, nil
}

func (f *fakeBackend) ProposeMany(ctx context.Context, cmds [][]byte) ([]any, []error) {
	vals, errs := make([]any, len(cmds)), make([]error, len(cmds))
	f.mu.Lock()
	f.batches = append(f.batches, len(cmds))
	f.mu.Unlock()
	for i, c := range cmds {
		vals[i], errs[i] = f.Propose(ctx, c)
	}
	return vals, errs
}

func (f *fakeBackend) ReadBarrier(ctx context.Context) error {
	if err := f.waitIfHung(ctx); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.readErr
}

func (f *fakeBackend) Digest() ([20]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.data) == 0 {
		return [20]byte{}, nil
	}
	return [20]byte{byte(len(f.data))}, nil
}

func (f *fakeBackend) Key(key []byte) (engine.Record, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.data[string(key)]
	return engine.Record{Type: engine.TypeString, Value: v}, ok, nil
}

func (f *fakeBackend) Clock() int64 { return 0 }

func (f *fakeBackend) OnTxReads(uint64, fsm.TxReader) func() { return func() {} }

// View reads the fake's strings; it holds no other type.
func (f *fakeBackend) View() (View, error) { return fakeView{f}, nil }

type fakeView struct{ f *fakeBackend }

func (v fakeView) Key(key []byte) (engine.Record, bool, error) { return v.f.Key(key) }
func (v fakeView) Elem(engine.Type, []byte, []byte) ([]byte, bool, error) {
	return nil, false, errors.New("the fake backend holds strings only")
}
func (v fakeView) Elems(engine.Type, []byte, []byte, []byte, func(_, _ []byte) error) error {
	return errors.New("the fake backend holds strings only")
}
func (v fakeView) ElemsRev(engine.Type, []byte, []byte, []byte, func(_, _ []byte) error) error {
	return errors.New("the fake backend holds strings only")
}
func (v fakeView) KeyCount() uint64 { return v.f.Status().Keys }
func (v fakeView) Keys([]byte, func([]byte, engine.Record) error) error {
	return errors.New("the fake backend does not list keys")
}
func (v fakeView) Close() error { return nil }

func (f *fakeBackend) Expired(key []byte) {}

func (f *fakeBackend) Status() Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.st
	st.Keys = uint64(len(f.data))
	return st
}

func (f *fakeBackend) Progress(ctx context.Context) (map[uint64]uint64, error) {
	return map[uint64]uint64{1: 10, 2: 9, 3: 10}, nil
}

func (f *fakeBackend) TransferLeadership(ctx context.Context, to uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if to == 0 {
		to = 2
	}
	f.st.Leader = to
	f.transfers++
	return nil
}

func (f *fakeBackend) SnapshotInfo() SnapshotInfo {
	return SnapshotInfo{Index: 7, Term: 2, Size: 4096, LogEntries: 3}
}

func (f *fakeBackend) Snapshot(ctx context.Context) (uint64, error) { return 10, nil }

func (f *fakeBackend) Backup(ctx context.Context) (io.ReadCloser, int64, error) {
	data := "RKVSNAP2 fake backup"
	return io.NopCloser(strings.NewReader(data)), int64(len(data)), nil
}

func (f *fakeBackend) AddNode(ctx context.Context, id uint64, peerAddr, respAddr string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st.Members = append(f.st.Members, Member{ID: id, PeerAddr: peerAddr, RespAddr: respAddr})
	return nil
}

func (f *fakeBackend) RemoveNode(ctx context.Context, id uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id == 9 {
		return raft.ErrConfChangePending
	}
	f.st.Members = slices.DeleteFunc(f.st.Members, func(m Member) bool { return m.ID == id })
	return nil
}

func (f *fakeBackend) set(fn func(f *fakeBackend)) {
	f.mu.Lock()
	fn(f)
	f.mu.Unlock()
}

func startServer(t testing.TB, f *fakeBackend) (*Server, *redis.Client) {
	t.Helper()
	s, err := New(Config{Addr: "127.0.0.1:0", Backend: f, LeaderWait: 300 * time.Millisecond, RequestTimeout: time.Second, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	cl := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, Protocol: 2})
	t.Cleanup(func() { cl.Close() })
	return s, cl
}

// raw sends one command as RESP and returns the first reply line.
func raw(t *testing.T, addr string, args ...string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var b strings.Builder
	b.WriteString("*" + itoa(len(args)) + "\r\n")
	for _, a := range args {
		b.WriteString("$" + itoa(len(a)) + "\r\n" + a + "\r\n")
	}
	c.Write([]byte(b.String()))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	return line
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestDataCommands(t *testing.T) {
	_, cl := startServer(t, newFake())
	ctx := context.Background()
	if err := cl.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := cl.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("get: %q %v", v, err)
	}
	if n, err := cl.Append(ctx, "k", "xy").Result(); err != nil || n != 3 {
		t.Fatalf("append: %d %v", n, err)
	}
	if n, err := cl.Exists(ctx, "k", "k", "nope").Result(); err != nil || n != 2 {
		t.Fatalf("exists: %d %v", n, err)
	}
	if n, err := cl.Del(ctx, "k", "nope").Result(); err != nil || n != 1 {
		t.Fatalf("del: %d %v", n, err)
	}
	if err := cl.Get(ctx, "k").Err(); err != redis.Nil {
		t.Fatalf("get after del: %v", err)
	}
}

func TestConditionalSet(t *testing.T) {
	_, cl := startServer(t, newFake())
	ctx := context.Background()
	for _, tc := range []struct {
		args []any
		want any // "OK", a value, an integer, or nil for a nil reply
	}{
		{[]any{"SET", "c", "1", "XX"}, nil},
		{[]any{"SET", "c", "1", "nx"}, "OK"},
		{[]any{"SET", "c", "2", "NX"}, nil},
		{[]any{"SET", "c", "2", "NX", "GET"}, "1"},
		{[]any{"SET", "c", "3", "XX", "KEEPTTL"}, "OK"},
		{[]any{"SET", "c", "4", "GET"}, "3"},
		{[]any{"SET", "d", "5", "GET"}, nil},
		{[]any{"GETSET", "d", "6"}, "5"},
		{[]any{"GETSET", "e", "7"}, nil},
		{[]any{"SETNX", "e", "8"}, int64(0)},
		{[]any{"SETNX", "f", "9"}, int64(1)},
		{[]any{"GET", "c"}, "4"},
		{[]any{"GET", "e"}, "7"},
	} {
		got, err := cl.Do(ctx, tc.args...).Result()
		if err == redis.Nil {
			got, err = nil, nil
		}
		if err != nil || got != tc.want {
			t.Errorf("%v: got %#v, %v; want %#v", tc.args, got, err, tc.want)
		}
	}
}

func TestExactReplies(t *testing.T) {
	s, _ := startServer(t, newFake())
	a := s.Addr()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"GET"}, "-ERR wrong number of arguments for 'get' command\r\n"},
		{[]string{"NOPE", "a", "b"}, "-ERR unknown command 'NOPE', with args beginning with: 'a' 'b' \r\n"},
		{[]string{"SET", "k", "v", "EX"}, "-ERR syntax error\r\n"},
		{[]string{"SET", "k", "v", "EX", "0"}, "-ERR invalid expire time in 'set' command\r\n"},
		{[]string{"SET", "k", "v", "KEEPTTL", "EX", "1"}, "-ERR syntax error\r\n"},
		{[]string{"SET", "k", "v", "NX", "XX"}, "-ERR syntax error\r\n"},
		{[]string{"SET", "k", "v", "NX", "BOGUS"}, "-ERR syntax error\r\n"},
		{[]string{"GETSET", "k"}, "-ERR wrong number of arguments for 'getset' command\r\n"},
		{[]string{"SETNX", "k", "v", "x"}, "-ERR wrong number of arguments for 'setnx' command\r\n"},
		{[]string{"DEBUG", "DIGEST"}, "+0000000000000000000000000000000000000000\r\n"},
		{[]string{"DEBUG", "SLEEP", "0"}, "-ERR unknown subcommand 'SLEEP'. Try DEBUG HELP.\r\n"},
		{[]string{"SELECT", "0"}, "+OK\r\n"},
		{[]string{"SELECT", "1"}, "-ERR DB index is out of range\r\n"},
		{[]string{"SELECT", "x"}, "-ERR value is not an integer or out of range\r\n"},
		{[]string{"HELLO", "4"}, "-NOPROTO unsupported protocol version\r\n"},
		{[]string{"HELLO", "2"}, "*14\r\n"},
		{[]string{"PING"}, "+PONG\r\n"},
		{[]string{"ECHO", "hi"}, "$2\r\n"},
		{[]string{"CLUSTER", "NOPE"}, "-ERR unknown subcommand 'NOPE'. Try CLUSTER HELP.\r\n"},
		{[]string{"CLUSTER", "KEYSLOT", "k"}, ":7629\r\n"},
		{[]string{"CLUSTER", "MYID"}, "$40\r\n"},
		{[]string{"CLIENT", "SETNAME", "a b"}, "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"},
		{[]string{"COMMAND", "COUNT"}, ":" + itoa(len(commands)) + "\r\n"},
		{[]string{"CONFIG", "GET", "nothing"}, "*0\r\n"},
		{[]string{"CONFIG", "GET", "save"}, "*2\r\n"},
	} {
		if got := raw(t, a, tc.args...); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestFollowerRedirects(t *testing.T) {
	f := newFake()
	f.st.ID, f.st.Role = 2, "follower"
	s, _ := startServer(t, f)
	for _, args := range [][]string{{"SET", "k", "v"}, {"GET", "k"}, {"APPEND", "k", "x"}, {"DEL", "k"}, {"EXISTS", "k"}} {
		if got := raw(t, s.Addr(), args...); got != "-MOVED 7629 127.0.0.1:7001\r\n" {
			t.Errorf("%q on a follower: %q", args, got)
		}
	}
	if f.proposals != 0 {
		t.Fatalf("a follower proposed %d commands", f.proposals)
	}
	// Connection commands are answered by any node.
	if got := raw(t, s.Addr(), "CLIENT", "ID"); !strings.HasPrefix(got, ":") {
		t.Errorf("CLIENT ID on a follower: %q", got)
	}
}

func TestNoLeaderIsBounded(t *testing.T) {
	f := newFake()
	f.st.ID, f.st.Leader, f.st.Role = 2, 0, "candidate"
	s, _ := startServer(t, f)
	start := time.Now()
	got := raw(t, s.Addr(), "GET", "k")
	if !strings.HasPrefix(got, "-CLUSTERDOWN ") {
		t.Fatalf("no leader: %q", got)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 3*time.Second {
		t.Fatalf("answered after %v; LeaderWait is 300ms", d)
	}
	// A leader elected while waiting is used.
	go func() {
		time.Sleep(100 * time.Millisecond)
		f.set(func(f *fakeBackend) { f.st.Leader = 3 })
	}()
	if got := raw(t, s.Addr(), "GET", "k"); got != "-MOVED 7629 127.0.0.1:7003\r\n" {
		t.Fatalf("leader elected while waiting: %q", got)
	}
}

// TestRequestTimeout: a write or read that the cluster does not confirm
// is answered once RequestTimeout (1 s here) has passed, give or take the
// fiftieth by which commands share deadlines.
func TestRequestTimeout(t *testing.T) {
	f := newFake()
	s, _ := startServer(t, f)
	f.set(func(f *fakeBackend) { f.hang = true })
	for _, tc := range []struct {
		args   []string
		prefix string
	}{
		{[]string{"SET", "k", "v"}, "-ERR the write's outcome is unknown"},
		{[]string{"GET", "k"}, "-TRYAGAIN "},
	} {
		start := time.Now()
		got := raw(t, s.Addr(), tc.args...)
		took := time.Since(start)
		if !strings.HasPrefix(got, tc.prefix) {
			t.Errorf("%q: %q, want prefix %q", tc.args, got, tc.prefix)
		}
		if took < 980*time.Millisecond {
			t.Errorf("%q answered after %v, before the 1 s request timeout", tc.args, took)
		}
	}
}

func TestErrorMapping(t *testing.T) {
	f := newFake()
	s, _ := startServer(t, f)
	for _, tc := range []struct {
		proposeErr, readErr error
		args                []string
		prefix              string
	}{
		{raft.ErrProposalDropped, nil, []string{"SET", "k", "v"}, "-TRYAGAIN "},
		{raft.ErrLeadershipLost, nil, []string{"SET", "k", "v"}, "-ERR the write's outcome is unknown"},
		{context.DeadlineExceeded, nil, []string{"APPEND", "k", "v"}, "-ERR the write's outcome is unknown"},
		{raft.ErrStopped, nil, []string{"SET", "k", "v"}, "-ERR server is shutting down"},
		{nil, raft.ErrLeadershipLost, []string{"GET", "k"}, "-TRYAGAIN "},
		{nil, context.DeadlineExceeded, []string{"GET", "k"}, "-TRYAGAIN "},
		{errors.New("disk on fire"), nil, []string{"SET", "k", "v"}, "-ERR disk on fire"},
		{fsm.ErrCorrupt, nil, []string{"DEL", "k"}, "-ERR fsm: corrupt command"},
	} {
		f.set(func(f *fakeBackend) { f.proposeErr, f.readErr = tc.proposeErr, tc.readErr })
		if got := raw(t, s.Addr(), tc.args...); !strings.HasPrefix(got, tc.prefix) {
			t.Errorf("%v/%v on %q: %q, want prefix %q", tc.proposeErr, tc.readErr, tc.args, got, tc.prefix)
		}
	}
	// Leadership moved during the proposal: redirect to the new leader.
	f.set(func(f *fakeBackend) {
		f.proposeErr, f.readErr = raft.ErrNotLeader, nil
		f.st.Leader = 3
	})
	// route sees leader 3 first, so this is a plain redirect.
	if got := raw(t, s.Addr(), "SET", "k", "v"); got != "-MOVED 7629 127.0.0.1:7003\r\n" {
		t.Errorf("not leader: %q", got)
	}
}

func TestInfoAndCluster(t *testing.T) {
	_, cl := startServer(t, newFake())
	ctx := context.Background()
	cl.Set(ctx, "a", "1", 0)
	info, err := cl.Info(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"redis_version:7.2.0", "raftkv_version:test", "raftkv_git_sha1:", "process_id:", "run_id:", "tcp_port:", "uptime_in_seconds:",
		"config_file:", "role:master", "raft_role:leader", "raft_term:3", "raft_leader_id:1", "db0:keys=1,", "connected_clients:1",
		"# Persistence", "aof_enabled:1", "rdb_changes_since_last_save:3", "raft_snapshot_index:7"} {
		if !strings.Contains(info, want) {
			t.Errorf("INFO lacks %q:\n%s", want, info)
		}
	}
	slots, err := cl.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(slots) != 1 || slots[0].Start != 0 || slots[0].End != 16383 || len(slots[0].Nodes) != 3 || slots[0].Nodes[0].Addr != "127.0.0.1:7001" {
		t.Fatalf("CLUSTER SLOTS: %+v", slots)
	}
	shards, err := cl.ClusterShards(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(shards) != 1 || len(shards[0].Nodes) != 3 || shards[0].Nodes[0].Role != "master" {
		t.Fatalf("CLUSTER SHARDS: %+v", shards)
	}
	nodes, err := cl.ClusterNodes(ctx).Result()
	if err != nil || strings.Count(nodes, "\n") != 3 || !strings.Contains(nodes, "myself,master - 0 0 3 connected 0-16383") {
		t.Fatalf("CLUSTER NODES: %q %v", nodes, err)
	}
	ci, err := cl.ClusterInfo(ctx).Result()
	if err != nil || !strings.Contains(ci, "cluster_state:ok") {
		t.Fatalf("CLUSTER INFO: %q %v", ci, err)
	}
	cmds, err := cl.Command(ctx).Result()
	if err != nil || cmds["get"] == nil || !cmds["get"].ReadOnly || cmds["set"].ReadOnly {
		t.Fatalf("COMMAND as go-redis reads it: %v %v", cmds["get"], err)
	}
	docs, err := cl.Do(ctx, "COMMAND", "DOCS", "get").Slice()
	if err != nil || len(docs) != 2 || docs[0] != "get" {
		t.Fatalf("COMMAND DOCS get: %v %v", docs, err)
	}
	// redis-cli builds its hints from the documented arguments.
	doc := docs[1].([]any)
	if len(doc) != 8 || doc[6] != "arguments" {
		t.Fatalf("COMMAND DOCS get: %v", doc)
	}
	if args := doc[7].([]any); len(args) != 1 || args[0].([]any)[1] != "key" {
		t.Fatalf("COMMAND DOCS get arguments: %v", args)
	}
}

func TestClusterClient(t *testing.T) {
	f := newFake()
	s, _ := startServer(t, f)
	f.set(func(f *fakeBackend) { f.st.Members[0].RespAddr = s.Addr() })
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{s.Addr()}})
	defer cc.Close()
	ctx := context.Background()
	if err := cc.Set(ctx, "{x}a", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := cc.Get(ctx, "{x}a").Result(); err != nil || v != "1" {
		t.Fatalf("ClusterClient get: %q %v", v, err)
	}
}

func TestQuit(t *testing.T) {
	s, _ := startServer(t, newFake())
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("QUIT\r\n"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	rd := bufio.NewReader(c)
	if l, _ := rd.ReadString('\n'); l != "+OK\r\n" {
		t.Fatalf("QUIT: %q", l)
	}
	if _, err := rd.ReadByte(); err == nil {
		t.Fatal("connection open after QUIT")
	}
}

func TestRaftCommands(t *testing.T) {
	f := newFake()
	s, cl := startServer(t, f)
	ctx := context.Background()
	info, err := cl.Do(ctx, "RAFT.INFO").Text()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"node_id:1\r\n", "role:leader\r\n", "leader_id:1\r\n", "current_term:3\r\n", "num_nodes:3\r\n",
		"node1:id=2,role=voter,addr=127.0.0.1:7002,peer_addr=127.0.0.1:17002,match_index=9\r\n", "commit_index:", "last_applied_index:", "snapshot_last_idx:7\r\n", "snapshot_size:4096\r\n"} {
		if !strings.Contains(info, want) {
			t.Errorf("RAFT.INFO lacks %q:\n%s", want, info)
		}
	}
	if got := raw(t, s.Addr(), "RAFT.NODE", "ADD", "4", "127.0.0.1:17004", "127.0.0.1:7004"); got != "+OK\r\n" || len(f.Status().Members) != 4 {
		t.Errorf("RAFT.NODE ADD: %q, %d members", got, len(f.Status().Members))
	}
	if got := raw(t, s.Addr(), "RAFT.NODE", "ADD", "5", "nohost", "127.0.0.1:7005"); got != "-ERR invalid peer address \"nohost\"\r\n" {
		t.Errorf("RAFT.NODE ADD with a bad address: %q", got)
	}
	if got := raw(t, s.Addr(), "RAFT.NODE", "REMOVE", "4"); got != "+OK\r\n" || len(f.Status().Members) != 3 {
		t.Errorf("RAFT.NODE REMOVE: %q", got)
	}
	if got := raw(t, s.Addr(), "RAFT.NODE", "REMOVE", "9"); !strings.HasPrefix(got, "-TRYAGAIN ") {
		t.Errorf("RAFT.NODE REMOVE during another change: %q", got)
	}
	if got := raw(t, s.Addr(), "RAFT.NODE", "FOO", "1"); got != "-ERR unknown subcommand 'FOO'. Try RAFT.NODE HELP.\r\n" {
		t.Errorf("RAFT.NODE FOO: %q", got)
	}
	if got := raw(t, s.Addr(), "RAFT.SNAPSHOT"); got != ":10\r\n" {
		t.Errorf("RAFT.SNAPSHOT: %q", got)
	}
	if got := raw(t, s.Addr(), "RAFT.TRANSFER_LEADER", "9"); got != "-ERR node 9 is not a member\r\n" {
		t.Errorf("transfer to a stranger: %q", got)
	}
	if got := raw(t, s.Addr(), "RAFT.TRANSFER_LEADER", "3"); got != "+OK\r\n" || f.Status().Leader != 3 {
		t.Errorf("transfer to 3: %q, leader %d", got, f.Status().Leader)
	}
	// Now a follower: it redirects to the leader.
	if got := raw(t, s.Addr(), "RAFT.TRANSFER_LEADER"); got != "-MOVED 0 127.0.0.1:7003\r\n" {
		t.Errorf("transfer on a follower: %q", got)
	}
	if got := raw(t, s.Addr(), "RAFT.TRANSFER_LEADER", "1", "2"); !strings.HasPrefix(got, "-ERR wrong number of arguments") {
		t.Errorf("transfer with two ids: %q", got)
	}
	f.set(func(f *fakeBackend) { f.proposeErr = raft.ErrTransferring; f.st.Leader = 1 })
	if got := raw(t, s.Addr(), "SET", "k", "v"); !strings.HasPrefix(got, "-TRYAGAIN ") {
		t.Errorf("write during a transfer: %q", got)
	}
}

// TestPipelinedWrites: a pipeline's run of writes is proposed as one
// entry, in order, and every command of the pipeline is answered in
// order, reads included; each write of the entry gets its own result (a
// refusal among them), and every write of a run whose proposal failed
// gets the error.
func TestPipelinedWrites(t *testing.T) {
	f := newFake()
	s, _ := startServer(t, f)
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sent := func() (batches, writes []int) {
		f.mu.Lock()
		defer f.mu.Unlock()
		return slices.Clone(f.batches), slices.Clone(f.writes)
	}
	pipeline(t, c, [][]string{
		{"SET", "k", "1"}, {"APPEND", "k", "2"}, {"APPEND", "k", "3"}, {"DEL", "nope"},
		{"GET", "k"}, {"SET", "k", "x", "EX"}, {"APPEND", "k", "4"}, {"PING"},
	}, []string{"+OK", ":2", ":3", ":0", "$3", "123", "-ERR syntax error", ":4", "+PONG"})
	// The first four as one entry; the APPEND after the refused SET alone.
	if batches, writes := sent(); !slices.Equal(batches, []int{1}) || !slices.Equal(writes, []int{4, 1}) {
		t.Fatalf("batches %v, writes per entry %v; want [1] and [4 1]", batches, writes)
	}
	pipeline(t, c, [][]string{
		{"SET", "a", "1"}, {"SET", "b", "2"}, {"APPEND", "wrongtype", "x"}, {"DEL", "a", "nope"},
		{"SET", "c", "3"}, {"GET", "b"},
	}, []string{"+OK", "+OK", "-" + fsm.ErrWrongType.Error(), ":1", "+OK", "$1", "2"})
	if batches, writes := sent(); !slices.Equal(batches, []int{1, 1}) || !slices.Equal(writes, []int{4, 1, 5}) {
		t.Fatalf("batches %v, writes per entry %v; want [1 1] and [4 1 5]", batches, writes)
	}
	// Counters too, each refusal in its own reply.
	pipeline(t, c, [][]string{
		{"INCR", "n"}, {"INCR", "n"}, {"DECR", "n"}, {"DECR", "m"}, {"SET", "s", "x"}, {"INCR", "s"}, {"INCR", "wrongtype"},
		{"GET", "n"},
	}, []string{":1", ":2", ":1", ":-1", "+OK", "-" + fsm.ErrNotInteger.Error(), "-" + fsm.ErrWrongType.Error(), "$1", "1"})
	if batches, writes := sent(); !slices.Equal(batches, []int{1, 1, 1}) || !slices.Equal(writes, []int{4, 1, 5, 7}) {
		t.Fatalf("batches %v, writes per entry %v; want [1 1 1] and [4 1 5 7]", batches, writes)
	}
	// INCRBY and DECRBY too; one whose increment the handler refuses ends
	// the run, and is answered by the handler.
	pipeline(t, c, [][]string{
		{"INCRBY", "n", "10"}, {"DECRBY", "n", "3"}, {"INCRBY", "n", "x"}, {"DECRBY", "n", "-9223372036854775808"},
		{"INCRBY", "n", "-8"},
	}, []string{":11", ":8", "-" + fsm.ErrNotInteger.Error(), "-ERR decrement would overflow", ":0"})
	if batches, writes := sent(); !slices.Equal(batches, []int{1, 1, 1, 1}) || !slices.Equal(writes, []int{4, 1, 5, 7, 2, 1}) {
		t.Fatalf("batches %v, writes per entry %v; want [1 1 1 1] and [4 1 5 7 2 1]", batches, writes)
	}
	// Runs encoded into the connection's buffer one after the other, one
	// larger than the buffer it keeps (maxRunBuf): each value is its own.
	big := func(c byte) string { return strings.Repeat(string(c), maxRunBuf/2) }
	pipeline(t, c, [][]string{{"SET", "b1", big('x')}, {"SET", "b2", big('y')}, {"SET", "b3", big('z')}},
		[]string{"+OK", "+OK", "+OK"})
	pipeline(t, c, [][]string{{"SET", "s1", "1"}, {"SET", "s2", "2"}, {"GET", "b1"}, {"GET", "b3"}, {"GET", "s1"}},
		[]string{"+OK", "+OK", "$" + itoa(maxRunBuf/2), big('x'), "$" + itoa(maxRunBuf/2), big('z'), "$1", "1"})
	f.set(func(f *fakeBackend) { f.proposeErr = raft.ErrProposalDropped })
	tryAgain := "-TRYAGAIN the command was not replicated; it is safe to retry"
	pipeline(t, c, [][]string{{"SET", "x", "1"}, {"SET", "y", "2"}, {"DEL", "x"}}, []string{tryAgain, tryAgain, tryAgain})
}

// pipeline sends cmds on c at once, then reads one line per reply line
// and checks it against want.
func pipeline(t *testing.T, c net.Conn, cmds [][]string, want []string) {
	t.Helper()
	var b strings.Builder
	for _, args := range cmds {
		b.WriteString("*" + itoa(len(args)) + "\r\n")
		for _, a := range args {
			b.WriteString("$" + itoa(len(a)) + "\r\n" + a + "\r\n")
		}
	}
	c.Write([]byte(b.String()))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	rd := bufio.NewReader(c)
	for i, w := range want {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimRight(line, "\r\n"); got != w {
			t.Fatalf("reply line %d: got %.40q, want %.40q", i, got, w)
		}
	}
}

// TestPack: pack puts consecutive writes in one entry up to maxPacked
// bytes of them, a write that cannot share one going alone and as itself,
// every entry stamped.
func TestPack(t *testing.T) {
	enc := func(n int) []byte { return fsm.EncodeSet([]byte("k"), make([]byte, n)) }
	third, big := enc(maxPacked/3), enc(maxPacked)
	small := enc(1)
	encs := [][]byte{third, third, third, small, big, small, small}
	ents, firsts := pack(1234, encs, nil, nil)
	if !slices.Equal(firsts, []int{0, 2, 4, 5}) {
		t.Fatalf("entries start at writes %v, want [0 2 4 5]", firsts)
	}
	// The entries are copies: serveRun reuses the encodings' buffer for
	// the next run while the log holds the entries.
	kept := make([][]byte, len(ents))
	for e, ent := range ents {
		kept[e] = slices.Clone(ent)
	}
	scribbled := make([][]byte, len(encs))
	for i, w := range encs {
		scribbled[i] = slices.Clone(w)
	}
	for _, w := range encs {
		for j := range w {
			w[j] = 0xee
		}
	}
	for e := range ents {
		if !slices.Equal(ents[e], kept[e]) {
			t.Fatalf("entry %d shares its bytes with the encodings", e)
		}
	}
	encs = scribbled
	for e, ent := range ents {
		cmd, err := fsm.Decode(ent)
		if err != nil || cmd.Now != 1234 {
			t.Fatalf("entry %d: %v, stamped %d", e, err, cmd.Now)
		}
		end := entryEnd(firsts, e, len(encs))
		if end-firsts[e] == 1 {
			if cmd.Op != fsm.OpSet || string(ent[9:]) != string(encs[firsts[e]]) {
				t.Fatalf("entry %d, of one write, is not that write", e)
			}
			continue
		}
		if cmd.Op != fsm.OpMulti || len(cmd.Args) != 2+end-firsts[e] {
			t.Fatalf("entry %d: op %d with %d arguments, want a transaction of writes %d..%d", e, cmd.Op, len(cmd.Args), firsts[e], end)
		}
		for i, w := range cmd.Args[2:] {
			if w[0] != fsm.TxWrite || string(w[1:]) != string(encs[firsts[e]+i]) {
				t.Fatalf("entry %d, write %d, is not write %d", e, i, firsts[e]+i)
			}
		}
	}
}

// TestClientListAndKill: CLIENT LIST shows every connection with its
// name, CLIENT KILL closes the one it names (by ID or address) and counts
// it, and CLIENT NO-EVICT is accepted.
func TestClientListAndKill(t *testing.T) {
	f := newFake()
	s, cl := startServer(t, f)
	ctx := context.Background()
	other := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, Protocol: 2, PoolSize: 1})
	defer other.Close()
	if err := other.Do(ctx, "CLIENT", "SETNAME", "worker").Err(); err != nil {
		t.Fatal(err)
	}
	otherID, err := other.Do(ctx, "CLIENT", "ID").Int64()
	if err != nil {
		t.Fatal(err)
	}
	list, err := cl.Do(ctx, "CLIENT", "LIST").Text()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(list, "id="+strconv.FormatInt(otherID, 10)+" ") || !strings.Contains(list, " name=worker ") || strings.Count(list, "\n") < 2 {
		t.Fatalf("CLIENT LIST:\n%s", list)
	}
	if one, _ := cl.Do(ctx, "CLIENT", "LIST", "ID", otherID).Text(); strings.Count(one, "\n") != 1 || !strings.Contains(one, "name=worker") {
		t.Fatalf("CLIENT LIST ID %d:\n%s", otherID, one)
	}
	if err := cl.Do(ctx, "CLIENT", "LIST", "TYPE", "bogus").Err(); err == nil || err.Error() != "ERR Unknown client type 'bogus'" {
		t.Fatalf("CLIENT LIST TYPE bogus: %v", err)
	}
	if n, err := cl.Do(ctx, "CLIENT", "KILL", "ID", otherID).Int64(); err != nil || n != 1 {
		t.Fatalf("CLIENT KILL ID: %d, %v", n, err)
	}
	// go-redis dials again: the connection it answers on is a new one.
	if id, err := other.Do(ctx, "CLIENT", "ID").Int64(); err == nil && id == otherID {
		t.Fatal("the killed connection still answers")
	}
	if n, err := cl.Do(ctx, "CLIENT", "KILL", "ADDR", "1.2.3.4:5", "SKIPME", "yes").Int64(); err != nil || n != 0 {
		t.Fatalf("CLIENT KILL ADDR nobody: %d, %v", n, err)
	}
	if err := cl.Do(ctx, "CLIENT", "KILL", "1.2.3.4:5").Err(); err == nil || err.Error() != "ERR No such client" {
		t.Fatalf("CLIENT KILL old form, nobody: %v", err)
	}
	if v, err := cl.Do(ctx, "CLIENT", "NO-EVICT", "on").Text(); err != nil || v != "OK" {
		t.Fatalf("CLIENT NO-EVICT on: %q, %v", v, err)
	}
}

// TestMaxClients: past --maxclients a connection is told why and closed,
// as by Redis; once a client leaves, a new one is served.
func TestMaxClients(t *testing.T) {
	f := newFake()
	s, err := New(Config{Addr: "127.0.0.1:0", Backend: f, LeaderWait: 300 * time.Millisecond, RequestTimeout: time.Second, MaxClients: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		return c, bufio.NewReader(c)
	}
	ping := func(c net.Conn, r *bufio.Reader) string {
		c.Write([]byte("PING\r\n"))
		line, _ := r.ReadString('\n')
		return strings.TrimSpace(line)
	}
	c1, r1 := dial()
	defer c1.Close()
	c2, r2 := dial()
	if got := ping(c1, r1) + ping(c2, r2); got != "+PONG+PONG" {
		t.Fatalf("first two clients: %q", got)
	}
	c3, r3 := dial()
	defer c3.Close()
	if line, _ := r3.ReadString('\n'); strings.TrimSpace(line) != "-ERR max number of clients reached" {
		t.Fatalf("third client read %q", line)
	}
	if _, err := r3.ReadString('\n'); err == nil {
		t.Fatal("the refused connection stayed open")
	}
	c2.Close()
	for deadline := time.Now().Add(5 * time.Second); ; {
		c4, r4 := dial()
		got := ping(c4, r4)
		c4.Close()
		if got == "+PONG" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a client left, a new one got %q", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLookupCommandIgnoresCase(t *testing.T) {
	for _, name := range []string{"get", "GET", "gEt", "RAFT.Transfer_Leader"} {
		if c := lookupCommand([]byte(name)); c == nil || c.name != strings.ToLower(name) {
			t.Errorf("lookupCommand(%q) = %v", name, c)
		}
	}
	for _, name := range []string{"", "gett", "g\xc3\xa9t", strings.Repeat("get", 20)} {
		if c := lookupCommand([]byte(name)); c != nil {
			t.Errorf("lookupCommand(%q) = %s, want none", name, c.name)
		}
	}
	if n := testing.AllocsPerRun(100, func() { lookupCommand([]byte("GET")) }); n != 0 {
		t.Errorf("lookupCommand allocates %v times", n)
	}
}
