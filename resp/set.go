package resp

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/raftkv/raftkv/engine"
	"github.com/raftkv/raftkv/fsm"
)

// Sets: writes are one log entry per command; reads take one view.

func cmdSAdd(c *call) {
	c.writeInt(fsm.EncodeSAdd(c.args[1], c.args[2:]))
}

func cmdSRem(c *call) {
	c.writeInt(fsm.EncodeSRem(c.args[1], c.args[2:]))
}

// cmdSPop serves SPOP key [count]: the members are drawn when the entry
// applies, alike on every replica.
func cmdSPop(c *call) {
	count, ok := c.popCount()
	if !ok {
		return
	}
	r, ok := c.write(c.args[1], fsm.EncodeSPop(c.args[1], count))
	switch {
	case !ok:
	case count >= 0:
		c.writeSet(r.Values)
	case !r.Found:
		c.null()
	default:
		c.conn.WriteBulk(r.Values[0])
	}
}

// popCount parses the optional count of SPOP, ZPOPMIN and ZPOPMAX (-1
// when not given), answering Redis's errors itself.
func (c *call) popCount() (int64, bool) {
	switch {
	case len(c.args) > 3:
		c.syntaxError()
		return 0, false
	case len(c.args) == 3:
		n, ok := fsm.ParseInt(c.args[2])
		if !ok || n < 0 {
			c.conn.WriteError("ERR value is out of range, must be positive")
			return 0, false
		}
		return n, true
	}
	return -1, true
}

func (c *call) writeBulks(vals [][]byte) {
	c.conn.WriteArray(len(vals))
	for _, v := range vals {
		c.conn.WriteBulk(v)
	}
}

// readSet is readCounted for a set.
func (c *call) readSet(missing func(), fn func(v View, n int64) error) {
	c.readCounted(engine.TypeSet, missing, fn)
}

func cmdSCard(c *call) {
	c.readSet(func() { c.conn.WriteInt(0) }, func(_ View, n int64) error {
		c.conn.WriteInt64(n)
		return nil
	})
}

// cmdSIsMember serves SISMEMBER and SMISMEMBER.
func cmdSIsMember(c *call) {
	multi := strings.EqualFold(string(c.args[0]), "smismember")
	members := c.args[2:]
	answer := func(found []bool) {
		if multi {
			c.conn.WriteArray(len(found))
		}
		for _, f := range found {
			c.conn.WriteInt(boolInt(f))
		}
	}
	c.readSet(func() { answer(make([]bool, len(members))) }, func(v View, _ int64) error {
		found := make([]bool, len(members))
		for i, m := range members {
			var err error
			if _, found[i], err = v.Elem(engine.TypeSet, c.args[1], m); err != nil {
				return err
			}
		}
		answer(found)
		return nil
	})
}

// members reads every member of a set in the view, in byte order.
func members(v View, key []byte) ([][]byte, error) {
	var out [][]byte
	err := v.Elems(engine.TypeSet, key, nil, nil, func(m, _ []byte) error {
		out = append(out, bytes.Clone(m))
		return nil
	})
	return out, err
}

// cmdSMembers lists a set's members in byte order (Redis promises no
// order).
func cmdSMembers(c *call) {
	c.readSet(func() { c.setLen(0) }, func(v View, _ int64) error {
		ms, err := members(v, c.args[1])
		if err == nil {
			c.writeSet(ms)
		}
		return err
	})
}

// cmdSRandMember serves SRANDMEMBER key [count]: a read, so the draw is
// this node's own. A positive count asks for distinct members, a negative
// one allows repeats.
func cmdSRandMember(c *call) {
	count, hasCount := int64(1), false
	switch {
	case len(c.args) > 3:
		c.syntaxError()
		return
	case len(c.args) == 3:
		n, ok := c.intArgs(c.args[2])
		if !ok {
			return
		}
		count, hasCount = n[0], true
	}
	c.readSet(func() {
		if hasCount {
			c.conn.WriteArray(0)
		} else {
			c.null()
		}
	}, func(v View, n int64) error {
		ms, err := members(v, c.args[1])
		if err != nil {
			return err
		}
		var out [][]byte
		switch {
		case count < 0:
			for range -count {
				out = append(out, ms[rand.IntN(len(ms))])
			}
		case count >= int64(len(ms)):
			out = ms
		default:
			for _, i := range rand.Perm(len(ms))[:count] {
				out = append(out, ms[i])
			}
		}
		if hasCount {
			c.writeBulks(out)
		} else {
			c.conn.WriteBulk(out[0])
		}
		return nil
	})
}

// cmdSetOp serves SINTER, SUNION and SDIFF: every key is read in one
// view, a missing key is an empty set, and a key of another type is
// refused whatever the others hold. Members come in byte order.
func cmdSetOp(c *call) {
	op := strings.ToLower(string(c.args[0]))
	keys := c.args[1:]
	v, ok := c.openView(keys[0])
	if !ok {
		return
	}
	defer v.Close()
	sets := make([][][]byte, len(keys))
	for i, key := range keys {
		r, found, err := v.Key(key)
		if err == nil && found && r.ExpiredAt(c.now()) {
			c.s.backend.Expired(key)
			found = false
		}
		switch {
		case err != nil:
			c.backendError(key, err, false)
			return
		case !found:
			continue
		case r.Type != engine.TypeSet:
			c.conn.WriteError(fsm.ErrWrongType.Error())
			return
		}
		if sets[i], err = members(v, key); err != nil {
			c.backendError(key, err, false)
			return
		}
	}
	in := func(set [][]byte, m []byte) bool {
		_, found := slices.BinarySearchFunc(set, m, bytes.Compare)
		return found
	}
	var out [][]byte
	switch op {
	case "sinter":
		for _, m := range sets[0] {
			all := true
			for _, s := range sets[1:] {
				all = all && in(s, m)
			}
			if all {
				out = append(out, m)
			}
		}
	case "sdiff":
		for _, m := range sets[0] {
			other := false
			for _, s := range sets[1:] {
				other = other || in(s, m)
			}
			if !other {
				out = append(out, m)
			}
		}
	default:
		for _, s := range sets {
			out = append(out, s...)
		}
		slices.SortFunc(out, bytes.Compare)
		out = slices.CompactFunc(out, bytes.Equal)
	}
	c.writeSet(out)
}
