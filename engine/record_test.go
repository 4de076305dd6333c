package engine

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/raftkv/raftkv/raft"
)

func TestRecordEncoding(t *testing.T) {
	for _, r := range []Record{
		{Type: TypeString},
		{Type: TypeString, Value: []byte("v\x00\r\n")},
		{Type: TypeString, Expire: 1, Value: []byte("x")},
		{Type: TypeHash, Expire: -5},
		{Type: TypeZSet, Expire: 1<<62 + 3, Value: []byte{0x80, 0}},
	} {
		enc := make([]byte, recordLen(r))
		putRecord(enc, r)
		got, err := decodeRecord(enc)
		if err != nil || got.Type != r.Type || got.Expire != r.Expire || !bytes.Equal(got.Value, r.Value) {
			t.Errorf("%+v came back as %+v, %v", r, got, err)
		}
	}
	for _, bad := range [][]byte{nil, {0}, {6}, {0x81, 0, 0}, {0x81, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if _, err := decodeRecord(bad); err == nil {
			t.Errorf("%x decoded", bad)
		}
	}
}

// expiring lists the keys Expiring returns at now, as one string.
func expiring(t *testing.T, e *Engine, now int64) string {
	t.Helper()
	keys, err := e.Expiring(now, 100)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%q", keys)
}

// TestExpiryIndex: the index follows every record's expiry through puts,
// deletes and FLUSHDB, lists keys soonest first, and its count, like the
// clock, survives a reopen.
func TestExpiryIndex(t *testing.T) {
	fs := vfs.NewMem()
	e := openMem(t, fs)
	b := e.NewApplyBatch()
	put := func(k string, expire int64) {
		t.Helper()
		if err := b.Put([]byte(k), Record{Type: TypeString, Expire: expire, Value: []byte(k)}); err != nil {
			t.Fatal(err)
		}
	}
	put("late", 300)
	put("soon", 100)
	put("never", 0)
	put("moved", 50)
	put("moved", 250) // a new expiry replaces the old entry
	put("cleared", 120)
	put("cleared", 0) // PERSIST
	put("gone", 110)
	if err := b.Delete([]byte("gone")); err != nil {
		t.Fatal(err)
	}
	put("", 200) // the empty key
	b.SetClock(1000)
	b.SetClock(900) // the clock never goes back
	if err := b.Commit(1); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if e.KeyCount() != 6 || e.Expires() != 4 || e.Clock() != 1000 {
		t.Fatalf("keys %d expires %d clock %d, want 6, 4, 1000", e.KeyCount(), e.Expires(), e.Clock())
	}
	for now, want := range map[int64]string{
		100:  `[]`, // expired only once now > expiry
		101:  `["soon"]`,
		201:  `["soon" ""]`,
		1000: `["soon" "" "moved" "late"]`,
	} {
		if got := expiring(t, e, now); got != want {
			t.Errorf("Expiring(%d) = %s, want %s", now, got, want)
		}
	}
	if keys, _ := e.Expiring(1000, 2); len(keys) != 2 {
		t.Errorf("Expiring with limit 2 gave %d keys", len(keys))
	}

	closeEngine(t, e)
	e = openMem(t, fs)
	if e.KeyCount() != 6 || e.Expires() != 4 || e.Clock() != 1000 {
		t.Fatalf("after reopen: keys %d expires %d clock %d", e.KeyCount(), e.Expires(), e.Clock())
	}
	if got := expiring(t, e, 1000); got != `["soon" "" "moved" "late"]` {
		t.Fatalf("after reopen: Expiring = %s", got)
	}
	if r, ok, err := e.Key([]byte("moved")); err != nil || !ok || r.Expire != 250 || string(r.Value) != "moved" {
		t.Fatalf("moved = %+v %v %v", r, ok, err)
	}

	b = e.NewApplyBatch()
	if err := b.DeleteAll(); err != nil {
		t.Fatal(err)
	}
	if err := b.Put([]byte("after"), Record{Type: TypeString, Expire: 5}); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(2); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if e.KeyCount() != 1 || e.Expires() != 1 || e.Clock() != 1000 || expiring(t, e, 1000) != `["after"]` {
		t.Fatalf("after FLUSHDB: keys %d expires %d clock %d index %s", e.KeyCount(), e.Expires(), e.Clock(), expiring(t, e, 1000))
	}
}

// TestSnapshotCarriesExpiry: a follower installing a snapshot gets the
// expiries, their index, their count and the clock, and digests the same.
func TestSnapshotCarriesExpiry(t *testing.T) {
	src := openMem(t, vfs.NewMem())
	fillLog(t, src, 10)
	b := src.NewApplyBatch()
	b.Put([]byte("a"), Record{Type: TypeString, Expire: 500, Value: []byte("1")})
	b.Put([]byte("b"), Record{Type: TypeString, Value: []byte("2")})
	b.SetClock(400)
	if err := b.Commit(11); err != nil {
		t.Fatal(err)
	}
	b.Close()
	src.Save(raft.HardState{Term: 11, Commit: 11}, []raft.Entry{{Index: 11, Term: 11}}, true)
	meta, stream := streamSnapshot(t, src)
	dst := openMem(t, vfs.NewMem())
	if err := dst.InstallSnapshot(meta, stream); err != nil {
		t.Fatal(err)
	}
	if dst.KeyCount() != src.KeyCount() || dst.Expires() != 1 || dst.Clock() != 400 || expiring(t, dst, 501) != `["a"]` {
		t.Fatalf("installed: keys %d expires %d clock %d index %s", dst.KeyCount(), dst.Expires(), dst.Clock(), expiring(t, dst, 501))
	}
	_, d1, _ := src.Digest()
	_, d2, _ := dst.Digest()
	if d1 != d2 {
		t.Fatal("digests differ after install")
	}
}
