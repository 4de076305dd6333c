package engine

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/raftkv/raftkv/raft"
)

// crash simulates a machine crash of e's file system: it returns a copy of
// fs holding everything synced and unsyncedPct percent of what was not,
// and closes e (whose later writes do not reach the copy).
func crash(t *testing.T, e *Engine, fs *vfs.MemFS, unsyncedPct int, seed int64) *vfs.MemFS {
	t.Helper()
	cfg := vfs.CrashCloneCfg{UnsyncedDataPercent: unsyncedPct}
	if unsyncedPct > 0 {
		cfg.RNG = rand.New(rand.NewPCG(uint64(seed), 0))
	}
	clone := fs.CrashClone(cfg)
	closeEngine(t, e)
	return clone
}

func TestSyncedSaveSurvivesCrash(t *testing.T) {
	fs := vfs.NewCrashableMem()
	e := openMem(t, fs)
	hs := raft.HardState{Term: 4, Vote: 2, Commit: 3}
	ents := append(mkEnts(1, 5, 1), mkEnts(6, 9, 4)...)
	mustSave(t, e, hs, ents[:5], true)
	mustSave(t, e, hs, ents[5:], true)

	e = openMem(t, crash(t, e, fs, 0, 0))
	checkLog(t, e, ents)
	if got, _ := e.InitialState(); got != hs {
		t.Fatalf("hard state after crash = %+v, want %+v", got, hs)
	}
}

func TestSyncedTruncationSurvivesCrash(t *testing.T) {
	fs := vfs.NewCrashableMem()
	e := openMem(t, fs)
	mustSave(t, e, raft.HardState{Term: 1}, mkEnts(1, 10, 1), true)
	mustSave(t, e, raft.HardState{Term: 2}, mkEnts(4, 5, 2), true)

	e = openMem(t, crash(t, e, fs, 0, 0))
	checkLog(t, e, append(mkEnts(1, 3, 1), mkEnts(4, 5, 2)...))
}

// TestUnsyncedSaveIsAtomic: a Save without sync may be lost in a crash,
// but never in part: hard state and entries go together.
func TestUnsyncedSaveIsAtomic(t *testing.T) {
	seen := map[bool]bool{}
	for seed := int64(0); seed < 12; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			fs := vfs.NewCrashableMem()
			e := openMem(t, fs)
			base := mkEnts(1, 3, 1)
			mustSave(t, e, raft.HardState{Term: 1, Commit: 1}, base, true)
			more := mkEnts(4, 40, 2)
			for i := range more {
				more[i].Data = bytes.Repeat(more[i].Data, 200) // several WAL blocks
			}
			walBefore := walBytes(t, fs)
			mustSave(t, e, raft.HardState{Term: 2, Commit: 3}, more, false)
			pushWAL(t, e, fs, walBefore+int64(len(more))*1000)

			e = openMem(t, crash(t, e, fs, pctForSeed(seed), seed))
			hs, err := e.InitialState()
			if err != nil {
				t.Fatal(err)
			}
			switch hs.Term {
			case 1:
				checkLog(t, e, base)
				seen[false] = true
			case 2:
				checkLog(t, e, append(base, more...))
				seen[true] = true
			default:
				t.Fatalf("hard state %+v is neither the synced nor the unsynced one", hs)
			}
		})
	}
	// Seeds include 0% and 100% unsynced data, so both outcomes occur.
	if !seen[false] || !seen[true] {
		t.Fatalf("outcomes seen: %v; want both lost and kept", seen)
	}
}

// TestUnsyncedApplyIsAllOrNothing: an apply batch is committed without a
// sync; after a crash its data, applied index and key count are either all
// there or all absent.
func TestUnsyncedApplyIsAllOrNothing(t *testing.T) {
	seen := map[bool]bool{}
	for seed := int64(0); seed < 12; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			fs := vfs.NewCrashableMem()
			e := openMem(t, fs)
			mustSave(t, e, raft.HardState{Term: 1, Commit: 2}, mkEnts(1, 2, 1), true)
			applyKeys(t, e, 1, "old", 3)
			// Make the first batch durable: a synced write syncs the WAL
			// and with it every earlier write.
			mustSave(t, e, raft.HardState{Term: 1, Commit: 2}, nil, true)
			walBefore := walBytes(t, fs)
			applyKeys(t, e, 2, "new", 50)
			pushWAL(t, e, fs, walBefore+50*valueSize)

			e = openMem(t, crash(t, e, fs, pctForSeed(seed), seed))
			applied, _ := e.Applied()
			newKeys := 0
			if err := e.Iterate(func(k []byte, _ Record) error {
				if len(k) >= 3 && string(k[:3]) == "new" {
					newKeys++
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			switch {
			case applied == 1 && newKeys == 0 && e.KeyCount() == 3:
				seen[false] = true
			case applied == 2 && newKeys == 50 && e.KeyCount() == 53:
				seen[true] = true
			default:
				t.Fatalf("torn apply: applied %d, %d new keys, count %d", applied, newKeys, e.KeyCount())
			}
			if v, ok := mustGet(t, e.Key, []byte("old0")); !ok || len(v) != valueSize {
				t.Fatalf("the synced batch was lost: %q, %v", v, ok)
			}
		})
	}
	// Seeds include 0% and 100% unsynced data, so both outcomes occur.
	if !seen[false] || !seen[true] {
		t.Fatalf("outcomes seen: %v; want both lost and kept", seen)
	}
}

