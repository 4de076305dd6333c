package fsm

import (
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/raftkv/raftkv/engine"
)

// Transactions. MULTI ... EXEC is one log entry (OpMulti), applied in one
// go: no other command runs between its commands, and a crash keeps all
// of it or none. Its arguments:
//
//	nonce (8 bytes): names the transaction for its proposer's TxReader
//	watch count (8 bytes), then per watched key: the key, its KeyDigest
//	    when WATCH read it (20 bytes)
//	one argument per command: 'w' + a write's command encoding, 'r' for
//	    a read, '-' for a command its proposer already answered (it failed
//	    its own checks)
//
// If a watched key's digest differs when the entry applies, nothing runs
// and the Result is Aborted. Otherwise every write applies in order, each
// with its own Result in Multi, a refusal not stopping the others (as
// Redis runs EXEC). Reads change nothing, so they do not need to run on
// every replica: on the node that proposed the transaction, apply calls
// its TxReader at each read's place, with the batch as it stands, so the
// read sees the writes before it and nothing after.

// Reader reads a state machine's data: the applied data (engine.View) or
// a batch being applied (engine.ApplyBatch).
type Reader interface {
	Key(key []byte) (engine.Record, bool, error)
	Elem(t engine.Type, key, elem []byte) ([]byte, bool, error)
	Elems(t engine.Type, key, from, to []byte, fn func(elem, value []byte) error) error
	ElemsRev(t engine.Type, key, from, to []byte, fn func(elem, value []byte) error) error
	// Keys calls fn for each key record from the key from on, in key
	// order, expired or not.
	Keys(from []byte, fn func(key []byte, r engine.Record) error) error
	// KeyCount is the number of keys, expired or not (DBSIZE).
	KeyCount() uint64
}

// TxReader runs read i of a transaction against r at the state machine
// time now. It must not block or write.
type TxReader func(i int, r Reader, now int64)

// Watched is a key WATCH read, with its digest then.
type Watched struct {
	Key    []byte
	Digest [sha1.Size]byte
}

// Kinds of transaction commands.
const (
	TxWrite    byte = 'w'
	TxRead     byte = 'r'
	TxAnswered byte = '-'
)

// EncodeMulti encodes a transaction: its nonce, the keys it watched, and
// its commands, each a kind byte followed, for a write, by its encoding.
func EncodeMulti(nonce uint64, watched []Watched, cmds [][]byte) []byte {
	args := [][]byte{binary.BigEndian.AppendUint64(nil, nonce), int64Arg(int64(len(watched)))}
	for _, w := range watched {
		args = append(args, w.Key, w.Digest[:])
	}
	return encode(OpMulti, append(args, cmds...)...)
}

// EncodeWrites encodes writes a client pipelined, stamped at now, as one
// transaction entry: nonce 0, nothing watched, every command a write.
// They apply in order, each with its own Result, a refusal not stopping
// the others: what they would do as entries of their own, in one entry
// and one apply instead of one each. The nonce names no reads, so it
// need not be unique.
func EncodeWrites(now int64, cmds [][]byte) []byte {
	n := 9 + 1 + binary.MaxVarintLen64 + 2*(1+8)
	for _, c := range cmds {
		n += binary.MaxVarintLen64 + 1 + len(c)
	}
	b := make([]byte, 0, n)
	b = append(b, byte(OpAt))
	b = binary.BigEndian.AppendUint64(b, uint64(now))
	b = append(b, byte(OpMulti))
	b = binary.AppendUvarint(b, uint64(2+len(cmds)))
	b = append(b, 8)
	b = binary.BigEndian.AppendUint64(b, 0) // nonce
	b = append(b, 8)
	b = binary.BigEndian.AppendUint64(b, 0) // watched keys
	for _, c := range cmds {
		b = binary.AppendUvarint(b, uint64(1+len(c)))
		b = append(b, TxWrite)
		b = append(b, c...)
	}
	return b
}

// txReaders holds the TxReaders of transactions this node proposed.
type txReaders struct{ m sync.Map }

// OnTxReads registers fn to run the reads of the transaction nonce when
// it applies on this node; the returned func unregisters it.
func (f *FSM) OnTxReads(nonce uint64, fn TxReader) (cancel func()) {
	f.tx.m.Store(nonce, fn)
	return func() { f.tx.m.Delete(nonce) }
}

