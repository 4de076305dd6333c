package engine

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// ErrBatchDone is returned by an ApplyBatch used after Commit or Close.
var ErrBatchDone = errors.New("engine: apply batch already committed or closed")

// ApplyBatch gathers the state machine's writes for a run of entries. It is
// an indexed pebble batch, so Get sees the batch's own writes. Commit makes
// the writes, the applied index and the key count durable together; Close
// must always be called, and releases the batch for the next one.
//
// An ApplyBatch is used from one goroutine.
type ApplyBatch struct {
	e *Engine
	b *pebble.Batch
	// exists remembers, for keys this batch has looked at, whether the key
	// exists with the batch's writes applied, so that Set and Delete after
	// a Get (APPEND, DEL) need no second lookup to keep the key count.
	exists map[string]bool
	// delta is the change to the key count made by this batch's writes.
	delta int64
	// err is what every method but Close returns once set: ErrBatchDone
	// after Commit or Close, ErrClosed when the Engine was closed.
	err error
	// released is set by Close.
	released bool
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
	return &ApplyBatch{e: e, b: e.db.NewIndexedBatch(), exists: make(map[string]bool)}
}

// Get returns a copy of key's value as the batch sees it: committed data
// overlaid with the batch's own writes.
func (b *ApplyBatch) Get(key []byte) ([]byte, bool, error) {
	if b.err != nil {
		return nil, false, b.err
	}
	v, closer, err := b.b.Get(dataKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		b.exists[string(key)] = false
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("apply batch get: %w", err)
	}
	value := append(make([]byte, 0, len(v)), v...)
	if err := closer.Close(); err != nil {
		return nil, false, fmt.Errorf("apply batch get: %w", err)
	}
	b.exists[string(key)] = true
	return value, true, nil
}

// Set writes key = value, counting the key if it is new.
func (b *ApplyBatch) Set(key, value []byte) error {
	existed, err := b.has(key)
	if err != nil {
		return err
	}
	if err := b.b.Set(dataKey(key), value, nil); err != nil {
		return fmt.Errorf("apply batch set: %w", err)
	}
	if !existed {
		b.delta++
		b.exists[string(key)] = true
	}
	return nil
}

// Delete removes key, uncounting it if it existed. Deleting a missing key
// writes nothing.
func (b *ApplyBatch) Delete(key []byte) error {
	existed, err := b.has(key)
	if err != nil || !existed {
		return err
	}
	if err := b.b.Delete(dataKey(key), nil); err != nil {
		return fmt.Errorf("apply batch delete: %w", err)
	}
	b.delta--
	b.exists[string(key)] = false
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
	clear(b.exists)
	return nil
}

// has reports whether key exists as the batch sees it.
func (b *ApplyBatch) has(key []byte) (bool, error) {
	if b.err != nil {
		return false, b.err
	}
	if ok, known := b.exists[string(key)]; known {
		return ok, nil
	}
	_, ok, err := b.Get(key)
	return ok, err
}

// Commit writes the batch together with applied as the applied index and
// the updated key count, without a sync (see doc.go for why that is safe).
// applied must not be lower than the applied index already committed.
func (b *ApplyBatch) Commit(applied uint64) error {
	if b.err != nil {
		return b.err
	}
	e := b.e
	if prev := e.applied.Load(); applied < prev {
		return fmt.Errorf("commit apply batch: applied index %d is behind %d", applied, prev)
	}
	count := int64(e.keyCount.Load()) + b.delta
	if count < 0 {
		// Every decrement follows an observed existing key: this cannot be.
		return fmt.Errorf("%w: key count would become %d", ErrCorrupt, count)
	}
	if err := b.b.Set(keyApplied, uint64Value(applied), nil); err != nil {
		return fmt.Errorf("commit apply batch at %d: %w", applied, err)
	}
	if err := b.b.Set(keyKeyCount, uint64Value(uint64(count)), nil); err != nil {
		return fmt.Errorf("commit apply batch at %d: %w", applied, err)
	}
	if err := b.b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("commit apply batch at %d: %w", applied, err)
	}
	b.err = ErrBatchDone
	e.keyCount.Store(uint64(count))
	e.applied.Store(applied)
	return nil
}

// Close releases the batch, discarding its writes if it was not
// committed, and lets the next NewApplyBatch proceed. Close is idempotent.
func (b *ApplyBatch) Close() error {
	if b.released {
		return nil
	}
	var err error
	if b.b != nil {
		err = b.b.Close()
	}
	b.b, b.exists, b.released = nil, nil, true
	if b.err == nil {
		b.err = ErrBatchDone
	}
	b.e.applyMu.Unlock()
	if err != nil {
		return fmt.Errorf("close apply batch: %w", err)
	}
	return nil
}
