package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"
)

// ErrBatchDone is returned by an ApplyBatch used after Commit or Close.
var ErrBatchDone = errors.New("engine: apply batch already committed or closed")

// ApplyBatch gathers the state machine's writes for a run of entries in a
// pebble batch. Reads see the batch's own writes: the first read indexes
// the batch (reader); a run of plain writes, whose key states come from
// known, never pays for that. Commit makes the writes, the applied index,
// the counts and the clock durable together; Close must always be called,
// and releases the batch for the next one.
//
// An ApplyBatch is used from one goroutine.
type ApplyBatch struct {
	e *Engine
	b *pebble.Batch
	// known remembers, for keys this batch has looked at, whether the key
	// has a record with the batch's writes applied and when it expires, so
	// that writes after a read (APPEND, DEL) need no second lookup to keep
	// the counts and the expiry index; and, for keys whose state came
	// from e.states, that state, so that Commit writes to e.states only
	// the states that changed.
	known map[string]seenKey
	// it looks up keys the batch has not seen in the committed data: one
	// iterator for the whole batch, made at the first lookup, costs less
	// than a Get per key (each Get builds an iterator over every memtable
	// and level). It cannot see the batch's own writes, so it is only
	// asked about keys missing from known, which no write of the batch has
	// touched, and not at all after DeleteAll. Data keys change only
	// through apply batches, and this one holds applyMu: the committed
	// data it sees is current. It reads the bloom filters of the last
	// level too, which pebble skips by default: keys it is asked about
	// are missing from e.states, and most of those, new keys, have no
	// record; without the filter each such lookup reads a block of the
	// last level, where most records are.
	it *pebble.Iterator
	// cleared is set by DeleteAll: a key missing from known has no record.
	cleared bool
	// scratch holds the pebble key of the lookup in progress.
	scratch []byte
	// pending holds the records Put wrote and the batch does not hold
	// yet, each key's last one (of up to maxPendingRecord bytes; see
	// write): a run of writes to one key (SET over a hot key, a pipeline
	// of them) puts one record into the batch, and into the memtable,
	// instead of one per write. Only a key's own later write or delete
	// can change what its record ends as, and only a read can see the
	// difference, so reads first move the pending records into the
	// batch (flush), Delete drops the key's, DeleteAll all of them, and
	// Commit flushes. pendingBuf holds their pebble keys and encoded
	// records back to back.
	pending    []pendingRecord
	pendingBuf []byte
	// flushes counts the flushes, so that a seenKey's pending index from
	// before the last one is known to be stale without a pass over known.
	flushes int32
	// stateBuf holds an encoded keyState on its way to or from e.states.
	stateBuf [keyStateLen]byte
	// delta and expiresDelta are the changes this batch's writes make to
	// the key count and to the count of keys with an expiry.
	delta, expiresDelta int64
	// clock is the highest clock reading given to SetClock.
	clock int64
	// err is what every method but Close returns once set: ErrBatchDone
	// after Commit or Close, ErrClosed when the Engine was closed.
	err error
	// released is set by Close.
	released bool
}

// pendingRecord is a record of pending: its pebble key and encoded value
// in pendingBuf; a dropped one has a negative key offset.
type pendingRecord struct {
	key, keyLen, val, valLen int
}

type keyState struct {
	exists bool
	typ    Type
	expire int64
}

// seenKey is what an ApplyBatch knows of a key: its state with the
// batch's writes applied, and, if cached is set, the state e.states held
// for it when the batch looked. e.states keeps a key's entry until its
// part of the cache wraps around (each part is a ring, and every write to
// it, a new copy of a state included, uses it up): writing only what
// changed keeps the states of keys written over and over without change,
// SET over a million keys of plain strings for one, in memory, instead of
// making them take turns.
type seenKey struct {
	state  keyState
	was    keyState
	cached bool
	// pending is 1 + the index in ApplyBatch.pending of the key's record
	// not yet in the batch, if gen is the batch's flushes: 0 or another
	// gen if none is.
	pending int32
	gen     int32
	// direct is set once the batch was given a write of the key's record
	// other than through pending: a delete, or a record too large for it.
	direct bool
}

