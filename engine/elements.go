package engine

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Element families: the byte after 'd' under which a type keeps its
// elements (see doc.go).
const (
	subHash   = 'h'
	subList   = 'l'
	subSet    = 's'
	subZSet   = 'z'
	subZScore = 'Z'
)

// ScoreIndex is not a key type: it names, in element calls, the family
// that orders a sorted set's members by score (element: 8 bytes of
// sortable score, then the member; empty value). TypeZSet's own elements
// map each member to its score.
const ScoreIndex Type = 0x40

// family is where elements of type t live; ok is false for a type that has
// none (strings).
func family(t Type) (sub byte, ok bool) {
	switch t {
	case TypeHash:
		return subHash, true
	case TypeList:
		return subList, true
	case TypeSet:
		return subSet, true
	case TypeZSet:
		return subZSet, true
	case ScoreIndex:
		return subZScore, true
	}
	return 0, false
}

// elemPrefix is the start of key's elements in family sub: the key's
// length first, so that one key's elements are one range that no other
// key's share.
func elemPrefix(sub byte, key []byte, extra int) []byte {
	k := make([]byte, 0, 6+len(key)+extra)
	k = append(k, prefixData, sub)
	k = binary.BigEndian.AppendUint32(k, uint32(len(key)))
	return append(k, key...)
}

func elemKey(sub byte, key, elem []byte) []byte {
	return append(elemPrefix(sub, key, len(elem)), elem...)
}

// elemRange is the span of key's elements in family sub.
func elemRange(sub byte, key []byte) (lower, upper []byte) {
	lower = elemPrefix(sub, key, 0)
	return lower, prefixEnd(lower)
}

// elemBounds is the span of key's elements from the element from up to
// but excluding to; nil leaves that end open.
func elemBounds(sub byte, key, from, to []byte) (lower, upper []byte) {
	lower, upper = elemRange(sub, key)
	if from != nil {
		lower = elemKey(sub, key, from)
	}
	if to != nil {
		upper = elemKey(sub, key, to)
	}
	return lower, upper
}

// prefixEnd is the first key after every key that starts with p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i]++; end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil // p is all 0xff: no upper bound
}

// getElem reads one element's value (a copy) from r.
func getElem(r pebble.Reader, t Type, key, elem []byte) ([]byte, bool, error) {
	sub, ok := family(t)
	if !ok {
		return nil, false, fmt.Errorf("type %s has no elements", t)
	}
	v, closer, err := r.Get(elemKey(sub, key, elem))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("get element of %q: %w", key, err)
	}
	value := append(make([]byte, 0, len(v)), v...)
	if err := closer.Close(); err != nil {
		return nil, false, fmt.Errorf("get element of %q: %w", key, err)
	}
	return value, true, nil
}

// iterElems calls fn for each of key's elements of type t in r, in
// element order (reversed with rev), from the element from (nil: the
// first) up to but excluding to (nil: to the last); elem and value are
// valid only during the call.
func iterElems(r pebble.Reader, t Type, key, from, to []byte, rev bool, fn func(elem, value []byte) error) error {
	sub, ok := family(t)
	if !ok {
		return fmt.Errorf("type %s has no elements", t)
	}
	lower, upper := elemBounds(sub, key, from, to)
	prefix := len(elemPrefix(sub, key, 0))
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("iterate elements of %q: %w", key, err)
	}
	first, next := it.First, it.Next
	if rev {
		first, next = it.Last, it.Prev
	}
	for ok := first(); ok; ok = next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return errors.Join(fmt.Errorf("iterate elements of %q: %w", key, err), it.Close())
		}
		if err := fn(it.Key()[prefix:], v); err != nil {
			return errors.Join(err, it.Close())
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("iterate elements of %q: %w", key, err)
	}
	return nil
}

// Elem returns one element of key, a key of type t, as the batch sees it.
func (b *ApplyBatch) Elem(t Type, key, elem []byte) ([]byte, bool, error) {
	rd, err := b.reader()
	if err != nil {
		return nil, false, err
	}
	return getElem(rd, t, key, elem)
}

// PutElem writes one element of key, a key of type t. The caller keeps the
// key's record (its element count) in step.
func (b *ApplyBatch) PutElem(t Type, key, elem, value []byte) error {
	if b.err != nil {
		return b.err
	}
	sub, ok := family(t)
	if !ok {
		return fmt.Errorf("apply batch: type %s has no elements", t)
	}
	if err := b.b.Set(elemKey(sub, key, elem), value, nil); err != nil {
		return fmt.Errorf("apply batch put element: %w", err)
	}
	return nil
}

