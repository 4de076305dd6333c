package engine

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/fastcache"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/raftkv/raftkv/raft"
)

// ErrClosed is returned by an Engine (or an ApplyBatch started) after
// Close.
var ErrClosed = errors.New("engine: closed")

// ErrCorrupt is returned when a stored value cannot be decoded: the
// database was damaged or written by something else.
var ErrCorrupt = errors.New("engine: corrupt stored value")

// Key family prefixes; see doc.go for the layout.
const (
	prefixCluster  = 'C'
	prefixApplied  = 'a'
	prefixData     = 'd'
	prefixExpires  = 'e'
	prefixHard     = 'h'
	prefixKeyCount = 'k'
	prefixLog      = 'l'
	prefixMember   = 'm'
	prefixSnapshot = 's'
)

var (
	keyCluster  = []byte{prefixCluster}
	keyApplied  = []byte{prefixApplied}
	keyHard     = []byte{prefixHard}
	keyKeyCount = []byte{prefixKeyCount}
	keyExpires  = []byte{prefixExpires}
	keySnapshot = []byte{prefixSnapshot}
	// dataUpper is the exclusive upper bound of the data family.
	dataUpper = []byte{prefixData + 1}
)

// Pebble's memtables, and what they take of its block cache. Pebble
// reserves the cache's memory for every memtable it holds: the one being
// written, those queued for their flush (writes stall beyond
// memTablesQueued) and one kept for reuse. Without room for them on top
// of Options.CacheSize, an 8 MiB cache held no block at all under
// writes: each lookup of a new key read the last level's bloom filter
// blocks from the files again, checksums and all, and 600,000 SETs -c 50
// -r 1000000 -d 100 ran at 8,915/s against 16,314/s with 64 MiB
// (BENCHMARKS.md).
const (
	memTableSize    = 4 << 20 // pebble's default
	memTablesQueued = 2       // pebble's default
	memTableCharge  = (memTablesQueued + 1) * memTableSize
)

// Options configures Open.
type Options struct {
	// FS is the file system the database lives on; nil means the disk.
	FS vfs.FS
	// Logger receives pebble's events (flushes, compactions at Debug;
	// background errors at Error); nil discards them.
	Logger hclog.Logger
	// CacheSize is the memory, in bytes, that pebble's block cache may
	// fill with blocks read from its files; 0 keeps pebble's default
	// cache, 8 MiB in all, which its memtables take under writes.
	// Pebble charges its memtables to the cache, so the cache made is
	// larger than this by what they may take (memTableCharge).
	CacheSize int64
	// KeyCacheSize is the memory, in bytes, for the states of keys written
	// or read by apply batches (whether each exists, its type, its
	// expiry), which spare a write to a key seen before the lookup of its
	// record; MinKeyCacheSize when less (0 included).
	// Each key takes its length and 5 bytes of it (14 with an expiry),
	// and 20 to 40 bytes more, not counted, in the index of the cache.
	KeyCacheSize int
	// UnsafeNoSync makes Save and SaveAsync return without waiting for
	// the disk: a crash of the machine (not of the process) can then lose
	// writes that were acknowledged. For tests and benchmarks only.
	UnsafeNoSync bool
	// HoldProcessorInSync makes the write-ahead log's fdatasync keep the
	// Go processor of the goroutine that calls it whenever the process
	// has one (GOMAXPROCS 1 at the time of the sync). There, Go's
	// scheduler answers a system call that lasts more than a few tens of
	// microseconds by waking another thread to poll the network and
	// passing the processor to it and back:
	// context switches at every sync, which cost nodes sharing a machine
	// more than the wait (BENCHMARKS.md). Holding it, the process waits
	// out the sync and the machine's other processes have the CPU. The
	// price: nothing else in the process runs during a sync, so a disk
	// that stalls stops all of it until the sync returns. Used only when
	// FS is nil (the disk).
	HoldProcessorInSync bool
	// Verify makes Open read every stored byte, so that a damaged file
	// (a checksum that does not match) stops Open with ErrCorrupt instead
	// of failing a read later. Its cost grows with the data: 0.6 s for
	// 512 MiB of 1 KiB values (files in the page cache, 2 vCPUs); from a
	// cold disk, the disk's read speed sets it.
	Verify bool
	// Fatal is called when the database cannot go on: pebble hit an error
	// it cannot recover from, or found damaged data while serving. It must
	// not return. Default: log the message and exit the process with
	// status 1, as pebble itself does.
	Fatal func(msg string)
}