// pctForSeed spreads the seeds over "lose all unsynced data", "keep all"
// and partial losses.
func pctForSeed(seed int64) int {
	switch seed % 4 {
	case 0:
		return 0
	case 1:
		return 100
	case 2:
		return 50
	}
	return 90
}

// valueSize is the size of each value applyKeys writes.
const valueSize = 2 << 10

// walBytes is the total size of the write-ahead log files in the database.
func walBytes(t *testing.T, fs *vfs.MemFS) int64 {
	t.Helper()
	names, err := fs.List(testDir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, name := range names {
		if !strings.HasSuffix(name, ".log") {
			continue
		}
		fi, err := fs.Stat(fs.PathJoin(testDir, name))
		if err != nil {
			t.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}

// pushWAL makes sure that the WAL file (unsynced) holds at least size
// bytes, so that a crash can keep all, some or none of the writes before.
// pebble's WAL writer copies full blocks to the file in the background but
// may keep the last partial block in memory until the next write: a filler
// record that the log replay ignores pushes that block out.
func pushWAL(t *testing.T, e *Engine, fs *vfs.MemFS, size int64) {
	t.Helper()
	if err := e.db.LogData(make([]byte, 64<<10), pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return walBytes(t, fs) >= size })
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// applyKeys commits one apply batch setting n keys prefix0..prefix<n-1>.
func applyKeys(t *testing.T, e *Engine, applied uint64, prefix string, n int) {
	t.Helper()
	b := e.NewApplyBatch()
	defer b.Close()
	for i := 0; i < n; i++ {
		// Values big enough that one batch spans several WAL blocks.
		if err := b.Set([]byte(fmt.Sprintf("%s%d", prefix, i)), bytes.Repeat([]byte("v"), valueSize)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(applied); err != nil {
		t.Fatal(err)
	}
}

// TestAsyncSaveSurvivesCrashOnceSynced: entries written with SaveAsync are
// durable once wait returns, the last write's wait covering those before.
func TestAsyncSaveSurvivesCrashOnceSynced(t *testing.T) {
	fs := vfs.NewCrashableMem()
	e := openMem(t, fs)
	hs := raft.HardState{Term: 2, Vote: 1, Commit: 1}
	mustSave(t, e, hs, mkEnts(1, 1, 2), true)
	ents := mkEnts(2, 30, 2)
	var waits []func() error
	for i := 0; i < len(ents); i += 7 {
		wait, err := e.SaveAsync(raft.HardState{}, ents[i:min(i+7, len(ents))])
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, wait)
	}
	// Readable before the sync.
	checkLog(t, e, append(mkEnts(1, 1, 2), ents...))
	if err := waits[len(waits)-1](); err != nil {
		t.Fatal(err)
	}
	e = openMem(t, crash(t, e, fs, 0, 0))
	checkLog(t, e, append(mkEnts(1, 1, 2), ents...))
}

// TestAsyncSaveNeverOutlivedByApply: an apply batch committed after an
// unsynced SaveAsync is never durable without the entries: after a crash
// that keeps any part of what was not synced, the applied index is within
// the log.
func TestAsyncSaveNeverOutlivedByApply(t *testing.T) {
	seen := map[bool]bool{}
	// Whether the crash comes before pebble's background sync depends on
	// timing: on a loaded machine the sync may win every time. Run more
	// seeds until both outcomes were seen (at most 96).
	for seed := int64(0); seed < 96 && (seed < 12 || !seen[false] || !seen[true]); seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			fs := vfs.NewCrashableMem()
			e := openMem(t, fs)
			mustSave(t, e, raft.HardState{Term: 1, Vote: 1, Commit: 2}, mkEnts(1, 2, 1), true)
			applyKeys(t, e, 2, "old", 3)
			mustSave(t, e, raft.HardState{Term: 1, Vote: 1, Commit: 2}, nil, true)
			walBefore := walBytes(t, fs)
			more := mkEnts(3, 40, 1)
			for i := range more {
				more[i].Data = bytes.Repeat(more[i].Data, 200) // several WAL blocks
			}
			wait, err := e.SaveAsync(raft.HardState{}, more)
			if err != nil {
				t.Fatal(err)
			}
			applyKeys(t, e, 40, "new", 50)
			pushWAL(t, e, fs, walBefore+int64(len(more))*1000+50*valueSize)

			clone := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: pctForSeed(seed), RNG: rand.New(rand.NewPCG(uint64(seed), 0))})
			if err := wait(); err != nil {
				t.Fatal(err)
			}
			closeEngine(t, e)
			e = openMem(t, clone)
			applied, _ := e.Applied()
			last, _ := e.LastIndex()
			if applied > last {
				t.Fatalf("applied index %d is past the log's last index %d: the apply outlived the entries", applied, last)
			}
			seen[applied == 40] = true
		})
	}
	if !seen[false] || !seen[true] {
		t.Fatalf("outcomes seen (apply kept): %v; want both", seen)
	}
}
