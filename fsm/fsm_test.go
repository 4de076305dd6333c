package fsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/raftkv/raftkv/engine"
	"github.com/raftkv/raftkv/raft"
)

var seedFlag = flag.Uint64("seed", 0, "replay the randomised tests with this seed (0: fixed seeds)")

const testDir = "db"

type node struct {
	fs  vfs.FS
	e   *engine.Engine
	fsm *FSM
}

// openNode opens an engine and an FSM on fs, closing them when the test
// ends unless the test crashes or closes the node first.
func openNode(t testing.TB, fs vfs.FS) *node {
	t.Helper()
	return openNodeWith(t, engine.Options{FS: fs})
}

// openNodeWith is openNode with the engine's options given.
func openNodeWith(t testing.TB, o engine.Options) *node {
	t.Helper()
	fs := o.FS
	e, err := engine.Open(testDir, o)
	if err != nil {
		t.Fatalf("open engine: %v", err)
	}
	f, err := New(e, nil)
	if err != nil {
		t.Fatalf("new fsm: %v", err)
	}
	n := &node{fs: fs, e: e, fsm: f}
	t.Cleanup(func() { n.close(t) })
	return n
}

func (n *node) close(t testing.TB) {
	t.Helper()
	if n.e == nil {
		return
	}
	if err := n.e.Close(); err != nil {
		t.Fatalf("close engine: %v", err)
	}
	n.e = nil
}

// crashAndReopen simulates a crash that keeps only synced data, and opens
// a new node on what is left.
func (n *node) crashAndReopen(t *testing.T) *node {
	t.Helper()
	clone := n.fs.(*vfs.MemFS).CrashClone(vfs.CrashCloneCfg{})
	n.close(t)
	return openNode(t, clone)
}

// syncWAL makes every earlier write durable, as the driver's next synced
// Save does.
func (n *node) syncWAL(t *testing.T) {
	t.Helper()
	if err := n.e.Save(raft.HardState{Term: 1}, nil, true); err != nil {
		t.Fatal(err)
	}
}

func (n *node) apply(t *testing.T, ents ...raft.Entry) []any {
	t.Helper()
	res, err := n.fsm.Apply(ents)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if len(res) != len(ents) {
		t.Fatalf("apply returned %d results for %d entries", len(res), len(ents))
	}
	return res
}

// dump renders the node's applied state: applied index, key count and
// every key and value in order.
func (n *node) dump(t testing.TB) string { return n.dumpAt(t, 0) }

