package fsm

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"

	"github.com/raftkv/raftkv/engine"
	"github.com/raftkv/raftkv/raft"
)

// ErrGap is returned by Apply when an entry does not follow the applied
// index: applying it would skip the entries in between.
var ErrGap = errors.New("fsm: entry does not follow the applied index")

// FSM applies committed entries to an engine. Apply is called from one
// goroutine (the Raft driver's); Applied, Get and KeyCount may be called
// from any goroutine.
type FSM struct {
	e      *engine.Engine
	logger hclog.Logger
	// applied mirrors the engine's applied index after each Apply.
	applied atomic.Uint64
	// members is the membership as of applied: the recorded one, or the
	// configured one until the first change.
	members atomic.Pointer[[]engine.Member]
	// onMembers is called after a membership change is applied.
	onMembers func([]engine.Member)
}

var _ raft.StateMachine = (*FSM)(nil)

// New returns an FSM over e, resuming from the applied index e holds.
func New(e *engine.Engine, logger hclog.Logger) (*FSM, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	applied, err := e.Applied()
	if err != nil {
		return nil, fmt.Errorf("read applied index: %w", err)
	}
	f := &FSM{e: e, logger: logger}
	f.applied.Store(applied)
	ms, err := e.Members()
	if err != nil {
		return nil, fmt.Errorf("read members: %w", err)
	}
	if ms != nil {
		f.members.Store(&ms)
	}
	logger.Info("state machine ready", "applied", applied, "keys", e.KeyCount())
	return f, nil
}

// Bootstrap sets the membership the cluster was configured with, which
// holds until the first membership change is applied. It has no effect
// once one was.
func (f *FSM) Bootstrap(ms []engine.Member) {
	if f.members.Load() == nil {
		f.members.Store(&ms)
	}
}

// OnMembersChanged registers fn to be called, on the applying goroutine,
// after each applied membership change.
func (f *FSM) OnMembersChanged(fn func([]engine.Member)) { f.onMembers = fn }

// Members returns the membership as of the applied index.
func (f *FSM) Members() []engine.Member {
	if p := f.members.Load(); p != nil {
		return *p
	}
	return nil
}

// Applied returns the index of the last applied entry.
func (f *FSM) Applied() uint64 { return f.applied.Load() }

// Get returns the applied value of key.
func (f *FSM) Get(key []byte) ([]byte, bool, error) { return f.e.Get(key) }

// KeyCount returns the number of keys in the applied data set.
func (f *FSM) KeyCount() uint64 { return f.e.KeyCount() }

// Apply applies ents in order in one batch and records the last index as
// applied. It returns one result per entry: a Result for every entry it
// applied (Result{} for a no-op), nil for an entry skipped because it was
// already applied. An error means nothing was applied.
func (f *FSM) Apply(ents []raft.Entry) ([]any, error) {
	results := make([]any, len(ents))
	applied := f.applied.Load()
	start := 0
	for start < len(ents) && ents[start].Index <= applied {
		start++
	}
	if start == len(ents) {
		return results, nil
	}
	// Check the whole run before writing anything.
	for i, ent := range ents[start:] {
		if want := applied + 1 + uint64(i); ent.Index != want {
			return nil, fmt.Errorf("apply entry %d, expected %d (applied %d): %w", ent.Index, want, applied, ErrGap)
		}
	}
	last := ents[len(ents)-1].Index

	b := f.e.NewApplyBatch()
	defer b.Close()
	var newMembers *[]engine.Member
	for i := start; i < len(ents); i++ {
		if ents[i].Type == raft.EntryConfChange {
			ms, res, err := f.applyConfChange(b, ents[i], newMembers)
			if err != nil {
				return nil, fmt.Errorf("apply entry %d: %w", ents[i].Index, err)
			}
			if ms != nil {
				newMembers = &ms
			}
			results[i] = res
			continue
		}
		res, err := applyEntry(b, ents[i])
		if err != nil {
			return nil, fmt.Errorf("apply entry %d: %w", ents[i].Index, err)
		}
		if res.Err != nil {
			// Every node reaches the same verdict and goes on; the entry was
			// written by a faulty proposer, which is worth one line.
			f.logger.Warn("rejected command in log", "index", ents[i].Index, "error", res.Err)
		}
		results[i] = res
	}
	if err := b.Commit(last); err != nil {
		return nil, fmt.Errorf("apply entries %d..%d: %w", ents[start].Index, last, err)
	}
	f.applied.Store(last)
	if newMembers != nil {
		f.members.Store(newMembers)
		if f.onMembers != nil {
			f.onMembers(*newMembers)
		}
	}
	return results, nil
}

