package fsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/raftkv/raftkv/engine"
)

// Sorted sets. A sorted set is a record of type zset whose value is its
// member count (a uvarint), one element per member holding its score (8
// bytes, the float64's bits), and one entry per member in the score index
// (engine.ScoreIndex: the sortable score, then the member; the value is
// the score's bits again, so a scan needs no second read), so that ranges
// by score or rank are scans in order. An empty sorted set does
// not exist.

// Flags of OpZAdd, one byte.
const (
	ZAddNX   byte = 1 << 0
	ZAddXX   byte = 1 << 1
	ZAddGT   byte = 1 << 2
	ZAddLT   byte = 1 << 3
	ZAddCH   byte = 1 << 4
	ZAddIncr byte = 1 << 5
)

// Redis's refusals of sorted set commands.
var (
	ErrScoreNaN = errors.New("ERR resulting score is not a number (NaN)")
)

// EncodeZAdd encodes ZADD key with flags and score-member pairs (ZINCRBY
// is ZADD with ZAddIncr).
func EncodeZAdd(key []byte, flags byte, scores []float64, members [][]byte) []byte {
	args := [][]byte{key, {flags}}
	for i, m := range members {
		args = append(args, binary.BigEndian.AppendUint64(nil, math.Float64bits(scores[i])), m)
	}
	return encode(OpZAdd, args...)
}

// EncodeZRem encodes ZREM key member [member ...].
func EncodeZRem(key []byte, members [][]byte) []byte {
	return encode(OpZRem, append([][]byte{key}, members...)...)
}

// EncodeZPop encodes ZPOPMIN (max false) or ZPOPMAX key [count]; count < 0
// when not given.
func EncodeZPop(key []byte, max bool, count int64) []byte {
	side := byte(0)
	if max {
		side = 1
	}
	return encode(OpZPop, key, []byte{side}, int64Arg(count))
}

// ZSetMeta is what a sorted set's record holds: its member count and two
// marks in its score index. Popped members leave tombstones at the ends of
// the index that a scan from an end would step over one by one, ever more
// of them; the marks let scans start past them.
//
// Invariant: every live index entry sorts after Low (when set) and before
// High (when set). ZPOPMIN moves Low to the last entry it popped, ZPOPMAX
// moves High to the last it popped, and an entry added at or beyond a
// mark clears that mark.
type ZSetMeta struct {
	Len       int64
	Low, High []byte
}

// ZSetOf decodes a sorted set's record: uvarint count, then, if any, each
// mark as a uvarint length and its bytes (Low, then High).
func ZSetOf(r engine.Record) (ZSetMeta, error) {
	bad := fmt.Errorf("%w: sorted set record %x", engine.ErrCorrupt, r.Value)
	b := r.Value
	n, k := binary.Uvarint(b)
	if k <= 0 || n > math.MaxInt64 {
		return ZSetMeta{}, bad
	}
	m := ZSetMeta{Len: int64(n)}
	b = b[k:]
	if len(b) == 0 {
		return m, nil
	}
	for _, mark := range []*[]byte{&m.Low, &m.High} {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return ZSetMeta{}, bad
		}
		if l > 0 {
			*mark = b[k : k+int(l)]
		}
		b = b[k+int(l):]
	}
	if len(b) != 0 {
		return ZSetMeta{}, bad
	}
	return m, nil
}

func (m ZSetMeta) encode() []byte {
	b := binary.AppendUvarint(nil, uint64(m.Len))
	if m.Low == nil && m.High == nil {
		return b
	}
	for _, mark := range [][]byte{m.Low, m.High} {
		b = binary.AppendUvarint(b, uint64(len(mark)))
		b = append(b, mark...)
	}
	return b
}

// From and To bound a scan of the score index to where live entries can
// be: the element to start at (nil: the first) and the one to stop
// before (nil: past the last).
func (m ZSetMeta) From() []byte {
	if m.Low == nil {
		return nil
	}
	return append(bytes.Clone(m.Low), 0)
}

func (m ZSetMeta) To() []byte { return m.High }