// dumpAt is dump without the keys that have expired at now (0: none
// left out).
func (n *node) dumpAt(t testing.TB, now int64) string {
	t.Helper()
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "applied=%d keys=%d\n", n.fsm.Applied(), n.fsm.KeyCount())
	// Iterate's callback must not call the engine: collect hashes' keys,
	// read their fields after.
	var hashes, lists, sets, zsets [][]byte
	if err := n.e.Iterate(func(k []byte, r engine.Record) error {
		if now != 0 && r.ExpiredAt(now) {
			return nil
		}
		switch r.Type {
		case engine.TypeString:
			fmt.Fprintf(&buf, "%q=%q", k, r.Value)
		case engine.TypeHash:
			l, err := ElemCount(r)
			if err != nil {
				return err
			}
			fmt.Fprintf(&buf, "%q=hash(%d)", k, l)
			hashes = append(hashes, bytes.Clone(k))
		case engine.TypeList:
			m, err := ListOf(r)
			if err != nil {
				return err
			}
			fmt.Fprintf(&buf, "%q=list(%d)", k, m.Len)
			lists = append(lists, bytes.Clone(k))
		case engine.TypeZSet:
			l, err := ElemCount(r)
			if err != nil {
				return err
			}
			fmt.Fprintf(&buf, "%q=zset(%d)", k, l)
			zsets = append(zsets, bytes.Clone(k))
		case engine.TypeSet:
			l, err := ElemCount(r)
			if err != nil {
				return err
			}
			fmt.Fprintf(&buf, "%q=set(%d)", k, l)
			sets = append(sets, bytes.Clone(k))
		default:
			fmt.Fprintf(&buf, "%q=%s", k, r.Type)
		}
		if r.Expire != 0 {
			fmt.Fprintf(&buf, " expires %d", r.Expire)
		}
		buf.WriteByte('\n')
		return nil
	}); err != nil {
		t.Fatalf("iterate: %v", err)
	}
	v, err := n.e.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for _, k := range hashes {
		fmt.Fprintf(&buf, "%q:", k)
		if err := v.Elems(engine.TypeHash, k, nil, nil, func(f, val []byte) error {
			fmt.Fprintf(&buf, " %q=%q", f, val)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		buf.WriteByte('\n')
	}
	for _, k := range zsets {
		// Members in score index order, each with the score its member
		// element holds: the two families must agree.
		fmt.Fprintf(&buf, "%q:", k)
		if err := v.Elems(engine.ScoreIndex, k, nil, nil, func(e, iv []byte) error {
			sv, ok, err := v.Elem(engine.TypeZSet, k, e[8:])
			if err != nil || !ok {
				return fmt.Errorf("index entry %q without a member: %v", e, err)
			}
			score, err := ScoreOf(sv)
			if err != nil || !bytes.Equal(ScoreKey(score), e[:8]) || !bytes.Equal(sv, iv) {
				return fmt.Errorf("member %q scores %v, indexed at %x", e[8:], score, e[:8])
			}
			fmt.Fprintf(&buf, " %q=%s", e[8:], FormatScore(score))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		buf.WriteByte('\n')
	}
	for _, k := range sets {
		fmt.Fprintf(&buf, "%q:", k)
		if err := v.Elems(engine.TypeSet, k, nil, nil, func(m, _ []byte) error {
			fmt.Fprintf(&buf, " %q", m)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		buf.WriteByte('\n')
	}
	for _, k := range lists {
		fmt.Fprintf(&buf, "%q:", k)
		if err := v.Elems(engine.TypeList, k, nil, nil, func(_, val []byte) error {
			fmt.Fprintf(&buf, " %q", val)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		buf.WriteByte('\n')
	}
	return buf.String()
}

func (n *node) get(t *testing.T, key string) (string, bool) {
	t.Helper()
	r, ok, err := n.fsm.Key([]byte(key))
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	return string(r.Value), ok
}

// entries numbers cmds as log entries from index lo, in term 1.
func entries(lo uint64, cmds ...[]byte) []raft.Entry {
	ents := make([]raft.Entry, len(cmds))
	for i, c := range cmds {
		ents[i] = raft.Entry{Term: 1, Index: lo + uint64(i), Data: c}
	}
	return ents
}

func wantResult(t *testing.T, got any, want Result) {
	t.Helper()
	r, ok := got.(Result)
	if !ok {
		t.Fatalf("result %#v is not a Result", got)
	}
	valuesEqual := len(r.Values) == len(want.Values) && (r.Values == nil) == (want.Values == nil)
	for i := 0; valuesEqual && i < len(r.Values); i++ {
		valuesEqual = bytes.Equal(r.Values[i], want.Values[i])
	}
	if r.Int != want.Int || !bytes.Equal(r.Old, want.Old) || r.Found != want.Found || !valuesEqual ||
		(r.Err == nil) != (want.Err == nil) || (want.Err != nil && !errors.Is(r.Err, want.Err)) {
		t.Fatalf("result = %+v, want %+v", r, want)
	}
}

func k(s string) []byte { return []byte(s) }

func TestApplyResults(t *testing.T) {
	n := openNode(t, vfs.NewMem())
	res := n.apply(t, entries(1,
		EncodeSet(k("a"), k("1")),         // 1
		EncodeAppend(k("a"), k("23")),     // 2: "123"
		EncodeAppend(k("new"), k("xy")),   // 3: creates
		nil,                               // 4: leader no-op
		EncodeDel(k("a"), k("a"), k("z")), // 5: a twice counts once, z missing
		EncodeSet(k("b"), k("")),          // 6: an empty value is a key
		EncodeDel(k("new"), k("b")),       // 7
	)...)
	want := []Result{{}, {Int: 3}, {Int: 2}, {}, {Int: 1}, {}, {Int: 2}}
	for i := range want {
		wantResult(t, res[i], want[i])
	}
	if got := n.dump(t); got != "applied=7 keys=0\n" {
		t.Fatalf("state = %q", got)
	}
	if applied, _ := n.e.Applied(); applied != 7 {
		t.Fatalf("engine applied = %d, want 7", applied)
	}
}

func TestApplyConditionalSet(t *testing.T) {
	n := openNode(t, vfs.NewMem())
	res := n.apply(t, entries(1,
		EncodeSetIf(k("a"), k("1"), SetXX, 0),        // 1: missing, not written
		EncodeSetIf(k("a"), k("1"), SetNX, 0),        // 2: written
		EncodeSetIf(k("a"), k("2"), SetNX|SetGet, 0), // 3: exists: not written, old 1
		EncodeSetIf(k("a"), k("3"), SetXX|SetGet, 0), // 4: written, old 1
		EncodeSetIf(k("b"), k("4"), SetGet, 0),       // 5: GETSET on a missing key
		EncodeSetIf(k("b"), k(""), SetGet, 0),        // 6: an empty value is a value
		EncodeSetIf(k("b"), k("5"), SetNX|SetGet, 0), // 7: b exists, empty
		[]byte{byte(OpSetIf), 3, 1, 'a', 1, 'v', 0},  // 8: flags must be one byte
	)...)
	want := []Result{
		{}, {Int: 1}, {Old: k("1"), Found: true}, {Int: 1, Old: k("1"), Found: true},
		{Int: 1}, {Int: 1, Old: k("4"), Found: true}, {Old: k(""), Found: true}, {Err: ErrCorrupt},
	}
	for i := range want {
		wantResult(t, res[i], want[i])
	}
	if got := n.dump(t); got != "applied=8 keys=2\n\"a\"=\"3\"\n\"b\"=\"\"\n" {
		t.Fatalf("state = %q", got)
	}
}

func TestApplyBadCommands(t *testing.T) {
	n := openNode(t, vfs.NewMem())
	res := n.apply(t,
		raft.Entry{Term: 1, Index: 1, Data: EncodeSet(k("keep"), k("v"))},
		raft.Entry{Term: 1, Index: 2, Data: []byte{byte(OpSet), 9}},    // undecodable
		raft.Entry{Term: 1, Index: 3, Data: encode(Op(99), k("keep"))}, // unknown op
		raft.Entry{Term: 1, Index: 4, Data: encode(OpSet, k("keep"))},  // SET with 1 arg
		raft.Entry{Term: 1, Index: 5, Data: encode(OpAppend, k("keep"), k("x"), k("y"))},
		raft.Entry{Term: 1, Index: 6, Data: encode(OpDel)},                                  // DEL with no keys
		raft.Entry{Term: 1, Index: 7, Type: raft.EntryType(42), Data: EncodeDel(k("keep"))}, // unknown entry type
		raft.Entry{Term: 1, Index: 8, Data: EncodeAppend(k("keep"), k("!"))},                // the node goes on
	)
	wantResult(t, res[0], Result{})
	for i := 1; i <= 6; i++ {
		wantResult(t, res[i], Result{Err: ErrCorrupt})
	}
	wantResult(t, res[7], Result{Int: 2})
	if v, ok := n.get(t, "keep"); !ok || v != "v!" {
		t.Fatalf("keep = %q, %v, want v!", v, ok)
	}
	if n.fsm.Applied() != 8 || n.fsm.KeyCount() != 1 {
		t.Fatalf("applied, keys = %d, %d, want 8, 1", n.fsm.Applied(), n.fsm.KeyCount())
	}
	// The verdict is deterministic: the same text on every node.
	m := openNode(t, vfs.NewMem())
	again := m.apply(t, raft.Entry{Term: 1, Index: 1, Data: []byte{byte(OpSet), 9}})
	if res[1].(Result).Err.Error() != again[0].(Result).Err.Error() {
		t.Fatalf("error texts differ: %v vs %v", res[1].(Result).Err, again[0].(Result).Err)
	}
}

func TestApplyBinaryKeysAndValues(t *testing.T) {
	fs := vfs.NewMem()
	n := openNode(t, fs)
	key := []byte("k\x00\n\r\nk")
	val := []byte("\x00\x00line\nline\r\n\xff")
	n.apply(t, entries(1,
		EncodeSet(key, val),
		EncodeSet([]byte{0}, []byte{0}),
		EncodeAppend([]byte{}, []byte("\n")),
		EncodeAppend([]byte{}, []byte{0}),
	)...)
	check := func(n *node) {
		t.Helper()
		for _, c := range []struct{ k, v []byte }{{key, val}, {[]byte{0}, []byte{0}}, {[]byte{}, []byte("\n\x00")}} {
			r, ok, err := n.fsm.Key(c.k)
			if err != nil || !ok || !bytes.Equal(r.Value, c.v) {
				t.Fatalf("get %q = %q, %v, %v, want %q", c.k, r.Value, ok, err, c.v)
			}
		}
		if _, ok, _ := n.fsm.Key([]byte("k")); ok {
			t.Fatal("a prefix of a binary key reads as present")
		}
		if n.fsm.KeyCount() != 3 {
			t.Fatalf("keys = %d, want 3", n.fsm.KeyCount())
		}
	}
	check(n)
	n.close(t)
	check(openNode(t, fs))
}

func TestApplyGap(t *testing.T) {
	n := openNode(t, vfs.NewMem())
	n.apply(t, entries(1, EncodeSet(k("a"), k("1")), EncodeSet(k("b"), k("2")))...)
	before := n.dump(t)
	gaps := map[string][]raft.Entry{
		"skips index 3":     entries(4, EncodeSet(k("c"), k("3"))),
		"gap inside run":    {entries(3, EncodeSet(k("c"), k("3")))[0], entries(5, EncodeSet(k("d"), k("4")))[0]},
		"repeat inside run": {entries(3, EncodeSet(k("c"), k("3")))[0], entries(3, EncodeSet(k("c"), k("3")))[0]},
	}
	for name, ents := range gaps {
		if _, err := n.fsm.Apply(ents); !errors.Is(err, ErrGap) {
			t.Fatalf("%s: err = %v, want ErrGap", name, err)
		}
		// Nothing of a rejected run is applied, not even its valid head.
		if got := n.dump(t); got != before {
			t.Fatalf("%s: state changed:\n%s\nwant:\n%s", name, got, before)
		}
	}
	if res, err := n.fsm.Apply(nil); err != nil || len(res) != 0 {
		t.Fatalf("apply(nil) = %v, %v", res, err)
	}
}

func TestApplySkipsAppliedAndSurvivesCrash(t *testing.T) {
	n := openNode(t, vfs.NewCrashableMem())
	cmds := [][]byte{
		EncodeSet(k("a"), k("1")), EncodeAppend(k("a"), k("2")), EncodeSet(k("b"), k("x")),
		EncodeDel(k("b")), EncodeAppend(k("c"), k("z")), EncodeAppend(k("a"), k("3")),
	}
	all := entries(1, cmds...)
	n.apply(t, all[:3]...)
	n.syncWAL(t)
	n.apply(t, all[3:4]...) // not synced: lost in the crash

	n = n.crashAndReopen(t)
	if n.fsm.Applied() != 3 {
		t.Fatalf("applied after crash = %d, want 3 (the synced prefix)", n.fsm.Applied())
	}
	if v, _ := n.get(t, "a"); v != "12" {
		t.Fatalf("a = %q after crash, want 12", v)
	}
	// The driver replays from the log: entries at or below applied are
	// skipped (re-applying APPEND would double it), later ones continue.
	res := n.apply(t, all[1:5]...)
	if res[0] != nil || res[1] != nil {
		t.Fatalf("results for skipped entries = %v, %v, want nil", res[0], res[1])
	}
	wantResult(t, res[2], Result{Int: 1})
	wantResult(t, res[3], Result{Int: 1})
	res = n.apply(t, all[:5]...) // everything already applied: a no-op
	for i, r := range res {
		if r != nil {
			t.Fatalf("result %d = %v, want nil for an applied entry", i, r)
		}
	}
	n.apply(t, all[5])
	if got, want := n.dump(t), "applied=6 keys=2\n\"a\"=\"123\"\n\"c\"=\"z\"\n"; got != want {
		t.Fatalf("state:\n%s\nwant:\n%s", got, want)
	}

	// A clean restart keeps everything, and replaying it all changes nothing.
	n.syncWAL(t)
	before := n.dump(t)
	n = n.crashAndReopen(t)
	n.apply(t, all...)
	if got := n.dump(t); got != before {
		t.Fatalf("state after restart and replay:\n%s\nwant:\n%s", got, before)
	}
}

// randomCommands builds a workload over a few keys (binary ones included)
// so that SETs, APPENDs, DELs and expiries collide. Most commands carry a
// clock stamp that moves forward in small steps and sometimes back (a
// leader with a slower clock), so that keys expire during the run.
func randomCommands(r *rand.Rand, count int) [][]byte {
	keys := [][]byte{k("a"), k("b"), {0}, k("x\ny"), {}, k("a\x00")}
	pick := func() []byte { return keys[r.IntN(len(keys))] }
	val := func() []byte {
		v := make([]byte, r.IntN(6))
		for i := range v {
			v[i] = byte(r.IntN(4)) // zero bytes and control characters
		}
		return v
	}
	clock := int64(1000)
	at := func() int64 { return clock - 5 + r.Int64N(40) }
	fields := [][]byte{k("f"), k("g"), {}, {0}}
	field := func() []byte { return fields[r.IntN(len(fields))] }
	num := func() []byte { return [][]byte{k("1"), k("-5"), k("x"), {}}[r.IntN(4)] }
	cmds := make([][]byte, count)
	for i := range cmds {
		var cmd []byte
		switch r.IntN(34) {
		case 0:
			cmds[i] = nil // no-op
			continue
		case 1:
			cmds[i] = []byte{byte(OpDel), 7} // corrupt
			continue
		case 2, 3:
			cmd = EncodeSet(pick(), val())
		case 4:
			cmd = EncodeAppend(pick(), val())
		case 5:
			var expire int64
			if r.IntN(2) == 0 {
				expire = at()
			}
			cmd = EncodeSetIf(pick(), val(), byte(r.IntN(16))&^(SetNX|SetXX)|[]byte{0, SetNX, SetXX}[r.IntN(3)], expire)
		case 6, 7:
			cmd = EncodeExpire(pick(), at(), []byte{0, ExpireNX, ExpireXX, ExpireGT, ExpireLT, ExpireXX | ExpireGT}[r.IntN(6)])
		case 8:
			cmd = EncodePersist(pick())
		case 9:
			cmd = EncodeGetEx(pick(), []int64{0, at()}[r.IntN(2)])
		case 10:
			cmd = EncodeDelExpired(pick(), pick())
		case 11, 12:
			pairs := [][]byte{field(), val()}
			if r.IntN(2) == 0 {
				pairs = append(pairs, field(), num())
			}
			cmd = EncodeHSet(pick(), pairs)
		case 13:
			cmd = EncodeHSetNX(pick(), field(), num())
		case 14:
			cmd = EncodeHDel(pick(), [][]byte{field(), field()})
		case 15:
			cmd = EncodeHIncrBy(pick(), field(), r.Int64N(7)-3)
		case 16:
			cmd = EncodeIncrBy(pick(), r.Int64N(7)-3)
		case 17:
			cmd = EncodeRename(pick(), pick(), r.IntN(2) == 0)
		case 18, 19:
			elems := [][]byte{num()}
			if r.IntN(2) == 0 {
				elems = append(elems, num(), val())
			}
			cmd = EncodePush(pick(), byte(r.IntN(4)), elems)
		case 20:
			cmd = EncodePop(pick(), r.IntN(2) == 0, r.Int64N(5)-1)
		case 21:
			cmd = EncodeLSet(pick(), r.Int64N(7)-3, num())
		case 22:
			cmd = EncodeLRem(pick(), r.Int64N(5)-2, num())
		case 23:
			cmd = EncodeLTrim(pick(), r.Int64N(7)-3, r.Int64N(7)-3)
		case 24, 25:
			cmd = EncodeSAdd(pick(), [][]byte{num(), field(), num()})
		case 26:
			cmd = EncodeSRem(pick(), [][]byte{num(), field()})
		case 27:
			cmd = EncodeSPop(pick(), r.Int64N(4)-1)
		case 28, 29:
			scores := []float64{float64(r.IntN(5) - 2), []float64{0.5, math.Inf(1), math.Inf(-1), math.Copysign(0, -1)}[r.IntN(4)]}
			members := [][]byte{num(), field()}
			flags := []byte{0, ZAddNX, ZAddXX, ZAddGT, ZAddLT, ZAddCH, ZAddXX | ZAddGT | ZAddCH}[r.IntN(7)]
			if r.IntN(3) == 0 {
				flags |= ZAddIncr
				scores, members = scores[:1], members[:1]
			}
			cmd = EncodeZAdd(pick(), flags, scores, members)
		case 30:
			cmd = EncodeZRem(pick(), [][]byte{num(), field()})
		case 31:
			cmd = EncodeZPop(pick(), r.IntN(2) == 0, r.Int64N(4)-1)
		default:
			var ks [][]byte
			for j := 0; j < 1+r.IntN(3); j++ {
				ks = append(ks, pick())
			}
			cmd = EncodeDel(ks...)
		}
		if r.IntN(5) > 0 {
			clock += r.Int64N(12) - 2
			cmd = Stamp(clock, cmd)
		}
		cmds[i] = cmd
	}
	return cmds
}

// model is a naive in-memory state machine to check FSM against: its
// keys, and its clock.
type model struct {
	keys map[string]modelKey
	now  int64
	// expired counts keys removed because they expired, so that a test
	// can tell that its workload reached expiry at all.
	expired int
}

type modelKey struct {
	v      []byte
	hash   map[string]string  // nil for a string
	list   []string           // nil for a string
	set    map[string]bool    // nil for a string
	zset   map[string]float64 // nil for a string
	expire int64
}

// live returns key unless missing or expired, deleting it if expired.
func (m *model) live(key []byte) (modelKey, bool) {
	v, ok := m.keys[string(key)]
	if ok && v.expire != 0 && m.now > v.expire {
		delete(m.keys, string(key))
		m.expired++
		return modelKey{}, false
	}
	return v, ok
}

func (m *model) apply(ent raft.Entry) Result {
	data, index, term := ent.Data, ent.Index, ent.Term
	if len(data) == 0 {
		return Result{}
	}
	c, err := Decode(data)
	if err != nil {
		return Result{Err: err}
	}
	m.now = max(m.now, c.Now)
	key := string(c.Args[0])
	wrongType := func() bool {
		old, ok := m.keys[key]
		return ok && (old.hash != nil || old.list != nil || old.set != nil || old.zset != nil)
	}
	if c.Op != OpDelExpired {
		m.live(c.Args[0])
	}
	switch c.Op {
	case OpSetIf, OpAppend, OpGetEx, OpIncrBy:
		if (c.Op != OpSetIf || c.Args[2][0]&SetGet != 0) && wrongType() {
			return Result{Err: ErrWrongType}
		}
	case OpHSet, OpHSetNX, OpHDel, OpHIncrBy:
		if old, ok := m.keys[key]; ok && old.hash == nil {
			return Result{Err: ErrWrongType}
		}
	case OpPush, OpPop, OpLSet, OpLRem, OpLTrim:
		if old, ok := m.keys[key]; ok && old.list == nil {
			return Result{Err: ErrWrongType}
		}
	case OpSAdd, OpSRem, OpSPop:
		if old, ok := m.keys[key]; ok && old.set == nil {
			return Result{Err: ErrWrongType}
		}
	case OpZAdd, OpZRem, OpZPop:
		if old, ok := m.keys[key]; ok && old.zset == nil {
			return Result{Err: ErrWrongType}
		}
	}
	if res, ok := m.applyZSet(c); ok {
		return res
	}
	if res, ok := m.applySet(c, index, term); ok {
		return res
	}
	if res, ok := m.applyList(c); ok {
		return res
	}
	switch c.Op {
	case OpHSet, OpHSetNX:
		h := m.keys[key]
		if h.hash == nil {
			h.hash = map[string]string{}
		}
		if c.Op == OpHSetNX {
			if _, ok := h.hash[string(c.Args[1])]; ok {
				return Result{}
			}
		}
		var added int64
		for i := 1; i < len(c.Args); i += 2 {
			if _, ok := h.hash[string(c.Args[i])]; !ok {
				added++
			}
			h.hash[string(c.Args[i])] = string(c.Args[i+1])
		}
		m.keys[key] = h
		return Result{Int: added}
	case OpHDel:
		h, ok := m.keys[key]
		if !ok {
			return Result{}
		}
		var n int64
		for _, f := range c.Args[1:] {
			if _, ok := h.hash[string(f)]; ok {
				delete(h.hash, string(f))
				n++
			}
		}
		if len(h.hash) == 0 {
			delete(m.keys, key)
		}
		return Result{Int: n}
	case OpHIncrBy:
		h := m.keys[key]
		if h.hash == nil {
			h.hash = map[string]string{}
		}
		var v int64
		if old, ok := h.hash[string(c.Args[1])]; ok {
			n, err := strconv.ParseInt(old, 10, 64)
			if err != nil || strconv.FormatInt(n, 10) != old {
				return Result{Err: ErrHashNotInteger}
			}
			v = n
		}
		v += int64(binary.BigEndian.Uint64(c.Args[2]))
		h.hash[string(c.Args[1])] = strconv.FormatInt(v, 10)
		m.keys[key] = h
		return Result{Int: v}
	case OpIncrBy:
		old, found := m.live(c.Args[0])
		var v int64
		if found {
			n, err := strconv.ParseInt(string(old.v), 10, 64)
			if err != nil || strconv.FormatInt(n, 10) != string(old.v) {
				return Result{Err: ErrNotInteger}
			}
			v = n
		}
		v += int64(binary.BigEndian.Uint64(c.Args[1]))
		old.v = []byte(strconv.FormatInt(v, 10))
		m.keys[key] = old
		return Result{Int: v}
	case OpRename, OpRenameNX:
		old, ok := m.live(c.Args[0])
		if !ok {
			return Result{Err: ErrNoSuchKey}
		}
		if key == string(c.Args[1]) {
			return Result{}
		}
		if _, exists := m.live(c.Args[1]); exists && c.Op == OpRenameNX {
			return Result{}
		}
		delete(m.keys, key)
		m.keys[string(c.Args[1])] = old
		return Result{Int: 1}
	}
	switch c.Op {
	case OpSet:
		m.keys[key] = modelKey{v: bytes.Clone(c.Args[1])}
		return Result{}
	case OpSetIf:
		old, found := m.live(c.Args[0])
		r, f := Result{Found: found}, c.Args[2][0]
		if f&SetGet != 0 {
			r.Old = old.v
		}
		if (f&SetNX != 0 && found) || (f&SetXX != 0 && !found) {
			return r
		}
		nk := modelKey{v: bytes.Clone(c.Args[1])}
		if len(c.Args) == 4 {
			nk.expire = int64(binary.BigEndian.Uint64(c.Args[3]))
		}
		if f&SetKeepTTL != 0 && found {
			nk.expire = old.expire
		}
		m.keys[key] = nk
		r.Int = 1
		return r
	case OpAppend:
		old, _ := m.live(c.Args[0])
		old.v = append(bytes.Clone(old.v), c.Args[1]...)
		m.keys[key] = old
		return Result{Int: int64(len(old.v))}
	case OpExpire:
		old, found := m.live(c.Args[0])
		when, f := int64(binary.BigEndian.Uint64(c.Args[1])), c.Args[2][0]
		if !found {
			return Result{}
		}
		infinite := old.expire == 0
		if (f&ExpireNX != 0 && !infinite) || (f&ExpireXX != 0 && infinite) ||
			(f&ExpireGT != 0 && (infinite || when <= old.expire)) || (f&ExpireLT != 0 && !infinite && when >= old.expire) {
			return Result{}
		}
		if when <= m.now {
			delete(m.keys, key)
		} else {
			old.expire = when
			m.keys[key] = old
		}
		return Result{Int: 1}
	case OpPersist:
		old, found := m.live(c.Args[0])
		if !found || old.expire == 0 {
			return Result{}
		}
		old.expire = 0
		m.keys[key] = old
		return Result{Int: 1}
	case OpGetEx:
		old, found := m.live(c.Args[0])
		if !found {
			return Result{}
		}
		when := int64(binary.BigEndian.Uint64(c.Args[1]))
		if when != 0 && when <= m.now {
			delete(m.keys, key)
		} else {
			m.keys[key] = modelKey{v: old.v, expire: when}
		}
		return Result{Old: old.v, Found: true}
	case OpDelExpired:
		var n int64
		for _, k := range c.Args {
			if v, ok := m.keys[string(k)]; ok && v.expire != 0 && m.now > v.expire {
				delete(m.keys, string(k))
				m.expired++
				n++
			}
		}
		return Result{Int: n}
	default:
		var n int64
		for _, k := range c.Args {
			if _, ok := m.live(k); ok {
				delete(m.keys, string(k))
				n++
			}
		}
		return Result{Int: n}
	}
}

// zsetOrder lists a sorted set's members by score, then member.
func zsetOrder(z map[string]float64) []string {
	ms := make([]string, 0, len(z))
	for m := range z {
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool {
		if z[ms[i]] != z[ms[j]] {
			return z[ms[i]] < z[ms[j]]
		}
		return ms[i] < ms[j]
	})
	return ms
}

// applyZSet applies a sorted set command to the model; ok is false for
// other commands.
func (m *model) applyZSet(c Command) (Result, bool) {
	key := string(c.Args[0])
	z, found := m.keys[key]
	save := func() {
		if len(z.zset) == 0 {
			delete(m.keys, key)
		} else {
			m.keys[key] = z
		}
	}
	switch c.Op {
	case OpZAdd:
		flags := c.Args[1][0]
		if z.zset == nil {
			z.zset = map[string]float64{}
		}
		var added, changed int64
		var res Result
		for i := 2; i < len(c.Args); i += 2 {
			score := math.Float64frombits(binary.BigEndian.Uint64(c.Args[i]))
			mem := string(c.Args[i+1])
			cur, exists := z.zset[mem]
			switch {
			case !exists && flags&ZAddXX != 0, exists && flags&ZAddNX != 0:
				continue
			case !exists:
				z.zset[mem] = score
				added++
				res.Value, res.Found = []byte(FormatScore(score)), true
				continue
			}
			next := score
			if flags&ZAddIncr != 0 {
				next = cur + score
				if math.IsNaN(next) {
					return Result{Err: ErrScoreNaN}, true
				}
			}
			if (flags&ZAddGT != 0 && next <= cur) || (flags&ZAddLT != 0 && next >= cur) {
				continue
			}
			res.Value, res.Found = []byte(FormatScore(next)), true
			if next != cur {
				z.zset[mem] = next
				changed++
			}
		}
		res.Int = added
		if flags&ZAddCH != 0 {
			res.Int += changed
		}
		if flags&ZAddIncr == 0 {
			res.Value, res.Found = nil, false
		}
		save()
		return res, true
	case OpZRem:
		var n int64
		for _, mem := range c.Args[1:] {
			if _, ok := z.zset[string(mem)]; ok {
				delete(z.zset, string(mem))
				n++
			}
		}
		if found {
			save()
		}
		return Result{Int: n}, true
	case OpZPop:
		if !found {
			return Result{}, true
		}
		count := int64(binary.BigEndian.Uint64(c.Args[2]))
		if count < 0 {
			count = 1
		}
		order := zsetOrder(z.zset)
		if c.Args[1][0] == 1 {
			slices.Reverse(order)
		}
		res := Result{Found: true, Values: [][]byte{}}
		for _, mem := range order[:min(int(count), len(order))] {
			res.Values = append(res.Values, []byte(mem), []byte(FormatScore(z.zset[mem])))
			delete(z.zset, mem)
		}
		save()
		return res, true
	}
	return Result{}, false
}

func sortedMembers(st map[string]bool) []string {
	ms := make([]string, 0, len(st))
	for m := range st {
		ms = append(ms, m)
	}
	sort.Strings(ms)
	return ms
}

// applySet applies a set command to the model; ok is false for other
// commands. SPOP draws as the FSM does for small sets: a rank, from a
// generator seeded with the entry's index and term.
func (m *model) applySet(c Command, index, term uint64) (Result, bool) {
	key := string(c.Args[0])
	s, found := m.keys[key]
	save := func() {
		if len(s.set) == 0 {
			delete(m.keys, key)
		} else {
			m.keys[key] = s
		}
	}
	switch c.Op {
	case OpSAdd:
		if s.set == nil {
			s.set = map[string]bool{}
		}
		var n int64
		for _, e := range c.Args[1:] {
			if !s.set[string(e)] {
				s.set[string(e)] = true
				n++
			}
		}
		save()
		return Result{Int: n}, true
	case OpSRem:
		var n int64
		for _, e := range c.Args[1:] {
			if s.set[string(e)] {
				delete(s.set, string(e))
				n++
			}
		}
		if found {
			save()
		}
		return Result{Int: n}, true
	case OpSPop:
		if !found {
			return Result{}, true
		}
		count := int64(binary.BigEndian.Uint64(c.Args[1]))
		if count < 0 {
			count = 1
		}
		rnd := rand.New(rand.NewPCG(index, term))
		res := Result{Found: true, Values: [][]byte{}}
		for ; count > 0 && len(s.set) > 0; count-- {
			ms := sortedMembers(s.set)
			pick := ms[rnd.Int64N(int64(len(ms)))]
			delete(s.set, pick)
			res.Values = append(res.Values, []byte(pick))
		}
		save()
		return res, true
	}
	return Result{}, false
}

// applyList applies a list command to the model; ok is false for other
// commands.
func (m *model) applyList(c Command) (Result, bool) {
	key := string(c.Args[0])
	l, found := m.keys[key]
	i64 := func(b []byte) int64 { return int64(binary.BigEndian.Uint64(b)) }
	save := func() {
		if len(l.list) == 0 {
			delete(m.keys, key)
		} else {
			m.keys[key] = l
		}
	}
	// norm turns a Redis index into a position, ok false outside.
	norm := func(i int64) (int, bool) {
		if i < 0 {
			i += int64(len(l.list))
		}
		return int(i), i >= 0 && i < int64(len(l.list))
	}
	switch c.Op {
	case OpPush:
		flags := c.Args[1][0]
		if flags&PushX != 0 && !found {
			return Result{}, true
		}
		for _, e := range c.Args[2:] {
			if flags&PushLeft != 0 {
				l.list = append([]string{string(e)}, l.list...)
			} else {
				l.list = append(l.list, string(e))
			}
		}
		save()
		return Result{Int: int64(len(l.list))}, true
	case OpPop:
		if !found {
			return Result{}, true
		}
		n := i64(c.Args[2])
		if n < 0 {
			n = 1
		}
		res := Result{Found: true, Values: [][]byte{}}
		for ; n > 0 && len(l.list) > 0; n-- {
			if c.Args[1][0]&PushLeft != 0 {
				res.Values = append(res.Values, []byte(l.list[0]))
				l.list = l.list[1:]
			} else {
				res.Values = append(res.Values, []byte(l.list[len(l.list)-1]))
				l.list = l.list[:len(l.list)-1]
			}
		}
		save()
		return res, true
	case OpLSet:
		if !found {
			return Result{Err: ErrNoSuchKey}, true
		}
		i, ok := norm(i64(c.Args[1]))
		if !ok {
			return Result{Err: ErrIndexRange}, true
		}
		l.list[i] = string(c.Args[2])
		return Result{}, true
	case OpLRem:
		count := i64(c.Args[1])
		var kept []string
		var removed int64
		src := slices.Clone(l.list)
		if count < 0 {
			slices.Reverse(src)
		}
		for _, e := range src {
			if e == string(c.Args[2]) && (count == 0 || removed < max(count, -count)) {
				removed++
				continue
			}
			kept = append(kept, e)
		}
		if count < 0 {
			slices.Reverse(kept)
		}
		l.list = kept
		if found {
			save()
		}
		return Result{Int: removed}, true
	case OpLTrim:
		if !found {
			return Result{}, true
		}
		n := int64(len(l.list))
		start, stop := i64(c.Args[1]), i64(c.Args[2])
		if start < 0 {
			start = max(start+n, 0)
		}
		if stop < 0 {
			stop += n
		}
		if start > stop || start >= n {
			l.list = nil
		} else {
			l.list = l.list[start : min(stop, n-1)+1]
		}
		save()
		return Result{}, true
	}
	return Result{}, false
}

func (m *model) dump(applied uint64) string {
	keys := make([]string, 0, len(m.keys))
	for k := range m.keys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "applied=%d keys=%d\n", applied, len(m.keys))
	for _, k := range keys {
		if h := m.keys[k].hash; h != nil {
			fmt.Fprintf(&buf, "%q=hash(%d)", k, len(h))
		} else if l := m.keys[k].list; l != nil {
			fmt.Fprintf(&buf, "%q=list(%d)", k, len(l))
		} else if st := m.keys[k].set; st != nil {
			fmt.Fprintf(&buf, "%q=set(%d)", k, len(st))
		} else if z := m.keys[k].zset; z != nil {
			fmt.Fprintf(&buf, "%q=zset(%d)", k, len(z))
		} else {
			fmt.Fprintf(&buf, "%q=%q", k, m.keys[k].v)
		}
		if e := m.keys[k].expire; e != 0 {
			fmt.Fprintf(&buf, " expires %d", e)
		}
		buf.WriteByte('\n')
	}
	for _, k := range keys {
		h := m.keys[k].hash
		if h == nil {
			continue
		}
		fs := make([]string, 0, len(h))
		for f := range h {
			fs = append(fs, f)
		}
		sort.Strings(fs)
		fmt.Fprintf(&buf, "%q:", k)
		for _, f := range fs {
			fmt.Fprintf(&buf, " %q=%q", f, h[f])
		}
		buf.WriteByte('\n')
	}
	for _, k := range keys {
		if z := m.keys[k].zset; z != nil {
			fmt.Fprintf(&buf, "%q:", k)
			for _, mem := range zsetOrder(z) {
				fmt.Fprintf(&buf, " %q=%s", mem, FormatScore(z[mem]))
			}
			buf.WriteByte('\n')
		}
	}
	for _, k := range keys {
		if st := m.keys[k].set; st != nil {
			fmt.Fprintf(&buf, "%q:", k)
			for _, e := range sortedMembers(st) {
				fmt.Fprintf(&buf, " %q", e)
			}
			buf.WriteByte('\n')
		}
	}
	for _, k := range keys {
		if l := m.keys[k].list; l != nil {
			fmt.Fprintf(&buf, "%q:", k)
			for _, e := range l {
				fmt.Fprintf(&buf, " %q", e)
			}
			buf.WriteByte('\n')
		}
	}
	return buf.String()
}

func seeds() []uint64 {
	if *seedFlag != 0 {
		return []uint64{*seedFlag}
	}
	return []uint64{1, 2, 3, 4, 5}
}

// TestDeterminism feeds the same entries to two nodes in differently sized
// Apply calls (one of them crashing and replaying on the way) and checks
// that both end with the same bytes, the same results and the state a naive
// model predicts.
func TestDeterminism(t *testing.T) {
	for _, seed := range seeds() {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 0))
			ents := entries(1, randomCommands(r, 1000)...)

			m := &model{keys: map[string]modelKey{}}
			var want []Result
			for _, e := range ents {
				want = append(want, m.apply(e))
			}

			a := openNode(t, vfs.NewMem())
			var gotA []any
			for _, e := range ents {
				gotA = append(gotA, a.apply(t, e)...)
			}

			b := openNode(t, vfs.NewCrashableMem())
			gotB := make([]any, len(ents))
			for lo := 0; lo < len(ents); {
				hi := min(len(ents), lo+1+r.IntN(40))
				copy(gotB[lo:hi], b.apply(t, ents[lo:hi]...))
				if r.IntN(5) == 0 {
					// Crash, sometimes after a sync: replay from the applied
					// index the engine kept.
					if r.IntN(2) == 0 {
						b.syncWAL(t)
					}
					b = b.crashAndReopen(t)
					hi = int(b.fsm.Applied())
				}
				lo = hi
			}

			for i := range ents {
				wantResult(t, gotA[i], want[i])
				wantResult(t, gotB[i], want[i])
				if want[i].Err != nil && gotA[i].(Result).Err.Error() != gotB[i].(Result).Err.Error() {
					t.Fatalf("entry %d: error texts differ: %v vs %v", i+1, gotA[i], gotB[i])
				}
			}
			if m.expired == 0 {
				t.Fatal("no key expired in the workload: it does not test expiry")
			}
			wantDump := m.dump(uint64(len(ents)))
			if got := a.dump(t); got != wantDump {
				t.Fatalf("node a:\n%s\nmodel:\n%s", got, wantDump)
			}
			if got := b.dump(t); got != wantDump {
				t.Fatalf("node b:\n%s\nmodel:\n%s", got, wantDump)
			}
		})
	}
}

func TestKeyCount(t *testing.T) {
	for _, seed := range seeds() {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 1))
			fs := vfs.NewMem()
			n := openNode(t, fs)
			next := uint64(1)
			for round := 0; round < 20; round++ {
				ents := entries(next, randomCommands(r, 1+r.IntN(30))...)
				n.apply(t, ents...)
				next += uint64(len(ents))
				counted := uint64(0)
				if err := n.e.Iterate(func([]byte, engine.Record) error { counted++; return nil }); err != nil {
					t.Fatal(err)
				}
				if n.fsm.KeyCount() != counted {
					t.Fatalf("round %d: KeyCount = %d, %d keys held", round, n.fsm.KeyCount(), counted)
				}
			}
			count := n.fsm.KeyCount()
			n.close(t)
			if n = openNode(t, fs); n.fsm.KeyCount() != count {
				t.Fatalf("KeyCount after reopen = %d, want %d", n.fsm.KeyCount(), count)
			}
		})
	}
}