// NewApplyBatch starts a batch. Batches are serialised: it waits until the
// previous ApplyBatch has been closed. On a closed Engine every method of
// the batch but Close returns ErrClosed.
func (e *Engine) NewApplyBatch() *ApplyBatch {
	e.applyMu.Lock()
	// Close sets closed while holding applyMu, so it cannot change (nor the
	// DB close) until this batch is closed.
	if e.closed {
		return &ApplyBatch{e: e, err: ErrClosed}
	}
	return &ApplyBatch{e: e, b: e.db.NewBatch(), known: make(map[string]seenKey),
		pending: e.pending[:0], pendingBuf: e.pendingBuf[:0]}
}

// keepPendingBytes bounds the space for pending records an Engine keeps
// from one ApplyBatch for the next.
const keepPendingBytes = 1 << 20

// reader returns the batch for reads that must see its writes, indexed:
// the first such read moves the writes so far into an indexed batch. It
// returns b.err once that is set.
func (b *ApplyBatch) reader() (pebble.Reader, error) {
	if b.err != nil {
		return nil, b.err
	}
	if b.b.Indexed() {
		return b.b, b.flush()
	}
	ib := b.e.db.NewIndexedBatch()
	if err := ib.Apply(b.b, nil); err != nil {
		ib.Close()
		return nil, fmt.Errorf("apply batch index: %w", err)
	}
	b.b.Close()
	b.b = ib
	return ib, b.flush()
}

// flush moves the pending records into the batch.
func (b *ApplyBatch) flush() error {
	if len(b.pending) == 0 {
		return nil
	}
	for _, p := range b.pending {
		if p.key < 0 {
			continue
		}
		if err := b.b.Set(b.pendingBuf[p.key:p.key+p.keyLen], b.pendingBuf[p.val:p.val+p.valLen], nil); err != nil {
			return fmt.Errorf("apply batch set: %w", err)
		}
	}
	b.dropPending()
	return nil
}

// dropPending forgets the pending records.
func (b *ApplyBatch) dropPending() {
	b.pending, b.pendingBuf = b.pending[:0], b.pendingBuf[:0]
	b.flushes++
}

// pendingIndex returns the index in pending of the record seen has
// there, or -1.
func (b *ApplyBatch) pendingIndex(seen seenKey) int {
	if seen.pending == 0 || seen.gen != b.flushes || b.pending[seen.pending-1].key < 0 {
		return -1
	}
	return int(seen.pending) - 1
}

// Key returns key's record as the batch sees it (committed data overlaid
// with the batch's own writes), expired or not; its Value is a copy.
//
// A key whose last write waits in pending is read from there, and one
// whose record the batch holds no write of from the committed data: a
// read-modify-write of one key over and over (INCR of a counter, a
// pipeline of them) neither flushes nor indexes the batch.
func (b *ApplyBatch) Key(key []byte) (Record, bool, error) {
	if b.err != nil {
		return Record{}, false, b.err
	}
	seen := b.known[string(key)]
	var (
		r     Record
		found bool
		err   error
	)
	if i := b.pendingIndex(seen); i >= 0 {
		p := b.pending[i]
		r, err = decodeRecord(b.pendingBuf[p.val : p.val+p.valLen])
		r.Value, found = bytes.Clone(r.Value), true
	} else if !b.holds(seen) {
		r, found, err = b.e.committedRecord(key)
	} else {
		var rd pebble.Reader
		if rd, err = b.reader(); err != nil {
			return Record{}, false, err
		}
		r, found, err = getRecord(rd, key)
	}
	if err != nil {
		return Record{}, false, fmt.Errorf("apply batch: %w", err)
	}
	seen.state = keyState{exists: found, typ: r.Type, expire: r.Expire}
	b.known[string(key)] = seen
	return r, found, nil
}

// holds reports whether the batch itself (not pending) may hold a write
// of the key seen is of: a record flushed from pending (one of an earlier
// generation), a delete or a large record (direct), or DeleteAll's range.
func (b *ApplyBatch) holds(seen seenKey) bool {
	return b.cleared || seen.direct || seen.pending != 0 && seen.gen != b.flushes
}