// Engine is one node's pebble database. See doc.go for what it holds.
type Engine struct {
	db     *pebble.DB
	logger hclog.Logger
	dir    string
	fs     vfs.FS
	// writerOpts build the sstables a received snapshot is ingested from.
	writerOpts sstable.WriterOptions

	// closeMu is held for reading by every method that touches db and for
	// writing by Close, so that a read racing with shutdown gets ErrClosed
	// instead of pebble's panic on a closed DB.
	closeMu sync.RWMutex
	closed  bool // guarded by closeMu; also only set while holding applyMu

	// logMu serialises the log methods (taken after closeMu). It guards first, last and lastTerm.
	logMu sync.RWMutex
	cache entryCache // the newest entries; guarded by logMu
	// Invariant: first <= last+1. first == last+1 means the log is empty;
	// an empty log that never held entries has first == 1, last == 0.
	first    uint64
	last     uint64
	lastTerm uint64 // term of entry last; 0 when the log is empty
	// snap is the compaction point: entries up to snap.Index were dropped.
	// Invariant: first == snap.Index+1 once the log has been compacted.
	snap raft.SnapshotMeta

	// applyMu is held by the open ApplyBatch, from NewApplyBatch to Close.
	applyMu sync.Mutex
	// pending and pendingBuf are the space the last ApplyBatch had for its
	// pending records, kept for the next; guarded by applyMu.
	pending    []pendingRecord
	pendingBuf []byte
	// states holds the state of keys that apply batches wrote or read, as
	// committed, so that a write to a key seen before needs no lookup:
	// each lookup seeks every level that holds a version of the key and,
	// for keys spread over more data than the block cache holds, reads
	// and decodes a block from the disk. An entry is either the key's
	// committed state or missing (evicted, or never stored): never stale.
	// Data keys change only through apply batches, which store the states
	// they leave at commit, and InstallSnapshot, which empties it. Its
	// memory lives outside the Go heap; guarded by applyMu.
	states *fastcache.Cache
	// keyStateHits and keyStateLookups count the key states apply batches
	// took from states and those they looked up in the data instead.
	keyStateHits, keyStateLookups atomic.Uint64
	// hot holds the committed records (small ones only) of keys that
	// reads looked up, so that the next read of the key, a GET of a hot
	// key say, is answered from memory instead of a lookup through every
	// memtable and level. A change to the data (an apply batch's commit,
	// InstallSnapshot) sets hotHeld before it reaches pebble; once it is
	// there, it drops the entries of the keys it saw (all of them, for
	// DeleteAll and InstallSnapshot), clears hotHeld and moves hotGen on.
	// A read fills an entry only if no change is under way and none ended
	// (hotGen did not move) since it began: a read that met pebble before
	// a change cannot keep that record once the change is there for other
	// reads to meet. At most hotKeys entries; guarded by hotMu.
	hotMu   sync.Mutex
	hot     map[string]Record
	hotGen  uint64
	hotHeld bool
	// hotFilling and hotChanged, when set (by tests), run between a read's
	// lookup in pebble and its filling of hot, and between a change
	// reaching pebble and the end of its hold on hot.
	hotFilling, hotChanged func()
	// applied, keyCount, expires and clock mirror the 'a', 'k', 'e' and
	// 'dc' keys as last committed.
	applied  atomic.Uint64
	keyCount atomic.Uint64

	// fsyncLatency is pebble's histogram of WAL fsyncs, in nanoseconds;
	// compactions and installs count log compactions (snapshots taken)
	// and snapshots installed.
	fsyncLatency prometheus.Histogram
	noSync       bool // Options.UnsafeNoSync
	compactions  atomic.Uint64
	installs     atomic.Uint64
	expires      atomic.Uint64
	clock        atomic.Int64
}