// ScoreKey is a score as 8 bytes whose byte order is numeric order; -0
// sorts as 0.
func ScoreKey(f float64) []byte {
	if f == 0 {
		f = 0
	}
	b := math.Float64bits(f)
	if b>>63 == 0 {
		b ^= 1 << 63
	} else {
		b = ^b
	}
	return binary.BigEndian.AppendUint64(nil, b)
}

// ScoreOf reads a score stored as a member's element value.
func ScoreOf(v []byte) (float64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: score of %d bytes", engine.ErrCorrupt, len(v))
	}
	return math.Float64frombits(binary.BigEndian.Uint64(v)), nil
}

// scoreValue is a score as a member's element value.
func scoreValue(f float64) []byte { return binary.BigEndian.AppendUint64(nil, math.Float64bits(f)) }

// indexEntry is a member's score index element.
func indexEntry(score float64, member []byte) []byte { return append(ScoreKey(score), member...) }

// ParseScore parses a score as Redis does (strtod): decimal or hex,
// "inf", "+inf", "-inf"; no spaces, no NaN, nothing out of range.
func ParseScore(b []byte) (float64, bool) {
	s := string(b)
	if s == "" || strings.ContainsAny(s[:1], " \t\n\v\f\r") || strings.ContainsRune(s, '_') {
		return 0, false
	}
	if hex := strings.TrimLeft(s, "+-"); len(hex) > 2 && (hex[:2] == "0x" || hex[:2] == "0X") && !strings.ContainsAny(hex, "pP") {
		s += "p0" // strtod reads hex without an exponent
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) {
		return 0, false
	}
	return f + 0, true // -0 is kept as 0, as a Redis sorted set does
}

// FormatScore writes a score as Redis 7.0 replies it: integers exactly
// within 2^52, else %.17g; "inf", "-inf". (Scores never hold -0: parsing
// and sums normalise it; it would print as "-0".)
func FormatScore(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case f == 0 && math.Signbit(f):
		return "-0"
	case f > -4503599627370495 && f < 4503599627370496 && f == math.Trunc(f):
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', 17, 64)
}

// zadd adds or updates members as ZADD does; Int counts the members added
// (and changed, with CH). With ZAddIncr (one member) the score is added
// to, Value is the new score, and Found is false when the flags kept the
// member from changing.
func (a applier) zadd(key []byte, flags byte, pairs [][]byte) (Result, error) {
	z, refused, err := a.counted(key, engine.TypeZSet)
	if err != nil || refused.Err != nil {
		return refused, err
	}
	var added, changed int64
	res := Result{}
	for i := 0; i < len(pairs); i += 2 {
		score, member := math.Float64frombits(binary.BigEndian.Uint64(pairs[i])), pairs[i+1]
		curV, exists, err := a.b.Elem(engine.TypeZSet, key, member)
		if err != nil {
			return Result{}, err
		}
		if !exists {
			if flags&ZAddXX != 0 {
				continue
			}
			if err := a.putMember(key, &z, member, score); err != nil {
				return Result{}, err
			}
			z.n++
			added++
			res.Value, res.Found = []byte(FormatScore(score)), true
			continue
		}
		cur, err := ScoreOf(curV)
		if err != nil {
			return Result{}, err
		}
		if flags&ZAddNX != 0 {
			continue
		}
		next := score
		if flags&ZAddIncr != 0 {
			if next = cur + score + 0; math.IsNaN(next) {
				return Result{Err: ErrScoreNaN}, nil
			}
		}
		if (flags&ZAddGT != 0 && next <= cur) || (flags&ZAddLT != 0 && next >= cur) {
			continue
		}
		res.Value, res.Found = []byte(FormatScore(next)), true
		if next == cur {
			continue
		}
		if err := a.b.DeleteElem(engine.ScoreIndex, key, indexEntry(cur, member)); err != nil {
			return Result{}, err
		}
		if err := a.putMember(key, &z, member, next); err != nil {
			return Result{}, err
		}
		changed++
	}
	res.Int = added
	if flags&ZAddCH != 0 {
		res.Int += changed
	}
	if flags&ZAddIncr == 0 {
		res.Value, res.Found = nil, false
	}
	if !z.found && z.n == 0 {
		return res, nil // nothing added to a missing key: it stays missing
	}
	return res, a.saveCounted(key, z)
}

