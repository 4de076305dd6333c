package engine

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Type is the Redis type of a user key, as its record stores it. Values
// are part of the storage format: never renumber, only append.
type Type uint8

const (
	TypeString Type = 1
	TypeHash   Type = 2
	TypeList   Type = 3
	TypeSet    Type = 4
	TypeZSet   Type = 5
)

// String is the type's name as Redis's TYPE answers it.
func (t Type) String() string {
	switch t {
	case TypeString:
		return "string"
	case TypeHash:
		return "hash"
	case TypeList:
		return "list"
	case TypeSet:
		return "set"
	case TypeZSet:
		return "zset"
	}
	return fmt.Sprintf("type%d", uint8(t))
}

// Record is what the data set holds for one user key: its type, when it
// expires, and its value (a string's bytes; other types keep their header
// here and their elements under their own keys).
type Record struct {
	Type Type
	// Expire is the Unix time in milliseconds after which the key no
	// longer exists (Redis's rule: expired once now > Expire); 0 means
	// it never expires. Whether a key has expired is the caller's call:
	// the engine reads no clock.
	Expire int64
	Value  []byte
}

// ExpiredAt reports whether the record's key no longer exists at now (Unix
// milliseconds).
func (r Record) ExpiredAt(now int64) bool { return r.Expire != 0 && now > r.Expire }

// Data family sub-prefixes: the byte after 'd'. See doc.go.
const (
	subClock  = 'c'
	subKey    = 'k'
	subExpire = 'x'
)

// A record is stored as one byte of type, with recordExpires set when an
// 8-byte big-endian expiry follows, then the value to the end.
const recordExpires = 0x80

// recordLen is the length of r encoded.
func recordLen(r Record) int {
	if r.Expire != 0 {
		return 9 + len(r.Value)
	}
	return 1 + len(r.Value)
}

// putRecord encodes r into b, of recordLen(r) bytes.
func putRecord(b []byte, r Record) {
	if r.Expire == 0 {
		b[0] = byte(r.Type)
		copy(b[1:], r.Value)
		return
	}
	b[0] = byte(r.Type) | recordExpires
	binary.BigEndian.PutUint64(b[1:9], uint64(r.Expire))
	copy(b[9:], r.Value)
}

// decodeRecord decodes v; the Value aliases v.
func decodeRecord(v []byte) (Record, error) {
	if len(v) == 0 {
		return Record{}, fmt.Errorf("%w: empty key record", ErrCorrupt)
	}
	r := Record{Type: Type(v[0] &^ recordExpires)}
	if r.Type < TypeString || r.Type > TypeZSet {
		return Record{}, fmt.Errorf("%w: key record of unknown type %d", ErrCorrupt, r.Type)
	}
	if v[0]&recordExpires == 0 {
		r.Value = v[1:]
		return r, nil
	}
	if len(v) < 9 {
		return Record{}, fmt.Errorf("%w: key record cut short in its expiry", ErrCorrupt)
	}
	r.Expire = int64(binary.BigEndian.Uint64(v[1:9]))
	if r.Expire == 0 {
		return Record{}, fmt.Errorf("%w: key record with an expiry of 0", ErrCorrupt)
	}
	r.Value = v[9:]
	return r, nil
}

// getRecord reads key's record from r (the database or a batch); its
// Value is a copy.
func getRecord(r pebble.Reader, key []byte) (Record, bool, error) {
	v, closer, err := r.Get(keyRecordKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, fmt.Errorf("get key %q: %w", key, err)
	}
	// The value belongs to pebble until closer is closed.
	rec, err := decodeRecord(v)
	if err == nil {
		rec.Value = append(make([]byte, 0, len(rec.Value)), rec.Value...)
	}
	if cerr := closer.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return Record{}, false, fmt.Errorf("get key %q: %w", key, err)
	}
	return rec, true, nil
}

// keyRecordKey is the pebble key of key's record.
func keyRecordKey(key []byte) []byte {
	return appendKeyRecordKey(make([]byte, 0, 2+len(key)), key)
}

// appendKeyRecordKey appends the pebble key of key's record to dst.
func appendKeyRecordKey(dst, key []byte) []byte {
	return append(append(dst, prefixData, subKey), key...)
}

// expireKey is the expiry index's entry for key expiring at ms. The time
// is stored with its sign bit flipped, so that byte order is time order
// for any int64.
func expireKey(ms int64, key []byte) []byte {
	k := make([]byte, 0, 10+len(key))
	k = append(k, prefixData, subExpire)
	k = binary.BigEndian.AppendUint64(k, uint64(ms)^(1<<63))
	return append(k, key...)
}

var (
	keyClock = []byte{prefixData, subClock}
	// keyRecordsLower and keyRecordsUpper bound the key records.
	keyRecordsLower = []byte{prefixData, subKey}
	keyRecordsUpper = []byte{prefixData, subKey + 1}
	// expireLower is where the expiry index starts.
	expireLower = []byte{prefixData, subExpire}
)