var _ raft.AsyncLogStore = (*Engine)(nil)

// Open opens (creating if needed) the database in dir and loads the log
// bounds, applied index and key count into memory.
func Open(dir string, o Options) (*Engine, error) {
	logger := o.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	if o.Fatal == nil {
		o.Fatal = func(msg string) {
			logger.Error(msg)
			os.Exit(1)
		}
	}
	// Damage found while opening fails Open; found later, the node stops:
	// it must not serve or acknowledge from data it cannot read back.
	var (
		opening    atomic.Bool
		damageMu   sync.Mutex
		damageSeen error
	)
	opening.Store(true)
	onDamage := func(info pebble.DataCorruptionInfo) {
		err := fmt.Errorf("%w: %s: %v", ErrCorrupt, info.Path, info.Details)
		if !opening.Load() {
			o.Fatal(fmt.Sprintf("stopping: %v; %s", err, rebuildAdvice))
			return
		}
		damageMu.Lock()
		if damageSeen == nil {
			damageSeen = err
		}
		damageMu.Unlock()
	}
	opts := &pebble.Options{
		FS:                 o.FS,
		Logger:             pebbleLogger{logger, o.Fatal},
		FormatMajorVersion: pebble.FormatNewest,
		EventListener:      &pebble.EventListener{DataCorruption: onDamage},
	}
	// Most point reads are existence checks of data keys (SET of a new key,
	// DEL of a missing one) that miss: a bloom filter answers them without
	// reading blocks. Lower levels inherit L0's policy.
	opts.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	// L0's tables are compacted into a small base level. A flushed
	// memtable (4 MiB) brings little data, as most of it is Raft log that
	// a later log compaction drops; with pebble's default Lbase of 64 MiB,
	// a data set under that size sits in L6 alone, and every L0 compaction
	// of keys spread over it rewrites all of it. SET over a million keys
	// at steady state (BENCHMARKS.md): compactions took 61% of a
	// follower's CPU; a 1 MiB Lbase gives the usual levels instead, each a
	// few times the one above.
	opts.LBaseMaxBytes = 1 << 20
	heldSync := o.FS == nil && o.HoldProcessorInSync
	if heldSync {
		opts.FS = heldSyncFS{vfs.Default}
	}
	opts.MemTableSize = memTableSize
	opts.MemTableStopWritesThreshold = memTablesQueued
	if o.CacheSize > 0 {
		c := pebble.NewCache(o.CacheSize + memTableCharge)
		// pebble takes its own reference; ours is dropped once Open returns.
		defer c.Unref()
		opts.Cache = c
	}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		if pebble.IsCorruptionError(err) {
			return nil, fmt.Errorf("open pebble at %s: %w: %v; %s", dir, ErrCorrupt, err, rebuildAdvice)
		}
		return nil, fmt.Errorf("open pebble at %s: %w", dir, err)
	}
	if o.Verify {
		start := time.Now()
		var stats pebble.CheckLevelsStats
		err := db.CheckLevels(&stats)
		damageMu.Lock()
		if damageSeen != nil {
			err = damageSeen
		}
		damageMu.Unlock()
		if err != nil {
			_ = db.Close()
			if !errors.Is(err, ErrCorrupt) {
				err = fmt.Errorf("%w: %v", ErrCorrupt, err)
			}
			return nil, fmt.Errorf("verify %s: %w; %s", dir, err, rebuildAdvice)
		}
		logger.Info("data verified", "records", stats.NumPoints, "took", time.Since(start).Round(time.Millisecond))
	}
	opening.Store(false)
	keyCacheSize := max(o.KeyCacheSize, MinKeyCacheSize)
	// Snapshots are installed by ingesting sstables written with the
	// database's own options.
	wopts := opts.Clone()
	wopts.EnsureDefaults()
	e := &Engine{db: db, logger: logger, dir: dir, fs: wopts.FS, writerOpts: wopts.MakeWriterOptions(0, db.TableFormat()),
		fsyncLatency: db.Metrics().LogWriter.FsyncLatency, noSync: o.UnsafeNoSync, states: fastcache.New(keyCacheSize),
		hot: make(map[string]Record)}
	if err := e.removeStaging(); err != nil {
		_ = db.Close()
		return nil, err
	}
	if err := e.load(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open engine at %s: %w", dir, err)
	}
	logger.Info("engine opened", "dir", dir, "first_index", e.first, "last_index", e.last,
		"applied", e.applied.Load(), "keys", e.keyCount.Load(), "sync_holds_processor", heldSync)
	return e, nil
}