// applyConfChange records a membership change; cur is the membership set
// earlier in the same batch, if any.
func (f *FSM) applyConfChange(b *engine.ApplyBatch, ent raft.Entry, cur *[]engine.Member) ([]engine.Member, Result, error) {
	cc, err := raft.UnmarshalConfChange(ent.Data)
	if err != nil {
		return nil, Result{Err: err}, nil
	}
	var ms []engine.Member
	if cur != nil {
		ms = slices.Clone(*cur)
	} else {
		ms = slices.Clone(f.Members())
	}
	i := slices.IndexFunc(ms, func(m engine.Member) bool { return m.ID == cc.NodeID })
	switch cc.Type {
	case raft.ConfAddLearner:
		if i >= 0 {
			return nil, Result{}, nil
		}
		peer, resp, err := DecodeMemberContext(cc.Context)
		if err != nil {
			return nil, Result{Err: err}, nil
		}
		ms = append(ms, engine.Member{ID: cc.NodeID, Learner: true, PeerAddr: peer, RespAddr: resp})
		slices.SortFunc(ms, func(a, b engine.Member) int { return cmp.Compare(a.ID, b.ID) })
	case raft.ConfPromote:
		if i < 0 {
			return nil, Result{}, nil
		}
		ms[i].Learner = false
	case raft.ConfRemove:
		if i < 0 {
			return nil, Result{}, nil
		}
		ms = slices.Delete(ms, i, i+1)
	}
	if err := b.SetMembers(ms); err != nil {
		return nil, Result{}, err
	}
	f.logger.Info("membership changed", "change", cc.Type.String(), "node", cc.NodeID, "index", ent.Index, "members", len(ms))
	return ms, Result{}, nil
}

// EncodeMemberContext is a ConfChange's Context for raftkv: the node's
// peer and RESP addresses.
func EncodeMemberContext(peerAddr, respAddr string) []byte {
	b := binary.AppendUvarint(nil, uint64(len(peerAddr)))
	b = append(b, peerAddr...)
	return append(b, respAddr...)
}

// DecodeMemberContext is the inverse of EncodeMemberContext.
func DecodeMemberContext(b []byte) (peerAddr, respAddr string, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", "", fmt.Errorf("%w: member addresses", ErrCorrupt)
	}
	return string(b[k : k+int(n)]), string(b[k+int(n):]), nil
}

