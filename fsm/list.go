package fsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/raftkv/raftkv/engine"
)

// Lists. A list is a record of type list whose value is the sequence
// number of its first element (a varint) and its length (a uvarint); its
// elements sit at consecutive sequence numbers from there, so LINDEX is one
// point read and LRANGE one bounded scan. LPUSH takes the number before the
// first, RPUSH the one after the last; LREM closes the gap it leaves. An
// empty list does not exist.

// Flags of OpPush, one byte.
const (
	PushLeft byte = 1 << 0 // LPUSH: at the head (else the tail)
	PushX    byte = 1 << 1 // LPUSHX, RPUSHX: only onto an existing list
)

// Redis's refusals of list commands.
var (
	ErrIndexRange = errors.New("ERR index out of range")
)

// EncodePush encodes LPUSH, RPUSH, LPUSHX and RPUSHX key element [element
// ...] with flags PushLeft and PushX.
func EncodePush(key []byte, flags byte, elems [][]byte) []byte {
	return encode(OpPush, append([][]byte{key, {flags}}, elems...)...)
}

// EncodePop encodes LPOP or RPOP key [count]: count < 0 when not given.
func EncodePop(key []byte, left bool, count int64) []byte {
	side := byte(0)
	if left {
		side = PushLeft
	}
	return encode(OpPop, key, []byte{side}, int64Arg(count))
}

// EncodeLSet encodes LSET key index element.
func EncodeLSet(key []byte, index int64, elem []byte) []byte {
	return encode(OpLSet, key, int64Arg(index), elem)
}

// EncodeLRem encodes LREM key count element.
func EncodeLRem(key []byte, count int64, elem []byte) []byte {
	return encode(OpLRem, key, int64Arg(count), elem)
}

// EncodeLTrim encodes LTRIM key start stop.
func EncodeLTrim(key []byte, start, stop int64) []byte {
	return encode(OpLTrim, key, int64Arg(start), int64Arg(stop))
}

// ListMeta is where a list's elements are: the sequence number of the
// first, and how many there are.
type ListMeta struct {
	Head, Len int64
}

// ListOf decodes a list record.
func ListOf(r engine.Record) (ListMeta, error) {
	head, k1 := binary.Varint(r.Value)
	if k1 > 0 {
		n, k2 := binary.Uvarint(r.Value[k1:])
		if k2 > 0 && k1+k2 == len(r.Value) && n <= math.MaxInt64 {
			return ListMeta{Head: head, Len: int64(n)}, nil
		}
	}
	return ListMeta{}, fmt.Errorf("%w: list record %x", engine.ErrCorrupt, r.Value)
}

// Seq is the element key of the element at sequence number s: big-endian
// with the sign bit flipped, so that key order is list order.
func Seq(s int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(s)^(1<<63)) }

// Index turns a Redis list index (negative counts from the end) into a
// position from the head; ok is false outside the list.
func (m ListMeta) Index(i int64) (int64, bool) {
	if i < 0 {
		i += m.Len
	}
	return i, i >= 0 && i < m.Len
}

// Range clamps LRANGE's (or LTRIM's) start and stop to positions from the
// head, as Redis does; ok is false when nothing is in range.
func (m ListMeta) Range(start, stop int64) (from, to int64, ok bool) {
	if start < 0 {
		start = max(start+m.Len, 0)
	}
	if stop < 0 {
		stop += m.Len
	}
	if start > stop || start >= m.Len {
		return 0, 0, false
	}
	return start, min(stop, m.Len-1), true
}

// listRec is an open list: its record as it will be written back.
type listRec struct {
	rec   engine.Record
	m     ListMeta
	found bool
}

// list opens key as a list (a new, empty one when missing or expired); a
// key of another type is refused with WRONGTYPE.
func (a applier) list(key []byte) (listRec, Result, error) {
	r, found, err := a.key(key)
	switch {
	case err != nil:
		return listRec{}, Result{}, err
	case !found:
		return listRec{rec: engine.Record{Type: engine.TypeList}}, Result{}, nil
	case r.Type != engine.TypeList:
		return listRec{}, Result{Err: ErrWrongType}, nil
	}
	m, err := ListOf(r)
	return listRec{rec: r, m: m, found: true}, Result{}, err
}

// saveList writes the record back, or deletes the key when the list is
// empty.
func (a applier) saveList(key []byte, l listRec) error {
	if l.m.Len == 0 {
		return a.b.Delete(key)
	}
	v := binary.AppendVarint(nil, l.m.Head)
	l.rec.Value = binary.AppendUvarint(v, uint64(l.m.Len))
	return a.b.Put(key, l.rec)
}