// FuzzApply: any entry data is applied without an Apply error; data that is
// rejected leaves the data set as it was, and the applied index advances
// either way.
func FuzzApply(f *testing.F) {
	f.Add(EncodeSet(k("k"), k("v")))
	f.Add(EncodeAppend(k("k"), k("\x00")))
	f.Add(EncodeDel(k("k"), k("k")))
	f.Add([]byte{})
	f.Add([]byte{byte(OpDel), 0})
	f.Add([]byte{0xff, 1, 1, 'x'})
	f.Add(EncodeIncrBy(k("k"), 1))
	f.Add(EncodeRename(k("missing"), k("x"), false))
	f.Add(EncodeSetRange(k("k"), 3, k("abc")))
	f.Add(EncodeMSet([][]byte{k("a"), k("1"), k("b"), k("2")}, true))
	f.Add(EncodeGetDel(k("k")))
	f.Add(EncodeFlush())
	f.Add(Stamp(2000, EncodeSetIf(k("k"), k("v"), SetKeepTTL|SetGet, 1500)))
	f.Add(Stamp(1000, EncodeExpire(k("k"), 1500, ExpireGT)))
	f.Add(EncodePersist(k("k")))
	f.Add(Stamp(1000, EncodeGetEx(k("k"), 999)))
	f.Add(Stamp(9000, EncodeDelExpired(k("k"), k("j"))))
	f.Add(EncodeHSet(k("h"), [][]byte{k("f"), k("1")}))
	f.Add(EncodeHIncrByFloat(k("h"), k("f"), k("1.5")))
	f.Add(EncodePush(k("l"), PushLeft, [][]byte{k("a"), k("b")}))
	f.Add(EncodeLRem(k("l"), -1, k("a")))
	f.Add(EncodeSAdd(k("s"), [][]byte{k("a")}))
	f.Add(EncodeSPop(k("s"), 3))
	f.Add(EncodeZAdd(k("z"), ZAddIncr, []float64{1.5}, [][]byte{k("m")}))
	f.Add(EncodeZPop(k("z"), true, 2))
	f.Add(EncodeIncrByFloat(k("k"), k("1.5")))
	f.Add(EncodeIncrByFloat(k("f"), k("0x1p16383")))
	n := openNode(f, vfs.NewMem())
	// Some data for DEL and APPEND to find.
	if _, err := n.fsm.Apply(entries(1, EncodeSet(k("k"), k("v")), EncodeSet(k("\x00"), nil))); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if cmd, err := Decode(data); err == nil && cmd.Op == OpSetRange && len(cmd.Args) == 3 &&
			len(cmd.Args[1]) == 8 && binary.BigEndian.Uint64(cmd.Args[1]) > 1<<20 && binary.BigEndian.Uint64(cmd.Args[1]) <= MaxString {
			return // a valid SETRANGE far out builds a value of that size: bound the fuzzer's memory
		}
		// A command that is refused may still delete keys that have
		// expired by its time, as Redis deletes an expired key it meets:
		// compare what is live at that time.
		now := n.fsm.Clock()
		if cmd, err := Decode(data); err == nil {
			now = max(now, cmd.Now)
		}
		before := n.dumpAt(t, now)
		next := n.fsm.Applied() + 1
		res, err := n.fsm.Apply([]raft.Entry{{Term: 1, Index: next, Data: data}})
		if err != nil {
			t.Fatalf("apply: %v", err)
		}
		if n.fsm.Applied() != next {
			t.Fatalf("applied = %d, want %d", n.fsm.Applied(), next)
		}
		r := res[0].(Result)
		if r.Err == nil {
			return
		}
		switch {
		case errors.Is(r.Err, ErrCorrupt):
		case r.Err == ErrNotInteger, r.Err == ErrOverflow, r.Err == ErrTooLong, r.Err == ErrNoSuchKey,
			r.Err == ErrNotFloat, r.Err == ErrNaNOrInf, r.Err == ErrWrongType, r.Err == ErrHashNotInteger,
			r.Err == ErrHashNotFloat, r.Err == ErrIndexRange, r.Err == ErrScoreNaN:
			// Redis's own refusals of a well-formed command.
		default:
			t.Fatalf("command error %v is neither ErrCorrupt nor one of Redis's", r.Err)
		}
		after := n.dumpAt(t, now)
		// Only the first line (applied index, key count) may differ.
		if before[strings.IndexByte(before, '\n'):] != after[strings.IndexByte(after, '\n'):] {
			t.Fatalf("a rejected command changed the data:\n%s\n->\n%s", before, after)
		}
	})
}

