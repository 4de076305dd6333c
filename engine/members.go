package engine

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/raftkv/raftkv/raft"
)

// Member is one node of the cluster as the state machine records it.
type Member struct {
	ID       uint64
	Learner  bool
	PeerAddr string
	RespAddr string
}

// ConfState returns the Raft membership of ms.
func ConfState(ms []Member) raft.ConfState {
	var cs raft.ConfState
	for _, m := range ms {
		if m.Learner {
			cs.Learners = append(cs.Learners, m.ID)
		} else {
			cs.Voters = append(cs.Voters, m.ID)
		}
	}
	return cs
}

var membersUpper = []byte{prefixMember + 1}

func memberKey(id uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixMember}, id)
}

// encodeMember: one byte (1 learner, 0 voter), uvarint length of the peer
// address, the peer address, then the RESP address to the end.
func encodeMember(m Member) []byte {
	b := []byte{0}
	if m.Learner {
		b[0] = 1
	}
	b = binary.AppendUvarint(b, uint64(len(m.PeerAddr)))
	b = append(b, m.PeerAddr...)
	return append(b, m.RespAddr...)
}

func decodeMember(key, v []byte) (Member, error) {
	if len(key) != 9 || len(v) < 2 {
		return Member{}, fmt.Errorf("%w: member record", ErrCorrupt)
	}
	m := Member{ID: binary.BigEndian.Uint64(key[1:]), Learner: v[0] == 1}
	n, k := binary.Uvarint(v[1:])
	if k <= 0 || n > uint64(len(v)-1-k) {
		return Member{}, fmt.Errorf("%w: member %d record", ErrCorrupt, m.ID)
	}
	m.PeerAddr = string(v[1+k : 1+k+int(n)])
	m.RespAddr = string(v[1+k+int(n):])
	return m, nil
}

type reader interface {
	NewIter(*pebble.IterOptions) (*pebble.Iterator, error)
}

func readMembers(r reader) ([]Member, error) {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixMember}, UpperBound: membersUpper})
	if err != nil {
		return nil, err
	}
	var ms []Member
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, errors.Join(err, it.Close())
		}
		m, err := decodeMember(it.Key(), v)
		if err != nil {
			return nil, errors.Join(err, it.Close())
		}
		ms = append(ms, m)
	}
	return ms, it.Close()
}

// Members returns the membership recorded by the state machine, ordered by
// ID; nil when no membership change was ever applied (the configured
// members then hold).
func (e *Engine) Members() ([]Member, error) {
	if err := e.rlock(); err != nil {
		return nil, err
	}
	defer e.closeMu.RUnlock()
	return readMembers(e.db)
}

// SetMembers replaces the recorded membership with ms, as part of the
// batch.
func (b *ApplyBatch) SetMembers(ms []Member) error {
	if b.err != nil {
		return b.err
	}
	if err := b.b.DeleteRange([]byte{prefixMember}, membersUpper, nil); err != nil {
		return err
	}
	for _, m := range ms {
		if err := b.b.Set(memberKey(m.ID), encodeMember(m), nil); err != nil {
			return err
		}
	}
	return nil
}
