package fsm

import (
	"errors"
	"math"
	"strconv"

	"github.com/raftkv/raftkv/engine"
)

// Hashes. A hash is a record of type hash whose value is its field count
// (a uvarint), and one element per field; an empty hash does not exist
// (the last HDEL deletes the key, as in Redis).

// Redis's refusals of a hash field's value.
var (
	ErrHashNotInteger = errors.New("ERR hash value is not an integer")
	ErrHashNotFloat   = errors.New("ERR hash value is not a float")
)

// EncodeHSet encodes HSET key field value [field value ...].
func EncodeHSet(key []byte, pairs [][]byte) []byte {
	return encode(OpHSet, append([][]byte{key}, pairs...)...)
}

// EncodeHSetNX encodes HSETNX key field value.
func EncodeHSetNX(key, field, value []byte) []byte { return encode(OpHSetNX, key, field, value) }

// EncodeHDel encodes HDEL key field [field ...].
func EncodeHDel(key []byte, fields [][]byte) []byte {
	return encode(OpHDel, append([][]byte{key}, fields...)...)
}

// EncodeHIncrBy encodes HINCRBY key field delta.
func EncodeHIncrBy(key, field []byte, delta int64) []byte {
	return encode(OpHIncrBy, key, field, int64Arg(delta))
}

// EncodeHIncrByFloat encodes HINCRBYFLOAT key field increment, the
// increment as the client wrote it.
func EncodeHIncrByFloat(key, field, incr []byte) []byte {
	return encode(OpHIncrByFloat, key, field, incr)
}

// hash opens key as a hash (a new, empty one when it is missing or
// expired); a key of another type is refused with WRONGTYPE.
func (a applier) hash(key []byte) (counted, Result, error) {
	return a.counted(key, engine.TypeHash)
}

// saveHash writes the record back with its count, or deletes the key when
// no field is left.
func (a applier) saveHash(key []byte, h counted) error { return a.saveCounted(key, h) }

// setField writes one field, counting it if it is new; it reports whether
// it was.
func (a applier) setField(key []byte, h *counted, field, value []byte) (bool, error) {
	_, exists, err := a.b.Elem(engine.TypeHash, key, field)
	if err != nil {
		return false, err
	}
	if err := a.b.PutElem(engine.TypeHash, key, field, value); err != nil {
		return false, err
	}
	if !exists {
		h.n++
	}
	return !exists, nil
}

// hset sets fields; Int counts the new ones. With nx (HSETNX, one field) a
// field that exists is left alone.
func (a applier) hset(key []byte, pairs [][]byte, nx bool) (Result, error) {
	h, refused, err := a.hash(key)
	if err != nil || refused.Err != nil {
		return refused, err
	}
	if nx {
		if _, exists, err := a.b.Elem(engine.TypeHash, key, pairs[0]); err != nil || exists {
			return Result{}, err
		}
	}
	var added int64
	for i := 0; i < len(pairs); i += 2 {
		isNew, err := a.setField(key, &h, pairs[i], pairs[i+1])
		if err != nil {
			return Result{}, err
		}
		if isNew {
			added++
		}
	}
	return Result{Int: added}, a.saveHash(key, h)
}

// hdel deletes fields; Int counts those that existed.
func (a applier) hdel(key []byte, fields [][]byte) (Result, error) {
	h, refused, err := a.hash(key)
	if err != nil || refused.Err != nil || !h.found {
		return refused, err
	}
	var removed int64
	for _, f := range fields {
		_, exists, err := a.b.Elem(engine.TypeHash, key, f)
		if err != nil {
			return Result{}, err
		}
		if !exists {
			continue
		}
		if err := a.b.DeleteElem(engine.TypeHash, key, f); err != nil {
			return Result{}, err
		}
		h.n--
		removed++
	}
	if removed == 0 {
		return Result{}, nil
	}
	return Result{Int: removed}, a.saveHash(key, h)
}

// hashField opens key as a hash and reads one of its fields.
func (a applier) hashField(key, field []byte) (h counted, old []byte, exists bool, refused Result, err error) {
	if h, refused, err = a.hash(key); err != nil || refused.Err != nil {
		return h, nil, false, refused, err
	}
	old, exists, err = a.b.Elem(engine.TypeHash, key, field)
	return h, old, exists, Result{}, err
}

// hincrBy adds delta to a field's integer value (0 when missing).
func (a applier) hincrBy(key, field []byte, delta int64) (Result, error) {
	h, old, exists, refused, err := a.hashField(key, field)
	if err != nil || refused.Err != nil {
		return refused, err
	}
	var v int64
	if exists {
		var ok bool
		if v, ok = ParseInt(old); !ok {
			return Result{Err: ErrHashNotInteger}, nil
		}
	}
	if (delta > 0 && v > math.MaxInt64-delta) || (delta < 0 && v < math.MinInt64-delta) {
		return Result{Err: ErrOverflow}, nil
	}
	v += delta
	if _, err := a.setField(key, &h, field, strconv.AppendInt(nil, v, 10)); err != nil {
		return Result{}, err
	}
	return Result{Int: v}, a.saveHash(key, h)
}

// hincrByFloat adds incr to a field's value in long double arithmetic, as
// INCRBYFLOAT does; Value is the new text.
func (a applier) hincrByFloat(key, field, incr []byte) (Result, error) {
	h, old, exists, refused, err := a.hashField(key, field)
	if err != nil || refused.Err != nil {
		return refused, err
	}
	text, refusal := addFloatText(old, exists, incr, ErrHashNotFloat)
	if refusal != nil {
		return Result{Err: refusal}, nil
	}
	if _, err := a.setField(key, &h, field, text); err != nil {
		return Result{}, err
	}
	return Result{Value: text}, a.saveHash(key, h)
}