// load reads what the Engine keeps in memory from the database.
func (e *Engine) load() error {
	applied, err := getUint64(e.db, keyApplied)
	if err != nil {
		return fmt.Errorf("read applied index: %w", err)
	}
	count, err := getUint64(e.db, keyKeyCount)
	if err != nil {
		return fmt.Errorf("read key count: %w", err)
	}
	expires, err := getUint64(e.db, keyExpires)
	if err != nil {
		return fmt.Errorf("read count of keys with an expiry: %w", err)
	}
	clock, err := getUint64(e.db, keyClock)
	if err != nil {
		return fmt.Errorf("read clock: %w", err)
	}
	e.applied.Store(applied)
	e.keyCount.Store(count)
	e.expires.Store(expires)
	e.clock.Store(int64(clock))

	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: logKey(0), UpperBound: logUpper()})
	if err != nil {
		return fmt.Errorf("scan log bounds: %w", err)
	}
	e.first, e.last = 1, 0
	if it.First() {
		if e.first, err = parseLogKey(it.Key()); err != nil {
			return errors.Join(err, it.Close())
		}
		it.Last()
		if e.last, err = parseLogKey(it.Key()); err != nil {
			return errors.Join(err, it.Close())
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return errors.Join(fmt.Errorf("read entry %d: %w", e.last, err), it.Close())
		}
		ent, err := decodeEntry(e.last, v)
		if err != nil {
			return errors.Join(err, it.Close())
		}
		e.lastTerm = ent.Term
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("scan log bounds: %w", err)
	}
	if e.snap, err = e.loadSnapshot(); err != nil {
		return err
	}
	if e.snap.Index > 0 && e.last < e.first {
		// Compacted to its end (or just restored from a snapshot): the log
		// is empty and continues after the snapshot.
		e.first, e.last, e.lastTerm = e.snap.Index+1, e.snap.Index, e.snap.Term
	}
	return nil
}

// Close closes the database. It waits for an open ApplyBatch to be closed
// and for reads in progress to finish; afterwards every method returns
// ErrClosed. Close is idempotent.
func (e *Engine) Close() error {
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	e.closeMu.Lock()
	defer e.closeMu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	// The cache's memory goes back to a pool the process reuses.
	e.states.Reset()
	if err := e.db.Close(); err != nil {
		return fmt.Errorf("close pebble: %w", err)
	}
	e.logger.Info("engine closed")
	return nil
}

// Key returns key's committed record, expired or not; its Value is a copy.
func (e *Engine) Key(key []byte) (Record, bool, error) {
	if err := e.rlock(); err != nil {
		return Record{}, false, err
	}
	defer e.closeMu.RUnlock()
	r, gen, ok := e.hotRecord(key)
	if ok {
		return r, true, nil
	}
	r, found, err := getRecord(e.db, key)
	if err != nil || !found || len(key)+len(r.Value) > hotRecordMax {
		return r, found, err
	}
	if e.hotFilling != nil {
		e.hotFilling()
	}
	e.hotMu.Lock()
	if e.hotGen == gen && !e.hotHeld {
		if len(e.hot) >= hotKeys {
			clear(e.hot)
		}
		e.hot[string(key)] = Record{Type: r.Type, Expire: r.Expire, Value: bytes.Clone(r.Value)}
	}
	e.hotMu.Unlock()
	return r, true, nil
}

// committedRecord returns key's committed record, from hot if it is
// there. Only the open ApplyBatch calls it: nothing changes the committed
// data while it is open (it holds applyMu, which InstallSnapshot and
// Close take too), so hot's entries are current.
func (e *Engine) committedRecord(key []byte) (Record, bool, error) {
	if r, _, ok := e.hotRecord(key); ok {
		return r, true, nil
	}
	return getRecord(e.db, key)
}