func TestSnapshotBetweenStateMachines(t *testing.T) {
	src := openNode(t, vfs.NewMem())
	src.apply(t, entries(1, EncodeSet(k("a"), k("1")), EncodeAppend(k("a"), k("2")), EncodeSet(k("b"), k("x")))...)
	// The snapshot reflects an index with a term: the log must hold it.
	if err := src.e.Save(raft.HardState{Term: 1, Commit: 3}, entries(1, nil, nil, nil), true); err != nil {
		t.Fatal(err)
	}
	snap, err := src.fsm.OpenSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	var buf bytes.Buffer
	if _, err := snap.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	dst := openNode(t, vfs.NewMem())
	if err := dst.fsm.InstallSnapshot(snap.Meta(), &buf); err != nil {
		t.Fatal(err)
	}
	if dst.fsm.Applied() != 3 {
		t.Fatalf("applied %d after install, want 3", dst.fsm.Applied())
	}
	if v, ok := dst.get(t, "a"); !ok || v != "12" {
		t.Fatalf("a = %q", v)
	}
	// Apply continues after the snapshot, and refuses a gap.
	dst.apply(t, entries(4, EncodeAppend(k("b"), k("y")))...)
	if v, _ := dst.get(t, "b"); v != "xy" {
		t.Fatalf("b = %q", v)
	}
	if _, err := dst.fsm.Apply(entries(9, EncodeSet(k("c"), nil))); !errors.Is(err, ErrGap) {
		t.Fatalf("apply after a gap: %v", err)
	}
}