// applyEntry applies one entry to b. The error is a storage failure; a bad
// command is reported in the Result.
func applyEntry(b *engine.ApplyBatch, ent raft.Entry) (Result, error) {
	if ent.Type != raft.EntryNormal {
		return Result{Err: fmt.Errorf("%w: entry type %d", ErrCorrupt, ent.Type)}, nil
	}
	if len(ent.Data) == 0 {
		return Result{}, nil // a new leader's no-op
	}
	cmd, err := Decode(ent.Data)
	if err != nil {
		return Result{Err: err}, nil
	}
	switch cmd.Op {
	case OpSet:
		if len(cmd.Args) != 2 {
			return badArity(cmd), nil
		}
		return Result{}, b.Set(cmd.Args[0], cmd.Args[1])
	case OpSetIf:
		if len(cmd.Args) != 3 || len(cmd.Args[2]) != 1 {
			return badArity(cmd), nil
		}
		return applySetIf(b, cmd.Args[0], cmd.Args[1], cmd.Args[2][0])
	case OpAppend:
		if len(cmd.Args) != 2 {
			return badArity(cmd), nil
		}
		return applyAppend(b, cmd.Args[0], cmd.Args[1])
	case OpDel:
		if len(cmd.Args) == 0 {
			return badArity(cmd), nil
		}
		return applyDel(b, cmd.Args)
	case OpGetDel:
		if len(cmd.Args) != 1 {
			return badArity(cmd), nil
		}
		old, found, err := b.Get(cmd.Args[0])
		if err != nil || !found {
			return Result{}, err
		}
		return Result{Old: old, Found: true}, b.Delete(cmd.Args[0])
	case OpMSet, OpMSetNX:
		if len(cmd.Args) == 0 || len(cmd.Args)%2 != 0 {
			return badArity(cmd), nil
		}
		return applyMSet(b, cmd.Args, cmd.Op == OpMSetNX)
	case OpSetRange:
		if len(cmd.Args) != 3 || len(cmd.Args[1]) != 8 {
			return badArity(cmd), nil
		}
		offset := binary.BigEndian.Uint64(cmd.Args[1])
		if offset > MaxString || uint64(len(cmd.Args[2])) > MaxString-offset {
			return Result{Err: ErrTooLong}, nil
		}
		return applySetRange(b, cmd.Args[0], int(offset), cmd.Args[2])
	case OpRename, OpRenameNX:
		if len(cmd.Args) != 2 {
			return badArity(cmd), nil
		}
		return applyRename(b, cmd.Args[0], cmd.Args[1], cmd.Op == OpRenameNX)
	case OpFlush:
		if len(cmd.Args) != 0 {
			return badArity(cmd), nil
		}
		return Result{}, b.DeleteAll()
	case OpIncrBy:
		if len(cmd.Args) != 2 || len(cmd.Args[1]) != 8 {
			return badArity(cmd), nil
		}
		return applyIncrBy(b, cmd.Args[0], int64(binary.BigEndian.Uint64(cmd.Args[1])))
	case OpIncrByFloat:
		if len(cmd.Args) != 2 {
			return badArity(cmd), nil
		}
		return applyIncrByFloat(b, cmd.Args[0], cmd.Args[1])
	}
	return Result{Err: fmt.Errorf("%w: unknown op %d", ErrCorrupt, cmd.Op)}, nil
}

func badArity(cmd Command) Result {
	return Result{Err: fmt.Errorf("%w: op %d with %d arguments", ErrCorrupt, cmd.Op, len(cmd.Args))}
}

// applySetIf sets key to value unless NX finds it or XX misses it; Int
// says whether it wrote, and with GET, Old and Found give the value before.
func applySetIf(b *engine.ApplyBatch, key, value []byte, flags byte) (Result, error) {
	old, found, err := b.Get(key)
	if err != nil {
		return Result{}, err
	}
	r := Result{Found: found}
	if flags&SetGet != 0 {
		r.Old = old
	}
	if (flags&SetNX != 0 && found) || (flags&SetXX != 0 && !found) {
		return r, nil
	}
	r.Int = 1
	return r, b.Set(key, value)
}

// applyAppend appends value to key's value (creating it) and returns the
// new length.
func applyAppend(b *engine.ApplyBatch, key, value []byte) (Result, error) {
	old, _, err := b.Get(key)
	if err != nil {
		return Result{}, err
	}
	// old is a copy that the batch does not keep: appending to it is safe.
	nv := append(old, value...)
	if err := b.Set(key, nv); err != nil {
		return Result{}, err
	}
	return Result{Int: int64(len(nv))}, nil
}

// applyIncrBy adds delta to key's integer value (0 when missing) and
// returns the sum; a value that is not an integer, or a sum past int64,
// changes nothing and gets Redis's error.
func applyIncrBy(b *engine.ApplyBatch, key []byte, delta int64) (Result, error) {
	old, found, err := b.Get(key)
	if err != nil {
		return Result{}, err
	}
	var v int64
	if found {
		var ok bool
		if v, ok = ParseInt(old); !ok {
			return Result{Err: ErrNotInteger}, nil
		}
	}
	if (delta > 0 && v > math.MaxInt64-delta) || (delta < 0 && v < math.MinInt64-delta) {
		return Result{Err: ErrOverflow}, nil
	}
	v += delta
	return Result{Int: v}, b.Set(key, strconv.AppendInt(nil, v, 10))
}