// putMember writes a member and its index entry, clearing a mark of z's
// that the entry would fall behind.
func (a applier) putMember(key []byte, z *counted, member []byte, score float64) error {
	if err := a.b.PutElem(engine.TypeZSet, key, member, scoreValue(score)); err != nil {
		return err
	}
	e := indexEntry(score, member)
	if z.low != nil && bytes.Compare(e, z.low) <= 0 {
		z.low = nil
	}
	if z.high != nil && bytes.Compare(e, z.high) >= 0 {
		z.high = nil
	}
	return a.b.PutElem(engine.ScoreIndex, key, e, scoreValue(score))
}

func (a applier) removeMember(key, member []byte, score float64) error {
	if err := a.b.DeleteElem(engine.TypeZSet, key, member); err != nil {
		return err
	}
	return a.b.DeleteElem(engine.ScoreIndex, key, indexEntry(score, member))
}

// zrem removes members; Int counts those that were there.
func (a applier) zrem(key []byte, members [][]byte) (Result, error) {
	z, refused, err := a.counted(key, engine.TypeZSet)
	if err != nil || refused.Err != nil || !z.found {
		return refused, err
	}
	var removed int64
	for _, m := range members {
		v, exists, err := a.b.Elem(engine.TypeZSet, key, m)
		if err != nil {
			return Result{}, err
		}
		if !exists {
			continue
		}
		score, err := ScoreOf(v)
		if err == nil {
			err = a.removeMember(key, m, score)
		}
		if err != nil {
			return Result{}, err
		}
		z.n--
		removed++
	}
	if removed == 0 {
		return Result{}, nil
	}
	return Result{Int: removed}, a.saveCounted(key, z)
}

// zpop removes up to count members (one when count < 0) with the lowest
// scores, or the highest with max; Values are member, score, member,
// score... in the order removed.
func (a applier) zpop(key []byte, max bool, count int64) (Result, error) {
	z, refused, err := a.counted(key, engine.TypeZSet)
	if err != nil || refused.Err != nil || !z.found {
		return refused, err
	}
	n := min(count, z.n)
	if count < 0 {
		n = 1
	}
	var entries [][]byte
	iter := a.b.Elems
	if max {
		iter = a.b.ElemsRev
	}
	meta := ZSetMeta{Low: z.low, High: z.high}
	err = iter(engine.ScoreIndex, key, meta.From(), meta.To(), func(e, _ []byte) error {
		if int64(len(entries)) == n {
			return errStop
		}
		entries = append(entries, bytes.Clone(e))
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return Result{}, err
	}
	res := Result{Found: true, Values: make([][]byte, 0, 2*len(entries))}
	for _, e := range entries {
		if len(e) < 8 {
			return Result{}, fmt.Errorf("%w: score index entry of %d bytes", engine.ErrCorrupt, len(e))
		}
		member := e[8:]
		v, ok, err := a.b.Elem(engine.TypeZSet, key, member)
		if err == nil && !ok {
			err = fmt.Errorf("%w: sorted set %q indexes a missing member", engine.ErrCorrupt, key)
		}
		if err != nil {
			return Result{}, err
		}
		score, err := ScoreOf(v)
		if err == nil {
			err = a.removeMember(key, member, score)
		}
		if err != nil {
			return Result{}, err
		}
		z.n--
		res.Values = append(res.Values, member, []byte(FormatScore(score)))
	}
	// Every entry up to the last popped (or from it, popping the
	// highest) is gone: later scans start past them.
	if len(entries) > 0 {
		if last := entries[len(entries)-1]; max {
			z.high = last
		} else {
			z.low = last
		}
	}
	return res, a.saveCounted(key, z)
}