// hotRecord returns key's record from hot, if it is there, with a value
// the caller owns (as when it comes from pebble), and hot's generation.
func (e *Engine) hotRecord(key []byte) (r Record, gen uint64, ok bool) {
	e.hotMu.Lock()
	r, ok = e.hot[string(key)]
	gen = e.hotGen
	e.hotMu.Unlock()
	if ok {
		r.Value = bytes.Clone(r.Value)
	}
	return r, gen, ok
}

// Engine.hot's bounds: keys, and bytes of a key and its value together
// (so at most 1 MiB in all).
const (
	hotKeys      = 4096
	hotRecordMax = 256
)

// holdHot stops reads from filling Engine.hot: a change to the data is
// about to reach pebble. releaseHot ends it.
func (e *Engine) holdHot() {
	e.hotMu.Lock()
	e.hotHeld = true
	e.hotMu.Unlock()
}

// releaseHot ends a change's hold on Engine.hot once the change is in
// pebble: it drops the entries of the keys in drop (every entry when drop
// is nil), and lets reads fill it again.
func (e *Engine) releaseHot(drop map[string]seenKey) {
	e.hotMu.Lock()
	if drop == nil {
		clear(e.hot)
	} else if len(e.hot) > 0 {
		for k := range drop {
			delete(e.hot, k)
		}
	}
	e.hotHeld = false
	e.hotGen++
	e.hotMu.Unlock()
}

// Expiring returns up to limit keys, soonest first, whose expiry has
// passed at now (Unix milliseconds): those a sweep should delete.
func (e *Engine) Expiring(now int64, limit int) ([][]byte, error) {
	if err := e.rlock(); err != nil {
		return nil, err
	}
	defer e.closeMu.RUnlock()
	// Expired means now > expiry: the bound excludes expiry == now.
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: expireLower, UpperBound: expireKey(now, nil)})
	if err != nil {
		return nil, fmt.Errorf("scan expiry index: %w", err)
	}
	var keys [][]byte
	for ok := it.First(); ok && len(keys) < limit; ok = it.Next() {
		k := it.Key()
		if len(k) < 10 {
			return nil, errors.Join(fmt.Errorf("%w: expiry index key of %d bytes", ErrCorrupt, len(k)), it.Close())
		}
		keys = append(keys, append([]byte(nil), k[10:]...))
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("scan expiry index: %w", err)
	}
	return keys, nil
}

// Clock is the state machine's clock as last committed: the highest
// time, in Unix milliseconds, that applied entries carried.
func (e *Engine) Clock() int64 { return e.clock.Load() }

// Expires returns the number of keys with an expiry, as last committed.
func (e *Engine) Expires() uint64 { return e.expires.Load() }

// Applied returns the applied index committed last (0 when nothing has
// been applied).
func (e *Engine) Applied() (uint64, error) { return e.applied.Load(), nil }

// KeyCount returns the number of data keys as last committed.
func (e *Engine) KeyCount() uint64 { return e.keyCount.Load() }

// Iterate calls fn for every committed key record in key order, expired
// or not, from a consistent view of the data. key and the record's Value
// are valid only during the call. Iteration stops at the first error fn
// returns, which Iterate returns. fn must not call the Engine (Close would
// wait on it).
func (e *Engine) Iterate(fn func(key []byte, r Record) error) error {
	if err := e.rlock(); err != nil {
		return err
	}
	defer e.closeMu.RUnlock()
	return iterKeys(e.db, nil, fn)
}

// iterKeys calls fn for each key record in r from the key from on (nil:
// the first), in key order; key and the record's Value are valid only
// during the call.
func iterKeys(r pebble.Reader, from []byte, fn func(key []byte, r Record) error) error {
	lower := keyRecordsLower
	if from != nil {
		lower = keyRecordKey(from)
	}
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: keyRecordsUpper})
	if err != nil {
		return fmt.Errorf("iterate keys: %w", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return errors.Join(fmt.Errorf("iterate keys: %w", err), it.Close())
		}
		rec, err := decodeRecord(v)
		if err != nil {
			return errors.Join(fmt.Errorf("iterate keys: key %q: %w", it.Key()[2:], err), it.Close())
		}
		if err := fn(it.Key()[2:], rec); err != nil {
			return errors.Join(err, it.Close())
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("iterate keys: %w", err)
	}
	return nil
}