// TestSPopLargeSet: above uniformPick members SPOP seeks to random points;
// it still removes distinct members that were there, all of them in the
// end, and two replicas remove the same ones.
func TestSPopLargeSet(t *testing.T) {
	var members [][]byte
	for i := range 2000 {
		members = append(members, fmt.Appendf(nil, "m%d", i))
	}
	cmds := [][]byte{EncodeSAdd(k("s"), members)}
	for range 30 {
		cmds = append(cmds, EncodeSPop(k("s"), 70))
	}
	ents := entries(1, cmds...)
	a, b := openNode(t, vfs.NewMem()), openNode(t, vfs.NewMem())
	resA := a.apply(t, ents...)
	b.apply(t, ents...)
	if a.dump(t) != b.dump(t) {
		t.Fatal("two replicas popped different members")
	}
	seen := map[string]bool{}
	for _, r := range resA[1:] {
		for _, m := range r.(Result).Values {
			if seen[string(m)] || !bytes.HasPrefix(m, k("m")) {
				t.Fatalf("SPOP returned %q twice or out of nowhere", m)
			}
			seen[string(m)] = true
		}
	}
	if len(seen) != 2000 || a.fsm.KeyCount() != 0 {
		t.Fatalf("%d distinct members popped, %d keys left", len(seen), a.fsm.KeyCount())
	}
}