// push adds elems at the head or the tail, one after the other (LPUSH a b
// leaves b first); Int is the new length. With PushX a missing list stays
// missing.
func (a applier) push(key []byte, flags byte, elems [][]byte) (Result, error) {
	l, refused, err := a.list(key)
	if err != nil || refused.Err != nil {
		return refused, err
	}
	if flags&PushX != 0 && !l.found {
		return Result{}, nil
	}
	for _, e := range elems {
		var s int64
		if flags&PushLeft != 0 {
			l.m.Head--
			s = l.m.Head
		} else {
			s = l.m.Head + l.m.Len
		}
		if err := a.b.PutElem(engine.TypeList, key, Seq(s), e); err != nil {
			return Result{}, err
		}
		l.m.Len++
	}
	return Result{Int: l.m.Len}, a.saveList(key, l)
}

// pop removes up to count elements (one when count < 0) from the head or
// the tail; Values are the elements in the order removed, Found whether
// the list existed.
func (a applier) pop(key []byte, left bool, count int64) (Result, error) {
	l, refused, err := a.list(key)
	if err != nil || refused.Err != nil || !l.found {
		return refused, err
	}
	n := min(max(count, 1), l.m.Len)
	if count == 0 {
		n = 0
	}
	res := Result{Found: true, Values: make([][]byte, 0, n)}
	for range n {
		s := l.m.Head + l.m.Len - 1
		if left {
			s = l.m.Head
		}
		v, ok, err := a.b.Elem(engine.TypeList, key, Seq(s))
		if err == nil && !ok {
			err = fmt.Errorf("%w: list %q has no element %d", engine.ErrCorrupt, key, s)
		}
		if err != nil {
			return Result{}, err
		}
		if err := a.b.DeleteElem(engine.TypeList, key, Seq(s)); err != nil {
			return Result{}, err
		}
		if left {
			l.m.Head++
		}
		l.m.Len--
		res.Values = append(res.Values, v)
	}
	return res, a.saveList(key, l)
}

// lset replaces the element at index.
func (a applier) lset(key []byte, index int64, elem []byte) (Result, error) {
	l, refused, err := a.list(key)
	switch {
	case err != nil || refused.Err != nil:
		return refused, err
	case !l.found:
		return Result{Err: ErrNoSuchKey}, nil
	}
	i, ok := l.m.Index(index)
	if !ok {
		return Result{Err: ErrIndexRange}, nil
	}
	return Result{}, a.b.PutElem(engine.TypeList, key, Seq(l.m.Head+i), elem)
}

// lrem removes elements equal to elem: the first count from the head
// (count > 0), from the tail (count < 0), or all (0); Int counts them. The
// elements after the first removed one move up to close the gap.
func (a applier) lrem(key []byte, count int64, elem []byte) (Result, error) {
	l, refused, err := a.list(key)
	if err != nil || refused.Err != nil || !l.found {
		return refused, err
	}
	var vals [][]byte
	err = a.b.Elems(engine.TypeList, key, nil, nil, func(_, v []byte) error {
		vals = append(vals, bytes.Clone(v))
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	remove := make([]bool, len(vals))
	var removed int64
	for j := range vals {
		i := j
		if count < 0 {
			i = len(vals) - 1 - j
		}
		if count != 0 && removed == max(count, -count) {
			break
		}
		if bytes.Equal(vals[i], elem) {
			remove[i] = true
			removed++
		}
	}
	if removed == 0 {
		return Result{}, nil
	}
	first := 0
	for !remove[first] {
		first++
	}
	// Rewrite from the first removed element on.
	if err := a.b.DeleteElems(engine.TypeList, key, Seq(l.m.Head+int64(first)), nil); err != nil {
		return Result{}, err
	}
	s := l.m.Head + int64(first)
	for i := first; i < len(vals); i++ {
		if remove[i] {
			continue
		}
		if err := a.b.PutElem(engine.TypeList, key, Seq(s), vals[i]); err != nil {
			return Result{}, err
		}
		s++
	}
	l.m.Len -= removed
	return Result{Int: removed}, a.saveList(key, l)
}

// ltrim keeps the elements from start to stop (Redis's clamping), deleting
// the key when nothing is left.
func (a applier) ltrim(key []byte, start, stop int64) (Result, error) {
	l, refused, err := a.list(key)
	if err != nil || refused.Err != nil || !l.found {
		return refused, err
	}
	from, to, ok := l.m.Range(start, stop)
	if !ok {
		l.m.Len = 0
		return Result{}, a.saveList(key, l)
	}
	if err := a.b.DeleteElems(engine.TypeList, key, nil, Seq(l.m.Head+from)); err != nil {
		return Result{}, err
	}
	if err := a.b.DeleteElems(engine.TypeList, key, Seq(l.m.Head+to+1), nil); err != nil {
		return Result{}, err
	}
	l.m.Head, l.m.Len = l.m.Head+from, to-from+1
	return Result{}, a.saveList(key, l)
}