// applyIncrByFloat adds incr to key's value (0 when missing) in long
// double arithmetic, as Redis does, and stores the sum in Redis's human
// format; Value is that text.
func applyIncrByFloat(b *engine.ApplyBatch, key, incr []byte) (Result, error) {
	old, found, err := b.Get(key)
	if err != nil {
		return Result{}, err
	}
	v, vInf := new(big.Float).SetPrec(longDoublePrec), false
	if found {
		var ok bool
		if v, vInf, ok = ParseLongDouble(old); !ok {
			return Result{Err: ErrNotFloat}, nil
		}
	}
	d, dInf, ok := ParseLongDouble(incr)
	if !ok {
		return Result{Err: ErrNotFloat}, nil
	}
	if vInf || dInf {
		return Result{Err: ErrNaNOrInf}, nil
	}
	sum, ok := addLongDouble(v, d)
	if !ok {
		return Result{Err: ErrNaNOrInf}, nil
	}
	text := []byte(FormatLongDouble(sum))
	return Result{Value: text}, b.Set(key, text)
}

// applyMSet sets every pair; with nx, none unless no key exists, and Int
// says which.
func applyMSet(b *engine.ApplyBatch, pairs [][]byte, nx bool) (Result, error) {
	if nx {
		for i := 0; i < len(pairs); i += 2 {
			if _, found, err := b.Get(pairs[i]); err != nil || found {
				return Result{}, err
			}
		}
	}
	for i := 0; i < len(pairs); i += 2 {
		if err := b.Set(pairs[i], pairs[i+1]); err != nil {
			return Result{}, err
		}
	}
	return Result{Int: 1}, nil
}

// applySetRange overwrites key's value from offset with value, padding
// with zero bytes, and returns the new length. An empty value changes
// nothing (and creates no key).
func applySetRange(b *engine.ApplyBatch, key []byte, offset int, value []byte) (Result, error) {
	old, _, err := b.Get(key)
	if err != nil {
		return Result{}, err
	}
	if len(value) == 0 {
		return Result{Int: int64(len(old))}, nil
	}
	nv := old
	if need := offset + len(value); need > len(nv) {
		nv = append(nv, make([]byte, need-len(nv))...)
	}
	copy(nv[offset:], value)
	return Result{Int: int64(len(nv))}, b.Set(key, nv)
}

// applyRename moves key's value to newKey, replacing it (or, with nx,
// only if newKey does not exist; Int says whether it moved).
func applyRename(b *engine.ApplyBatch, key, newKey []byte, nx bool) (Result, error) {
	v, found, err := b.Get(key)
	if err != nil {
		return Result{}, err
	}
	if !found {
		return Result{Err: ErrNoSuchKey}, nil
	}
	if bytes.Equal(key, newKey) {
		return Result{}, nil
	}
	if nx {
		if _, exists, err := b.Get(newKey); err != nil || exists {
			return Result{}, err
		}
	}
	if err := b.Delete(key); err != nil {
		return Result{}, err
	}
	return Result{Int: 1}, b.Set(newKey, v)
}

// applyDel deletes keys and returns how many existed. A key named twice is
// found only the first time, so it counts once.
func applyDel(b *engine.ApplyBatch, keys [][]byte) (Result, error) {
	var n int64
	for _, k := range keys {
		_, ok, err := b.Get(k)
		if err != nil {
			return Result{}, err
		}
		if !ok {
			continue
		}
		if err := b.Delete(k); err != nil {
			return Result{}, err
		}
		n++
	}
	return Result{Int: n}, nil
}

// OpenSnapshot takes a consistent view of the data set for a follower
// that needs a snapshot.
func (f *FSM) OpenSnapshot() (*engine.SnapshotSource, error) { return f.e.OpenSnapshot() }

// InstallSnapshot replaces the state with the snapshot read from r, which
// reflects meta; Apply continues with entry meta.Index+1.
func (f *FSM) InstallSnapshot(meta raft.SnapshotMeta, r io.Reader) error {
	if err := f.e.InstallSnapshot(meta, r); err != nil {
		return err
	}
	f.applied.Store(meta.Index)
	if ms, err := f.e.Members(); err == nil && ms != nil {
		f.members.Store(&ms)
		if f.onMembers != nil {
			f.onMembers(ms)
		}
	}
	f.logger.Info("snapshot installed", "index", meta.Index, "term", meta.Term, "keys", f.e.KeyCount())
	return nil
}