// TestMulti: a transaction's writes apply in order with a result each
// (a refusal does not stop the others), its reads see the writes before
// them on the node that proposed it, a replica without the reader ends
// with the same data, and a changed watched key aborts it all.
func TestMulti(t *testing.T) {
	a, b := openNode(t, vfs.NewMem()), openNode(t, vfs.NewMem())
	setup := entries(1, EncodeSet(k("x"), k("1")), EncodeSet(k("w"), k("watched")))
	a.apply(t, setup...)
	b.apply(t, setup...)
	v, _ := a.e.View()
	d, err := KeyDigest(v, k("w"), 0)
	v.Close()
	if err != nil {
		t.Fatal(err)
	}
	tx := EncodeMulti(7, []Watched{{Key: k("w"), Digest: d}}, [][]byte{
		append([]byte{TxWrite}, EncodeIncrBy(k("x"), 5)...),
		{TxRead},
		append([]byte{TxWrite}, EncodeHSet(k("x"), [][]byte{k("f"), k("v")})...), // WRONGTYPE
		{TxAnswered},
		append([]byte{TxWrite}, EncodeAppend(k("y"), k("z"))...),
		{TxRead},
	})
	var seen []string
	cancel := a.fsm.OnTxReads(7, func(i int, r Reader, now int64) {
		rec, found, err := r.Key(k("x"))
		yr, _, _ := r.Key(k("y"))
		seen = append(seen, fmt.Sprintf("%d:%s/%v/%v/%s", i, rec.Value, found, err, yr.Value))
	})
	res := a.apply(t, entries(3, Stamp(1000, tx))...)[0].(Result)
	cancel()
	b.apply(t, entries(3, Stamp(1000, tx))...)
	if got := strings.Join(seen, " "); got != "1:6/true/<nil>/ 5:6/true/<nil>/z" {
		t.Fatalf("reads saw %s", got)
	}
	if res.Aborted || len(res.Multi) != 6 || res.Multi[0].Int != 6 || res.Multi[2].Err != ErrWrongType || res.Multi[4].Int != 1 {
		t.Fatalf("results %+v", res)
	}
	if a.dump(t) != b.dump(t) {
		t.Fatalf("the proposer and a replica differ:\n%s\n%s", a.dump(t), b.dump(t))
	}
	// w has not changed: the same transaction with its watch runs again;
	// once w changes, it aborts and changes nothing.
	a.apply(t, entries(4, EncodeSet(k("w"), k("changed")))...)
	before := a.dump(t)
	res = a.apply(t, entries(5, Stamp(1000, tx))...)[0].(Result)
	if !res.Aborted || res.Multi != nil {
		t.Fatalf("a transaction whose watched key changed: %+v", res)
	}
	if after := a.dump(t); after[strings.IndexByte(after, '\n'):] != before[strings.IndexByte(before, '\n'):] {
		t.Fatalf("an aborted transaction changed the data:\n%s\n%s", before, after)
	}
}

