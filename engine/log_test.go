package engine

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/raftkv/raftkv/raft"
)

const testDir = "db"

// openMem opens an Engine on fs, closing it when the test ends.
func openMem(t *testing.T, fs vfs.FS) *Engine {
	t.Helper()
	return openWith(t, Options{FS: fs})
}

// openWith opens an engine at testDir with o, closed when the test ends.
func openWith(t *testing.T, o Options) *Engine {
	t.Helper()
	e, err := Open(testDir, o)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return e
}

// closeEngine closes e (the cleanup's second Close is a no-op).
func closeEngine(t *testing.T, e *Engine) {
	t.Helper()
	if err := e.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// mkEnts builds entries lo..hi (inclusive) of one term, with data that
// names index and term so that a replaced entry is told apart.
func mkEnts(lo, hi, term uint64) []raft.Entry {
	var ents []raft.Entry
	for i := lo; i <= hi; i++ {
		ents = append(ents, raft.Entry{Term: term, Index: i, Data: []byte(fmt.Sprintf("e%d/t%d", i, term))})
	}
	return ents
}

func mustSave(t *testing.T, e *Engine, hs raft.HardState, ents []raft.Entry, sync bool) {
	t.Helper()
	if err := e.Save(hs, ents, sync); err != nil {
		t.Fatalf("save: %v", err)
	}
}

// checkLog asserts that e holds exactly want (contiguous, from want[0]),
// through every read method.
func checkLog(t *testing.T, e *Engine, want []raft.Entry) {
	t.Helper()
	first, _ := e.FirstIndex()
	last, _ := e.LastIndex()
	if len(want) == 0 {
		if first != 1 || last != 0 {
			t.Fatalf("empty log: first, last = %d, %d, want 1, 0", first, last)
		}
		return
	}
	if first != want[0].Index || last != want[len(want)-1].Index {
		t.Fatalf("first, last = %d, %d, want %d, %d", first, last, want[0].Index, want[len(want)-1].Index)
	}
	got, err := e.Entries(first, last+1, math.MaxUint64)
	if err != nil {
		t.Fatalf("entries: %v", err)
	}
	if !entsEqual(got, want) {
		t.Fatalf("entries = %v, want %v", got, want)
	}
	for _, w := range want {
		term, err := e.Term(w.Index)
		if err != nil || term != w.Term {
			t.Fatalf("term(%d) = %d, %v, want %d", w.Index, term, err, w.Term)
		}
	}
	if _, err := e.Term(last + 1); !errors.Is(err, raft.ErrUnavailable) {
		t.Fatalf("term(last+1): err = %v, want ErrUnavailable", err)
	}
}

func entsEqual(a, b []raft.Entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Term != b[i].Term || a[i].Index != b[i].Index || a[i].Type != b[i].Type ||
			!bytes.Equal(a[i].Data, b[i].Data) {
			return false
		}
	}
	return true
}

func TestEmptyLog(t *testing.T) {
	e := openMem(t, vfs.NewMem())
	checkLog(t, e, nil)
	hs, err := e.InitialState()
	if err != nil || !hs.IsEmpty() {
		t.Fatalf("initial state = %+v, %v, want empty", hs, err)
	}
	if term, err := e.Term(0); err != nil || term != 0 {
		t.Fatalf("term(0) = %d, %v, want 0 (FirstIndex-1 of an empty log)", term, err)
	}
	if _, err := e.Term(1); !errors.Is(err, raft.ErrUnavailable) {
		t.Fatalf("term(1) err = %v, want ErrUnavailable", err)
	}
	if ents, err := e.Entries(1, 1, 0); err != nil || len(ents) != 0 {
		t.Fatalf("entries(1,1) = %v, %v, want none", ents, err)
	}
	if _, err := e.Entries(1, 2, 0); !errors.Is(err, raft.ErrUnavailable) {
		t.Fatalf("entries(1,2) err = %v, want ErrUnavailable", err)
	}
	if _, err := e.Entries(0, 1, 0); !errors.Is(err, raft.ErrCompacted) {
		t.Fatalf("entries(0,1) err = %v, want ErrCompacted", err)
	}
	if applied, _ := e.Applied(); applied != 0 || e.KeyCount() != 0 {
		t.Fatalf("applied, keys = %d, %d, want 0, 0", applied, e.KeyCount())
	}
}