// DeleteElem removes one element of key, a key of type t.
func (b *ApplyBatch) DeleteElem(t Type, key, elem []byte) error {
	if b.err != nil {
		return b.err
	}
	sub, ok := family(t)
	if !ok {
		return fmt.Errorf("apply batch: type %s has no elements", t)
	}
	if err := b.b.Delete(elemKey(sub, key, elem), nil); err != nil {
		return fmt.Errorf("apply batch delete element: %w", err)
	}
	return nil
}

// Elems calls fn for each of key's elements as the batch sees it, in
// element order, from the element from up to but excluding to (nil leaves
// that end open). fn must not write to the batch.
func (b *ApplyBatch) Elems(t Type, key, from, to []byte, fn func(elem, value []byte) error) error {
	rd, err := b.reader()
	if err != nil {
		return err
	}
	return iterElems(rd, t, key, from, to, false, fn)
}

// ElemsRev is Elems in reverse element order.
func (b *ApplyBatch) ElemsRev(t Type, key, from, to []byte, fn func(elem, value []byte) error) error {
	rd, err := b.reader()
	if err != nil {
		return err
	}
	return iterElems(rd, t, key, from, to, true, fn)
}

// DeleteElems removes key's elements from the element from up to but
// excluding to (nil leaves that end open) with one range tombstone.
func (b *ApplyBatch) DeleteElems(t Type, key, from, to []byte) error {
	if b.err != nil {
		return b.err
	}
	sub, ok := family(t)
	if !ok {
		return fmt.Errorf("apply batch: type %s has no elements", t)
	}
	lower, upper := elemBounds(sub, key, from, to)
	if err := b.b.DeleteRange(lower, upper, nil); err != nil {
		return fmt.Errorf("apply batch delete elements of %q: %w", key, err)
	}
	return nil
}

// ElemTypes lists the element families of a key of type t, as element
// calls name them: none for a string, a sorted set's members and its score
// index, the type itself otherwise.
func ElemTypes(t Type) []Type {
	switch t {
	case TypeString:
		return nil
	case TypeZSet:
		return []Type{TypeZSet, ScoreIndex}
	}
	return []Type{t}
}

// dropElems removes every element key had as a key of type t: one range
// tombstone per family, whatever their number.
func (b *ApplyBatch) dropElems(t Type, key []byte) error {
	for _, t := range ElemTypes(t) {
		sub, ok := family(t)
		if !ok {
			continue
		}
		lower, upper := elemRange(sub, key)
		if err := b.b.DeleteRange(lower, upper, nil); err != nil {
			return fmt.Errorf("apply batch drop elements of %q: %w", key, err)
		}
	}
	return nil
}

// View is a consistent, read-only view of the applied data, for a command
// that reads a key's record and its elements together. Close it.
type View struct {
	snap *pebble.Snapshot
}

// View opens a view of the data as last committed.
func (e *Engine) View() (*View, error) {
	if err := e.rlock(); err != nil {
		return nil, err
	}
	defer e.closeMu.RUnlock()
	return &View{snap: e.db.NewSnapshot()}, nil
}

// Key returns key's record in the view, expired or not.
func (v *View) Key(key []byte) (Record, bool, error) { return getRecord(v.snap, key) }

// Elem returns one element of key, a key of type t.
func (v *View) Elem(t Type, key, elem []byte) ([]byte, bool, error) {
	return getElem(v.snap, t, key, elem)
}

// Elems calls fn for each of key's elements in element order, from the
// element from up to but excluding to (nil leaves that end open); elem
// and value are valid only during the call.
func (v *View) Elems(t Type, key, from, to []byte, fn func(elem, value []byte) error) error {
	return iterElems(v.snap, t, key, from, to, false, fn)
}

// ElemsRev is Elems in reverse element order.
func (v *View) ElemsRev(t Type, key, from, to []byte, fn func(elem, value []byte) error) error {
	return iterElems(v.snap, t, key, from, to, true, fn)
}

// Keys calls fn for each key record in the view from the key from on
// (nil: the first), in key order, expired or not; key and the record's
// Value are valid only during the call.
func (v *View) Keys(from []byte, fn func(key []byte, r Record) error) error {
	return iterKeys(v.snap, from, fn)
}

// KeyCount is the number of keys in the view.
func (v *View) KeyCount() uint64 {
	n, _ := getUint64(v.snap, keyKeyCount)
	return n
}

// Close releases the view.
func (v *View) Close() error { return v.snap.Close() }