// TestEncodeWrites: writes packed into one entry (EncodeWrites) leave the
// data a node that applied them as entries of their own has, and return
// each the result it returned there, a refusal included.
func TestEncodeWrites(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for round := range 20 {
		one, packed := openNode(t, vfs.NewMem()), openNode(t, vfs.NewMem())
		setup := entries(1, EncodeHSet(k("h"), [][]byte{k("f"), k("v")}))
		one.apply(t, setup...)
		packed.apply(t, setup...)
		cmds := make([][]byte, 1+r.IntN(40))
		for i := range cmds {
			key := k(string(rune('a' + r.IntN(4))))
			if r.IntN(8) == 0 {
				key = k("h") // WRONGTYPE for APPEND
			}
			switch r.IntN(3) {
			case 0:
				cmds[i] = EncodeSet(key, fmt.Appendf(nil, "v%d", i))
			case 1:
				cmds[i] = EncodeAppend(key, fmt.Appendf(nil, "+%d", i))
			default:
				cmds[i] = EncodeDel(key, k(string(rune('a'+r.IntN(4)))))
			}
		}
		stamped := make([][]byte, len(cmds))
		for i, c := range cmds {
			stamped[i] = Stamp(1000, c)
		}
		want := one.apply(t, entries(2, stamped...)...)
		got := packed.apply(t, entries(2, EncodeWrites(1000, cmds))...)[0].(Result)
		if got.Aborted || got.Err != nil || len(got.Multi) != len(cmds) {
			t.Fatalf("round %d: packed result %+v for %d writes", round, got, len(cmds))
		}
		for i := range cmds {
			w := want[i].(Result)
			if g := got.Multi[i]; g.Int != w.Int || g.Err != w.Err {
				t.Fatalf("round %d, write %d: packed %+v, alone %+v", round, i, g, w)
			}
		}
		// The applied indexes differ (one entry against many): compare
		// the data below the first line.
		a, b := one.dump(t), packed.dump(t)
		if a[strings.IndexByte(a, '\n'):] != b[strings.IndexByte(b, '\n'):] {
			t.Fatalf("round %d: the data differs:\n%s\n%s", round, a, b)
		}
	}
}