// Put writes key's record, replacing any it had (and the elements of a key
// of another type), and keeps the counts and the expiry index in step.
func (b *ApplyBatch) Put(key []byte, r Record) error {
	if r.Type < TypeString || r.Type > TypeZSet {
		return fmt.Errorf("apply batch put %q: unknown type %d", key, r.Type)
	}
	seen, err := b.state(key)
	if err != nil {
		return err
	}
	st := seen.state
	if st.exists && st.typ != r.Type {
		if err := b.dropElems(st.typ, key); err != nil {
			return err
		}
	}
	if err := b.write(key, r, &seen); err != nil {
		return err
	}
	if !st.exists {
		b.delta++
	}
	if err := b.reindex(key, st, r.Expire); err != nil {
		return err
	}
	seen.state = keyState{exists: true, typ: r.Type, expire: r.Expire}
	b.known[string(key)] = seen
	return nil
}

// maxPendingRecord is the largest record that waits in pending: a larger
// one goes straight into the batch, where a copy in pending would cost
// more than the insert it may save, and hold its memory twice.
const maxPendingRecord = 16 << 10

// write puts key's record r into pending, in place of any the key has
// there, and notes it in seen; one larger than maxPendingRecord goes
// straight into the batch instead, the key's pending one dropped.
func (b *ApplyBatch) write(key []byte, r Record, seen *seenKey) error {
	i := b.pendingIndex(*seen)
	n := recordLen(r)
	if n > maxPendingRecord {
		if i >= 0 {
			b.pending[i].key = -1
		}
		seen.direct = true
		// Written in place into the batch: no encoded copy of the value.
		op := b.b.SetDeferred(2+len(key), n)
		appendKeyRecordKey(op.Key[:0], key)
		putRecord(op.Value, r)
		if err := op.Finish(); err != nil {
			return fmt.Errorf("apply batch set: %w", err)
		}
		return nil
	}
	var rec pendingRecord
	if i >= 0 {
		// The key is there already: only its record is new.
		rec = b.pending[i]
	} else {
		rec.key = len(b.pendingBuf)
		b.pendingBuf = appendKeyRecordKey(b.pendingBuf, key)
		rec.keyLen = len(b.pendingBuf) - rec.key
		b.pending = append(b.pending, rec)
		i = len(b.pending) - 1
		seen.pending, seen.gen = int32(len(b.pending)), b.flushes
	}
	rec.val, rec.valLen = len(b.pendingBuf), n
	b.pendingBuf = slices.Grow(b.pendingBuf, n)[:rec.val+n]
	putRecord(b.pendingBuf[rec.val:], r)
	b.pending[i] = rec
	return nil
}

// Set writes key as a string with value and no expiry, as SET does.
func (b *ApplyBatch) Set(key, value []byte) error {
	return b.Put(key, Record{Type: TypeString, Value: value})
}

// Delete removes key: its record, its expiry and its elements. Deleting a
// missing key writes nothing.
func (b *ApplyBatch) Delete(key []byte) error {
	seen, err := b.state(key)
	st := seen.state
	if err != nil || !st.exists {
		return err
	}
	if err := b.dropElems(st.typ, key); err != nil {
		return err
	}
	if i := b.pendingIndex(seen); i >= 0 {
		b.pending[i].key = -1
	}
	seen.direct = true
	if err := b.b.Delete(keyRecordKey(key), nil); err != nil {
		return fmt.Errorf("apply batch delete: %w", err)
	}
	b.delta--
	if err := b.reindex(key, st, 0); err != nil {
		return err
	}
	seen.state = keyState{}
	b.known[string(key)] = seen
	return nil
}

// reindex moves key's expiry index entry from what st says to expire.
func (b *ApplyBatch) reindex(key []byte, st keyState, expire int64) error {
	old := int64(0)
	if st.exists {
		old = st.expire
	}
	if old == expire {
		return nil
	}
	if old != 0 {
		if err := b.b.Delete(expireKey(old, key), nil); err != nil {
			return fmt.Errorf("apply batch unindex expiry: %w", err)
		}
		b.expiresDelta--
	}
	if expire != 0 {
		if err := b.b.Set(expireKey(expire, key), nil, nil); err != nil {
			return fmt.Errorf("apply batch index expiry: %w", err)
		}
		b.expiresDelta++
	}
	return nil
}