func TestFullLogBoundsAndErrors(t *testing.T) {
	e := openMem(t, vfs.NewMem())
	ents := append(mkEnts(1, 3, 1), mkEnts(4, 10, 2)...)
	mustSave(t, e, raft.HardState{Term: 2, Vote: 1, Commit: 5}, ents, true)
	checkLog(t, e, ents)

	if term, err := e.Term(0); err != nil || term != 0 {
		t.Fatalf("term(FirstIndex-1) = %d, %v, want 0", term, err)
	}
	if _, err := e.Entries(0, 5, math.MaxUint64); !errors.Is(err, raft.ErrCompacted) {
		t.Fatalf("entries(0,5) err = %v, want ErrCompacted", err)
	}
	if _, err := e.Entries(5, 12, math.MaxUint64); !errors.Is(err, raft.ErrUnavailable) {
		t.Fatalf("entries(5,12) err = %v, want ErrUnavailable", err)
	}
	if _, err := e.Entries(6, 5, math.MaxUint64); err == nil {
		t.Fatal("entries(6,5): want an error for an inverted range")
	}
	got, err := e.Entries(4, 7, math.MaxUint64)
	if err != nil || !entsEqual(got, ents[3:6]) {
		t.Fatalf("entries(4,7) = %v, %v, want %v", got, err, ents[3:6])
	}
	hs, err := e.InitialState()
	if err != nil || hs != (raft.HardState{Term: 2, Vote: 1, Commit: 5}) {
		t.Fatalf("initial state = %+v, %v", hs, err)
	}
}

func TestSaveHardStateAlone(t *testing.T) {
	e := openMem(t, vfs.NewMem())
	mustSave(t, e, raft.HardState{Term: 1, Vote: 2}, nil, true)
	mustSave(t, e, raft.HardState{}, mkEnts(1, 2, 1), true) // empty hs: keep the saved one
	hs, err := e.InitialState()
	if err != nil || hs != (raft.HardState{Term: 1, Vote: 2}) {
		t.Fatalf("initial state = %+v, %v, want term 1 vote 2", hs, err)
	}
	mustSave(t, e, raft.HardState{Term: 3, Vote: 3, Commit: 2}, nil, false)
	if hs, _ := e.InitialState(); hs != (raft.HardState{Term: 3, Vote: 3, Commit: 2}) {
		t.Fatalf("initial state = %+v, want term 3 vote 3 commit 2", hs)
	}
	checkLog(t, e, mkEnts(1, 2, 1))
}

func TestSaveReplacesSuffix(t *testing.T) {
	fs := vfs.NewMem()
	e := openMem(t, fs)
	mustSave(t, e, raft.HardState{}, mkEnts(1, 10, 1), true)

	// A shorter conflicting run drops everything after it.
	mustSave(t, e, raft.HardState{}, mkEnts(5, 6, 2), true)
	want := append(mkEnts(1, 4, 1), mkEnts(5, 6, 2)...)
	checkLog(t, e, want)
	if _, err := e.Entries(7, 8, 0); !errors.Is(err, raft.ErrUnavailable) {
		t.Fatalf("entries(7,8) after truncation: err = %v, want ErrUnavailable", err)
	}

	// A longer one replaces and extends.
	mustSave(t, e, raft.HardState{}, mkEnts(6, 12, 3), true)
	want = append(want[:5], mkEnts(6, 12, 3)...)
	checkLog(t, e, want)

	// Appending right after the last entry.
	mustSave(t, e, raft.HardState{}, mkEnts(13, 13, 3), true)
	want = append(want, mkEnts(13, 13, 3)...)
	checkLog(t, e, want)

	// Replacing the whole log from its first entry.
	mustSave(t, e, raft.HardState{}, mkEnts(1, 2, 4), true)
	want = mkEnts(1, 2, 4)
	checkLog(t, e, want)

	// The truncation is on disk, not only in the in-memory bounds.
	closeEngine(t, e)
	e = openMem(t, fs)
	checkLog(t, e, want)
}

func TestSaveRejectsBadEntries(t *testing.T) {
	e := openMem(t, vfs.NewMem())
	mustSave(t, e, raft.HardState{}, mkEnts(1, 3, 1), true)
	cases := map[string][]raft.Entry{
		"gap after last":  mkEnts(5, 6, 1),
		"not contiguous":  {{Term: 1, Index: 4}, {Term: 1, Index: 6}},
		"index 0":         {{Term: 1, Index: 0}, {Term: 1, Index: 1}},
		"decreasing runs": {{Term: 1, Index: 3}, {Term: 1, Index: 2}},
	}
	for name, ents := range cases {
		if err := e.Save(raft.HardState{Term: 9}, ents, true); err == nil {
			t.Errorf("%s: save succeeded, want an error", name)
		}
	}
	// Nothing of the rejected saves, not even their hard state, was written.
	checkLog(t, e, mkEnts(1, 3, 1))
	if hs, _ := e.InitialState(); !hs.IsEmpty() {
		t.Fatalf("hard state = %+v after rejected saves, want empty", hs)
	}
}