func (f *FSM) applyMulti(a applier, cmd Command) (Result, error) {
	args := cmd.Args
	if len(args) < 2 || len(args[0]) != 8 || len(args[1]) != 8 {
		return badArity(cmd), nil
	}
	nonce := binary.BigEndian.Uint64(args[0])
	nw := binary.BigEndian.Uint64(args[1])
	args = args[2:]
	if nw > uint64(len(args))/2 {
		return badArity(cmd), nil
	}
	watched, cmds := args[:2*nw], args[2*nw:]
	for _, c := range cmds {
		if len(c) == 0 || (c[0] != TxWrite && c[0] != TxRead && c[0] != TxAnswered) || (c[0] != TxWrite && len(c) != 1) {
			return Result{Err: fmt.Errorf("%w: transaction command %q", ErrCorrupt, c)}, nil
		}
	}
	for i := 0; i < len(watched); i += 2 {
		if len(watched[i+1]) != sha1.Size {
			return badArity(cmd), nil
		}
		d, err := KeyDigest(a.b, watched[i], a.now)
		if err != nil {
			return Result{}, err
		}
		if string(d[:]) != string(watched[i+1]) {
			return Result{Aborted: true}, nil
		}
	}
	var reader TxReader
	if fn, ok := f.tx.m.Load(nonce); ok {
		reader = fn.(TxReader)
	}
	// Until a command has a result of its own, the results are the shared
	// zeroResults: a pipelined run of SETs allocates none.
	var res Result
	set := func(i int, r Result) {
		if res.Multi == nil {
			res.Multi = make([]Result, len(cmds))
		}
		res.Multi[i] = r
	}
	// The commands' arguments, decoded one command after the other into
	// the same array: no result refers to them.
	var subArgs [][]byte
	for i, c := range cmds {
		switch c[0] {
		case TxRead:
			if reader != nil {
				reader(i, a.b, a.now)
			}
		case TxWrite:
			sub, err := decodeInto(c[1:], subArgs)
			if err == nil && (sub.Op == OpMulti || sub.Now != 0) {
				err = fmt.Errorf("%w: a transaction inside a transaction", ErrCorrupt)
			}
			if err != nil {
				set(i, Result{Err: err})
				continue
			}
			subArgs = sub.Args
			// Each command draws its own random numbers.
			sa := a
			sa.seed[1] ^= uint64(i+1) << 40
			r, err := sa.apply(sub)
			if err != nil {
				return Result{}, err
			}
			if !r.isZero() {
				set(i, r)
			}
		}
	}
	if res.Multi == nil {
		if len(cmds) <= len(zeroResults) {
			res.Multi = zeroResults[:len(cmds):len(cmds)]
		} else {
			res.Multi = make([]Result, len(cmds))
		}
	}
	return res, nil
}

// zeroResults backs the results of a transaction or pipelined run whose
// commands all answer Result{}, as plain SETs do. It is shared: nothing
// writes to a Result's Multi once Apply returned it.
var zeroResults [1024]Result

// KeyDigest digests everything key holds at now: its record (type,
// expiry, value) and its elements; a missing or expired key digests to
// zeros. WATCH compares it with the digest when the transaction applies,
// so any change to the key in between aborts the transaction (a change
// that is undone before EXEC goes unseen).
func KeyDigest(r Reader, key []byte, now int64) ([sha1.Size]byte, error) {
	var d [sha1.Size]byte
	rec, found, err := r.Key(key)
	if err != nil || !found || rec.ExpiredAt(now) {
		return d, err
	}
	h := sha1.New()
	var hdr [17]byte
	hdr[0] = byte(rec.Type)
	binary.BigEndian.PutUint64(hdr[1:], uint64(rec.Expire))
	binary.BigEndian.PutUint64(hdr[9:], uint64(len(rec.Value)))
	h.Write(hdr[:])
	h.Write(rec.Value)
	for _, t := range engine.ElemTypes(rec.Type) {
		if t == engine.ScoreIndex {
			continue // derived from the members
		}
		err := r.Elems(t, key, nil, nil, func(e, v []byte) error {
			var lens [16]byte
			binary.BigEndian.PutUint64(lens[:], uint64(len(e)))
			binary.BigEndian.PutUint64(lens[8:], uint64(len(v)))
			h.Write(lens[:])
			h.Write(e)
			h.Write(v)
			return nil
		})
		if err != nil {
			return d, err
		}
	}
	copy(d[:], h.Sum(nil))
	return d, nil
}