// DeleteAll removes every key (FLUSHDB).
func (b *ApplyBatch) DeleteAll() error {
	if b.err != nil {
		return b.err
	}
	if err := b.b.DeleteRange([]byte{prefixData}, dataUpper, nil); err != nil {
		return fmt.Errorf("apply batch delete all: %w", err)
	}
	b.delta = -int64(b.e.keyCount.Load())
	b.expiresDelta = -int64(b.e.expires.Load())
	// The tombstone covers the pending records too.
	b.dropPending()
	clear(b.known)
	b.cleared = true
	return nil
}

// Keys calls fn for each key record as the batch sees it, from the key
// from on (nil: the first), in key order. fn must not write to the batch.
func (b *ApplyBatch) Keys(from []byte, fn func(key []byte, r Record) error) error {
	rd, err := b.reader()
	if err != nil {
		return err
	}
	return iterKeys(rd, from, fn)
}

// KeyCount is the number of keys as the batch sees it.
func (b *ApplyBatch) KeyCount() uint64 { return uint64(int64(b.e.keyCount.Load()) + b.delta) }

// SetClock raises the state machine's clock (Unix milliseconds) to ms;
// it never goes back. Commit stores it with the applied index.
func (b *ApplyBatch) SetClock(ms int64) { b.clock = max(b.clock, ms) }

// Clock is the state machine's clock as the batch sees it.
func (b *ApplyBatch) Clock() int64 { return max(b.clock, b.e.clock.Load()) }

// state is what the batch knows of key: looked up once, then remembered
// in known, where a write stores the state it leaves.
func (b *ApplyBatch) state(key []byte) (seenKey, error) {
	if b.err != nil {
		return seenKey{}, b.err
	}
	if seen, known := b.known[string(key)]; known {
		return seen, nil
	}
	var st keyState
	if b.cleared {
		b.known[string(key)] = seenKey{state: st}
		return seenKey{state: st}, nil
	}
	if v, ok := b.e.states.HasGet(b.stateBuf[:0], key); ok {
		st = decodeKeyState(v)
		seen := seenKey{state: st, was: st, cached: true}
		b.known[string(key)] = seen
		b.e.keyStateHits.Add(1)
		return seen, nil
	}
	b.e.keyStateLookups.Add(1)
	if b.it == nil {
		it, err := b.e.db.NewIter(&pebble.IterOptions{LowerBound: keyRecordsLower, UpperBound: keyRecordsUpper, UseL6Filters: true})
		if err != nil {
			return seenKey{}, fmt.Errorf("apply batch lookup: %w", err)
		}
		b.it = it
	}
	b.scratch = appendKeyRecordKey(b.scratch[:0], key)
	if b.it.SeekPrefixGE(b.scratch) && bytes.Equal(b.it.Key(), b.scratch) {
		// Only the header is needed: no copy of the value.
		v, err := b.it.ValueAndErr()
		if err != nil {
			return seenKey{}, fmt.Errorf("apply batch lookup %q: %w", key, err)
		}
		r, err := decodeRecord(v)
		if err != nil {
			return seenKey{}, fmt.Errorf("apply batch lookup %q: %w", key, err)
		}
		st = keyState{exists: true, typ: r.Type, expire: r.Expire}
	} else if err := b.it.Error(); err != nil {
		return seenKey{}, fmt.Errorf("apply batch lookup %q: %w", key, err)
	}
	b.known[string(key)] = seenKey{state: st}
	return seenKey{state: st}, nil
}

