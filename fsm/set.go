package fsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/raftkv/raftkv/engine"
)

// Sets. A set is a record of type set whose value is its member count (a
// uvarint), and one element per member with an empty value; an empty set
// does not exist.

// EncodeSAdd encodes SADD key member [member ...].
func EncodeSAdd(key []byte, members [][]byte) []byte {
	return encode(OpSAdd, append([][]byte{key}, members...)...)
}

// EncodeSRem encodes SREM key member [member ...].
func EncodeSRem(key []byte, members [][]byte) []byte {
	return encode(OpSRem, append([][]byte{key}, members...)...)
}

// EncodeSPop encodes SPOP key [count]: count < 0 when not given.
func EncodeSPop(key []byte, count int64) []byte { return encode(OpSPop, key, int64Arg(count)) }

// ElemCount decodes the element count a hash, set or sorted set record
// holds.
func ElemCount(r engine.Record) (int64, error) {
	if r.Type == engine.TypeZSet {
		m, err := ZSetOf(r)
		return m.Len, err
	}
	n, k := binary.Uvarint(r.Value)
	if k <= 0 || k != len(r.Value) || n > math.MaxInt64 {
		return 0, fmt.Errorf("%w: %s record %x", engine.ErrCorrupt, r.Type, r.Value)
	}
	return int64(n), nil
}

// counted is an open hash or set: its record as it will be written back,
// and its element count.
type counted struct {
	rec   engine.Record
	n     int64
	found bool
	// low and high are a sorted set's score index marks (see ZSetMeta).
	low, high []byte
}

// counted opens key as a hash or set of type t (a new, empty one when
// missing or expired); a key of another type is refused with WRONGTYPE.
func (a applier) counted(key []byte, t engine.Type) (counted, Result, error) {
	r, found, err := a.key(key)
	switch {
	case err != nil:
		return counted{}, Result{}, err
	case !found:
		return counted{rec: engine.Record{Type: t}}, Result{}, nil
	case r.Type != t:
		return counted{}, Result{Err: ErrWrongType}, nil
	}
	if t == engine.TypeZSet {
		m, err := ZSetOf(r)
		return counted{rec: r, n: m.Len, found: true, low: m.Low, high: m.High}, Result{}, err
	}
	n, err := ElemCount(r)
	return counted{rec: r, n: n, found: true}, Result{}, err
}

// saveCounted writes the record back with its count, or deletes the key
// when it is empty.
func (a applier) saveCounted(key []byte, c counted) error {
	if c.n == 0 {
		return a.b.Delete(key)
	}
	if c.rec.Type == engine.TypeZSet {
		c.rec.Value = ZSetMeta{Len: c.n, Low: c.low, High: c.high}.encode()
	} else {
		c.rec.Value = binary.AppendUvarint(nil, uint64(c.n))
	}
	return a.b.Put(key, c.rec)
}

// sadd adds members; Int counts the new ones.
func (a applier) sadd(key []byte, members [][]byte) (Result, error) {
	s, refused, err := a.counted(key, engine.TypeSet)
	if err != nil || refused.Err != nil {
		return refused, err
	}
	var added int64
	for _, m := range members {
		_, exists, err := a.b.Elem(engine.TypeSet, key, m)
		if err != nil {
			return Result{}, err
		}
		if exists {
			continue
		}
		if err := a.b.PutElem(engine.TypeSet, key, m, nil); err != nil {
			return Result{}, err
		}
		s.n++
		added++
	}
	return Result{Int: added}, a.saveCounted(key, s)
}

// srem removes members; Int counts those that were there.
func (a applier) srem(key []byte, members [][]byte) (Result, error) {
	s, refused, err := a.counted(key, engine.TypeSet)
	if err != nil || refused.Err != nil || !s.found {
		return refused, err
	}
	var removed int64
	for _, m := range members {
		_, exists, err := a.b.Elem(engine.TypeSet, key, m)
		if err != nil {
			return Result{}, err
		}
		if !exists {
			continue
		}
		if err := a.b.DeleteElem(engine.TypeSet, key, m); err != nil {
			return Result{}, err
		}
		s.n--
		removed++
	}
	if removed == 0 {
		return Result{}, nil
	}
	return Result{Int: removed}, a.saveCounted(key, s)
}

// uniformPick is the set size up to which SPOP picks a member uniformly,
// by rank (a scan of up to that many members); above it, SPOP seeks to a
// random point of the member space, which is O(log n) but favours members
// after wide gaps.
const uniformPick = 512

// spop removes up to count random members (one when count < 0); Values
// are the members removed, Found whether the set existed. The choice is
// drawn from rnd, which every replica seeds alike.
func (a applier) spop(key []byte, count int64, rnd *rand.Rand) (Result, error) {
	s, refused, err := a.counted(key, engine.TypeSet)
	if err != nil || refused.Err != nil || !s.found {
		return refused, err
	}
	n := min(max(count, 1), s.n)
	if count == 0 {
		n = 0
	}
	res := Result{Found: true, Values: make([][]byte, 0, n)}
	for range n {
		m, err := a.pickMember(key, s.n, rnd)
		if err != nil {
			return Result{}, err
		}
		if err := a.b.DeleteElem(engine.TypeSet, key, m); err != nil {
			return Result{}, err
		}
		s.n--
		res.Values = append(res.Values, m)
	}
	return res, a.saveCounted(key, s)
}

// errStop ends an element scan early.
var errStop = errors.New("stop")

// pickMember draws one member of a set of n members.
func (a applier) pickMember(key []byte, n int64, rnd *rand.Rand) ([]byte, error) {
	var picked []byte
	take := func(m, _ []byte) error { picked = bytes.Clone(m); return errStop }
	var err error
	if n <= uniformPick {
		rank := rnd.Int64N(n)
		err = a.b.Elems(engine.TypeSet, key, nil, nil, func(m, v []byte) error {
			if rank--; rank < 0 {
				return take(m, v)
			}
			return nil
		})
	} else {
		from := binary.BigEndian.AppendUint64(nil, rnd.Uint64())
		if err = a.b.Elems(engine.TypeSet, key, from, nil, take); err == nil {
			// Nothing after from: wrap around.
			err = a.b.Elems(engine.TypeSet, key, nil, nil, take)
		}
	}
	if err != nil && !errors.Is(err, errStop) {
		return nil, err
	}
	if picked == nil {
		return nil, fmt.Errorf("%w: set %q counts %d members, none found", engine.ErrCorrupt, key, n)
	}
	return picked, nil
}