// rlock takes closeMu for reading, unless the Engine is closed: then it
// returns ErrClosed and holds nothing.
func (e *Engine) rlock() error {
	e.closeMu.RLock()
	if e.closed {
		e.closeMu.RUnlock()
		return ErrClosed
	}
	return nil
}

// getUint64 reads an 8-byte big-endian value from r (the database or a
// snapshot); a missing key reads as 0.
func getUint64(r pebble.Reader, key []byte) (uint64, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: key %q holds %d bytes, want 8", ErrCorrupt, key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

func logKey(index uint64) []byte {
	k := make([]byte, 9)
	k[0] = prefixLog
	binary.BigEndian.PutUint64(k[1:], index)
	return k
}

// logUpper is the exclusive upper bound of the log family.
func logUpper() []byte { return []byte{prefixLog + 1} }

func parseLogKey(k []byte) (uint64, error) {
	if len(k) != 9 || k[0] != prefixLog {
		return 0, fmt.Errorf("%w: log key %x", ErrCorrupt, k)
	}
	return binary.BigEndian.Uint64(k[1:]), nil
}

func uint64Value(v uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, v)
}

// pebbleLogger routes pebble's log lines to hclog. pebble reports routine
// events (flushes, compactions) through Infof; they are Debug for raftkv.
type pebbleLogger struct {
	l     hclog.Logger
	fatal func(msg string)
}

func (p pebbleLogger) Infof(format string, args ...any) {
	if p.l.IsDebug() {
		p.l.Debug(fmt.Sprintf(format, args...))
	}
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...))
}

// Fatalf is called by pebble when it cannot continue; like pebble's own
// default logger, it does not return.
func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.fatal("stopping: pebble cannot continue: " + fmt.Sprintf(format, args...))
}

// rebuildAdvice says what to do about a node whose data is damaged.
const rebuildAdvice = "this node's data cannot be trusted: remove the node (RAFT.NODE REMOVE), delete its data directory and add it again (--join) so that it copies the data from its peers"

// Digest returns the applied index and a SHA-1 digest of every key and
// value of the data family (records, expiry index, clock), both from one
// consistent view of the store: nodes that applied the same entries give
// the same digest. A store without keys digests to zeros, as Redis's
// DEBUG DIGEST does.
func (e *Engine) Digest() (applied uint64, digest [sha1.Size]byte, err error) {
	if err := e.rlock(); err != nil {
		return 0, digest, err
	}
	defer e.closeMu.RUnlock()
	snap := e.db.NewSnapshot()
	defer snap.Close()
	v, closer, err := snap.Get(keyApplied)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
	case err != nil:
		return 0, digest, fmt.Errorf("digest: %w", err)
	default:
		if len(v) == 8 {
			applied = binary.BigEndian.Uint64(v)
		}
		closer.Close()
	}
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixData}, UpperBound: dataUpper})
	if err != nil {
		return 0, digest, fmt.Errorf("digest: %w", err)
	}
	h := sha1.New()
	n := 0
	var lens [2 * binary.MaxVarintLen64]byte
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return 0, digest, errors.Join(fmt.Errorf("digest: %w", err), it.Close())
		}
		k := it.Key()[1:]
		l := binary.PutUvarint(lens[:], uint64(len(k)))
		l += binary.PutUvarint(lens[l:], uint64(len(v)))
		h.Write(lens[:l])
		h.Write(k)
		h.Write(v)
		if k[0] == subKey {
			n++
		}
	}
	if err := it.Close(); err != nil {
		return 0, digest, fmt.Errorf("digest: %w", err)
	}
	if n > 0 {
		copy(digest[:], h.Sum(nil))
	}
	return applied, digest, nil
}