// TestEncodeWritesAllPlain: a packed entry of SETs alone, whose results
// are all Result{}, returns one per write, more writes than the shared
// zero results too, and a SET's result is still its own in a pack where
// another write answers something else.
func TestEncodeWritesAllPlain(t *testing.T) {
	for _, n := range []int{1, 16, len(zeroResults) + 1} {
		node := openNode(t, vfs.NewMem())
		cmds := make([][]byte, n)
		for i := range cmds {
			cmds[i] = EncodeSet(fmt.Appendf(nil, "k%d", i), fmt.Appendf(nil, "v%d", i))
		}
		got := node.apply(t, entries(1, EncodeWrites(1000, cmds))...)[0].(Result)
		if got.Err != nil || len(got.Multi) != n {
			t.Fatalf("%d SETs packed: result %+v", n, got)
		}
		for i, r := range got.Multi {
			if !r.isZero() {
				t.Fatalf("%d SETs packed: write %d answered %+v", n, i, r)
			}
		}
		if keys := node.e.KeyCount(); keys != uint64(n) {
			t.Fatalf("%d SETs packed: %d keys", n, keys)
		}
		mixed := [][]byte{EncodeSet(k("k0"), k("v0")), EncodeAppend(k("k0"), k("+")), EncodeSet(k("k1"), k("w"))}
		got = node.apply(t, entries(2, EncodeWrites(1000, mixed))...)[0].(Result)
		want := []int64{0, 3, 0} // APPEND makes "v0+"
		if len(got.Multi) != len(want) {
			t.Fatalf("mixed pack: result %+v", got)
		}
		for i, r := range got.Multi {
			if r.Int != want[i] || r.Err != nil {
				t.Fatalf("mixed pack: write %d answered %+v, want Int %d", i, r, want[i])
			}
		}
		for i := range zeroResults {
			if !zeroResults[i].isZero() {
				t.Fatalf("shared zero result %d was written to: %+v", i, zeroResults[i])
			}
		}
	}
}

// TestMillionFieldHash: a hash of 1,000,000 fields is read back field by
// field from a view without the hash ever being loaded whole (the bytes
// allocated while reading all of it stay a small fraction of its size),
// and DEL removes all of it.
func TestMillionFieldHash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 1,000,000-field hash; -short leaves it out")
	}
	n := openNode(t, vfs.NewMem())
	const batches, per = 1000, 1000
	next := uint64(1)
	for b := range batches {
		pairs := make([][]byte, 0, 2*per)
		for i := range per {
			pairs = append(pairs, fmt.Appendf(nil, "field:%07d", b*per+i), fmt.Appendf(nil, "value:%07d", b*per+i))
		}
		n.apply(t, entries(next, EncodeHSet(k("big"), pairs))...)
		next++
	}
	r, _, _ := n.fsm.Key(k("big"))
	if c, err := ElemCount(r); err != nil || c != batches*per {
		t.Fatalf("the record counts %d fields, %v", c, err)
	}
	v, err := n.e.View()
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	count, size := 0, 0
	err = v.Elems(engine.TypeHash, k("big"), nil, nil, func(f, val []byte) error {
		count++
		size += len(f) + len(val)
		return nil
	})
	runtime.ReadMemStats(&after)
	v.Close()
	if err != nil || count != batches*per {
		t.Fatalf("read %d fields, %v", count, err)
	}
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("read %d fields (%d bytes) allocating %d bytes", count, size, allocated)
	if allocated > uint64(size)/10 {
		t.Fatalf("reading %d bytes of fields allocated %d bytes: the hash was loaded whole", size, allocated)
	}
	n.apply(t, entries(next, EncodeDel(k("big")))...)
	v, _ = n.e.View()
	defer v.Close()
	left := 0
	v.Elems(engine.TypeHash, k("big"), nil, nil, func(_, _ []byte) error { left++; return nil })
	if left != 0 || n.fsm.KeyCount() != 0 {
		t.Fatalf("after DEL: %d fields, %d keys", left, n.fsm.KeyCount())
	}
}

// TestZPopMarks: pops move the sorted set's marks past what they removed,
// and a member added behind a mark clears it, so it is popped next.
func TestZPopMarks(t *testing.T) {
	n := openNode(t, vfs.NewMem())
	z := k("z")
	res := n.apply(t, entries(1,
		EncodeZAdd(z, 0, []float64{1, 2, 3, 4, 5}, [][]byte{k("a"), k("b"), k("c"), k("d"), k("e")}),
		EncodeZPop(z, false, 2), // a, b: the low mark is past b
		EncodeZPop(z, true, 1),  // e: the high mark is at e
		EncodeZAdd(z, 0, []float64{0, 9}, [][]byte{k("low"), k("high")}),
		EncodeZPop(z, false, 1), // low, added behind the low mark
		EncodeZPop(z, true, 1),  // high, added past the high mark
		EncodeZPop(z, false, 5), // c, d
	)...)
	want := []string{"", "a 1 b 2", "e 5", "", "low 0", "high 9", "c 3 d 4"}
	for i, w := range want {
		var got []string
		for _, v := range res[i].(Result).Values {
			got = append(got, string(v))
		}
		if strings.Join(got, " ") != w {
			t.Fatalf("entry %d popped %q, want %q", i+1, got, w)
		}
	}
	if n.fsm.KeyCount() != 0 {
		t.Fatal("the emptied sorted set is still a key")
	}
}