// Commit writes the batch together with applied as the applied index,
// the updated counts and the clock, without a sync (see doc.go for why that is safe).
// applied must not be lower than the applied index already committed.
func (b *ApplyBatch) Commit(applied uint64) error {
	if b.err != nil {
		return b.err
	}
	e := b.e
	if prev := e.applied.Load(); applied < prev {
		return fmt.Errorf("commit apply batch: applied index %d is behind %d", applied, prev)
	}
	if err := b.flush(); err != nil {
		return fmt.Errorf("commit apply batch at %d: %w", applied, err)
	}
	count := int64(e.keyCount.Load()) + b.delta
	expires := int64(e.expires.Load()) + b.expiresDelta
	if count < 0 || expires < 0 || expires > count {
		// Every decrement follows an observed existing key: this cannot be.
		return fmt.Errorf("%w: key count would become %d, keys with an expiry %d", ErrCorrupt, count, expires)
	}
	if err := b.b.Set(keyApplied, uint64Value(applied), nil); err != nil {
		return fmt.Errorf("commit apply batch at %d: %w", applied, err)
	}
	if err := b.b.Set(keyKeyCount, uint64Value(uint64(count)), nil); err != nil {
		return fmt.Errorf("commit apply batch at %d: %w", applied, err)
	}
	if err := b.b.Set(keyExpires, uint64Value(uint64(expires)), nil); err != nil {
		return fmt.Errorf("commit apply batch at %d: %w", applied, err)
	}
	// The clock is written whenever it was ever set, so that whether the
	// key exists does not depend on where batches were cut (or on a
	// DeleteAll having removed it with the data).
	clock := b.Clock()
	if clock != 0 {
		if err := b.b.Set(keyClock, uint64Value(uint64(clock)), nil); err != nil {
			return fmt.Errorf("commit apply batch at %d: %w", applied, err)
		}
	}
	e.holdHot()
	if err := b.b.Commit(pebble.NoSync); err != nil {
		e.releaseHot(nil)
		return fmt.Errorf("commit apply batch at %d: %w", applied, err)
	}
	b.err = ErrBatchDone
	if e.hotChanged != nil {
		e.hotChanged()
	}
	b.remember()
	e.keyCount.Store(uint64(count))
	e.expires.Store(uint64(expires))
	e.clock.Store(clock)
	e.applied.Store(applied)
	return nil
}

// remember records the committed states of the keys the batch saw in
// e.states, after forgetting all others when DeleteAll ran. It drops the
// keys the batch saw (every key it wrote among them) from e.hot, all of
// them after DeleteAll, and ends the hold Commit put on it.
func (b *ApplyBatch) remember() {
	e := b.e
	if b.cleared {
		e.releaseHot(nil)
		e.states.Reset()
	} else {
		e.releaseHot(b.known)
	}
	for k, seen := range b.known {
		if seen.cached && seen.was == seen.state {
			continue
		}
		e.states.Set([]byte(k), encodeKeyState(b.stateBuf[:0], seen.state))
	}
}

// MinKeyCacheSize is the least key cache, and the default: its 512 parts
// take one 64 KiB block each; it holds the states of about a million and
// a half keys of 16 bytes without an expiry.
const MinKeyCacheSize = 32 << 20

// keyStateLen is the longest encoded keyState.
const keyStateLen = 9

// encodeKeyState appends st to dst: one byte with whether the key exists
// and its type, and its expiry, if it has one, in 8 more.
func encodeKeyState(dst []byte, st keyState) []byte {
	head := byte(st.typ)
	if st.exists {
		head |= keyExists
	}
	dst = append(dst, head)
	if st.expire == 0 {
		return dst
	}
	return binary.BigEndian.AppendUint64(dst, uint64(st.expire))
}

// keyExists marks an encoded keyState of a key that exists; types take
// the bits below it.
const keyExists = 0x80

// decodeKeyState reverses encodeKeyState; e.states holds nothing else.
func decodeKeyState(v []byte) keyState {
	st := keyState{exists: v[0]&keyExists != 0, typ: Type(v[0] &^ keyExists)}
	if len(v) == keyStateLen {
		st.expire = int64(binary.BigEndian.Uint64(v[1:]))
	}
	return st
}

// Close releases the batch, discarding its writes if it was not
// committed, and lets the next NewApplyBatch proceed. Close is idempotent.
func (b *ApplyBatch) Close() error {
	if b.released {
		return nil
	}
	var err error
	if b.it != nil {
		err = b.it.Close()
	}
	if b.b != nil {
		err = errors.Join(err, b.b.Close())
	}
	if cap(b.pendingBuf) <= keepPendingBytes {
		b.e.pending, b.e.pendingBuf = b.pending[:0], b.pendingBuf[:0]
	}
	b.b, b.it, b.known, b.released = nil, nil, nil, true
	if b.err == nil {
		b.err = ErrBatchDone
	}
	b.e.applyMu.Unlock()
	if err != nil {
		return fmt.Errorf("close apply batch: %w", err)
	}
	return nil
}