func TestEntriesMaxSize(t *testing.T) {
	e := openMem(t, vfs.NewMem())
	var ents []raft.Entry
	for i := uint64(1); i <= 10; i++ {
		ents = append(ents, raft.Entry{Term: 1, Index: i, Data: bytes.Repeat([]byte{byte(i)}, 100)})
	}
	mustSave(t, e, raft.HardState{}, ents, true)
	per := uint64(100 + entryOverhead)
	cases := []struct {
		maxSize uint64
		want    int
	}{
		{0, 1},          // always at least one entry
		{per - 1, 1},    // even if that one is over the limit
		{per, 1},        // exactly one
		{2*per - 1, 1},  // one byte short of two
		{2 * per, 2},    // exactly two
		{5*per + 50, 5}, // between five and six
		{math.MaxUint64, 10},
	}
	for _, c := range cases {
		got, err := e.Entries(1, 11, c.maxSize)
		if err != nil {
			t.Fatalf("entries(1,11,%d): %v", c.maxSize, err)
		}
		if !entsEqual(got, ents[:c.want]) {
			t.Errorf("entries(1,11,%d) returned %d entries, want %d", c.maxSize, len(got), c.want)
		}
	}
	// The limit applies from lo, not from the first index.
	got, err := e.Entries(9, 11, 0)
	if err != nil || !entsEqual(got, ents[8:9]) {
		t.Fatalf("entries(9,11,0) = %v, %v, want entry 9 only", got, err)
	}
}

func TestEntriesDataIsOwned(t *testing.T) {
	e := openMem(t, vfs.NewMem())
	mustSave(t, e, raft.HardState{}, mkEnts(1, 5, 1), true)
	got, err := e.Entries(1, 6, math.MaxUint64)
	if err != nil {
		t.Fatal(err)
	}
	// Overwriting the log must not change slices already handed out.
	mustSave(t, e, raft.HardState{}, mkEnts(1, 5, 2), true)
	if !entsEqual(got, mkEnts(1, 5, 1)) {
		t.Fatalf("entries changed under the caller: %v", got)
	}
	// Empty data and the entry type survive the round trip.
	mustSave(t, e, raft.HardState{}, []raft.Entry{{Term: 3, Index: 6, Type: raft.EntryType(7)}}, true)
	got, err = e.Entries(6, 7, 0)
	if err != nil || len(got) != 1 || got[0].Term != 3 || got[0].Type != 7 || len(got[0].Data) != 0 {
		t.Fatalf("entries(6,7) = %+v, %v", got, err)
	}
}

func TestReopenKeepsState(t *testing.T) {
	fs := vfs.NewMem()
	e := openMem(t, fs)
	ents := append(mkEnts(1, 4, 1), mkEnts(5, 8, 3)...)
	hs := raft.HardState{Term: 3, Vote: 2, Commit: 6}
	mustSave(t, e, hs, ents, true)
	b := e.NewApplyBatch()
	for i := 0; i < 5; i++ {
		if err := b.Set([]byte{'k', byte(i)}, []byte{'v', byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(6); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	before := dumpData(t, e)
	closeEngine(t, e)

	e = openMem(t, fs)
	checkLog(t, e, ents)
	if got, _ := e.InitialState(); got != hs {
		t.Fatalf("hard state after reopen = %+v, want %+v", got, hs)
	}
	if applied, _ := e.Applied(); applied != 6 || e.KeyCount() != 5 {
		t.Fatalf("after reopen applied, keys = %d, %d, want 6, 5", applied, e.KeyCount())
	}
	if after := dumpData(t, e); after != before {
		t.Fatalf("data after reopen:\n%s\nwant:\n%s", after, before)
	}
}

// dumpData renders every key record, in order.
func dumpData(t *testing.T, e *Engine) string {
	t.Helper()
	var buf bytes.Buffer
	if err := e.Iterate(func(k []byte, r Record) error {
		fmt.Fprintf(&buf, "%q=%q", k, r.Value)
		if r.Type != TypeString {
			fmt.Fprintf(&buf, " %s", r.Type)
		}
		if r.Expire != 0 {
			fmt.Fprintf(&buf, " expires %d", r.Expire)
		}
		buf.WriteByte('\n')
		return nil
	}); err != nil {
		t.Fatalf("iterate: %v", err)
	}
	return buf.String()
}
