package resp

import (
	"fmt"
	"strings"

	"github.com/raftkv/raftkv/engine"
	"github.com/raftkv/raftkv/fsm"
)

// Lists: writes are one log entry per command; reads take one view of the
// record and the elements.

// readTyped runs fn on key's record when key is of type t and has not
// expired, in one consistent view. It answers the client itself when the
// key is missing (with missing), of another type (WRONGTYPE), or the read
// fails.
func (c *call) readTyped(t engine.Type, missing func(), fn func(v View, r engine.Record) error) {
	key := c.args[1]
	v, ok := c.openView(key)
	if !ok {
		return
	}
	defer v.Close()
	r, found, err := v.Key(key)
	switch {
	case err != nil:
		c.backendError(key, err, false)
		return
	case found && r.ExpiredAt(c.now()):
		c.s.backend.Expired(key)
		found = false
	}
	switch {
	case !found:
		missing()
	case r.Type != t:
		c.conn.WriteError(fsm.ErrWrongType.Error())
	default:
		if err := fn(v, r); err != nil {
			c.backendError(key, err, false)
		}
	}
}

// readList is readTyped for a list, with its layout decoded.
func (c *call) readList(missing func(), fn func(v View, m fsm.ListMeta) error) {
	c.readTyped(engine.TypeList, missing, func(v View, r engine.Record) error {
		m, err := fsm.ListOf(r)
		if err != nil {
			return err
		}
		return fn(v, m)
	})
}

// cmdPush serves LPUSH, RPUSH, LPUSHX and RPUSHX.
func cmdPush(c *call) {
	name := strings.ToLower(string(c.args[0]))
	var flags byte
	if name[0] == 'l' {
		flags |= fsm.PushLeft
	}
	if strings.HasSuffix(name, "x") {
		flags |= fsm.PushX
	}
	c.writeInt(fsm.EncodePush(c.args[1], flags, c.args[2:]))
}

// cmdPop serves LPOP and RPOP key [count]: one element (or nil) without a
// count, an array (or a nil array) with one.
func cmdPop(c *call) {
	if len(c.args) > 3 {
		c.conn.WriteError(wrongArity(strings.ToLower(string(c.args[0]))))
		return
	}
	count := int64(-1)
	if len(c.args) == 3 {
		n, ok := fsm.ParseInt(c.args[2])
		if !ok || n < 0 {
			c.conn.WriteError("ERR value is out of range, must be positive")
			return
		}
		count = n
	}
	left := strings.EqualFold(string(c.args[0]), "lpop")
	r, ok := c.write(c.args[1], fsm.EncodePop(c.args[1], left, count))
	switch {
	case !ok:
	case count < 0 && !r.Found:
		c.null()
	case count < 0:
		c.conn.WriteBulk(r.Values[0])
	case !r.Found:
		c.nullArray()
	default:
		c.conn.WriteArray(len(r.Values))
		for _, v := range r.Values {
			c.conn.WriteBulk(v)
		}
	}
}

// intArgs parses integer arguments, answering Redis's error when one is
// not an integer.
func (c *call) intArgs(args ...[]byte) ([]int64, bool) {
	out := make([]int64, len(args))
	for i, a := range args {
		n, ok := fsm.ParseInt(a)
		if !ok {
			c.conn.WriteError(fsm.ErrNotInteger.Error())
			return nil, false
		}
		out[i] = n
	}
	return out, true
}

func cmdLSet(c *call) {
	if n, ok := c.intArgs(c.args[2]); ok {
		if _, ok := c.write(c.args[1], fsm.EncodeLSet(c.args[1], n[0], c.args[3])); ok {
			c.ok()
		}
	}
}

func cmdLRem(c *call) {
	if n, ok := c.intArgs(c.args[2]); ok {
		c.writeInt(fsm.EncodeLRem(c.args[1], n[0], c.args[3]))
	}
}

func cmdLTrim(c *call) {
	if n, ok := c.intArgs(c.args[2], c.args[3]); ok {
		if _, ok := c.write(c.args[1], fsm.EncodeLTrim(c.args[1], n[0], n[1])); ok {
			c.ok()
		}
	}
}

func cmdLLen(c *call) {
	c.readList(func() { c.conn.WriteInt(0) }, func(_ View, m fsm.ListMeta) error {
		c.conn.WriteInt64(m.Len)
		return nil
	})
}

func cmdLIndex(c *call) {
	n, ok := c.intArgs(c.args[2])
	if !ok {
		return
	}
	c.readList(c.null, func(v View, m fsm.ListMeta) error {
		i, ok := m.Index(n[0])
		if !ok {
			c.null()
			return nil
		}
		val, found, err := v.Elem(engine.TypeList, c.args[1], fsm.Seq(m.Head+i))
		if err == nil && !found {
			err = fmt.Errorf("%w: list %q has no element %d", engine.ErrCorrupt, c.args[1], m.Head+i)
		}
		if err == nil {
			c.conn.WriteBulk(val)
		}
		return err
	})
}

// cmdLRange streams the elements in range from the view.
func cmdLRange(c *call) {
	n, ok := c.intArgs(c.args[2], c.args[3])
	if !ok {
		return
	}
	c.readList(func() { c.conn.WriteArray(0) }, func(v View, m fsm.ListMeta) error {
		from, to, ok := m.Range(n[0], n[1])
		if !ok {
			c.conn.WriteArray(0)
			return nil
		}
		want := to - from + 1
		c.conn.WriteArray(int(want))
		var sent int64
		err := v.Elems(engine.TypeList, c.args[1], fsm.Seq(m.Head+from), fsm.Seq(m.Head+to+1), func(_, val []byte) error {
			if sent++; sent <= want {
				c.conn.WriteBulk(val)
			}
			return nil
		})
		if err == nil && sent != want {
			err = fmt.Errorf("%w: list %q holds %d elements in %d..%d", engine.ErrCorrupt, c.args[1], sent, from, to)
		}
		if err != nil {
			c.cutReply(err)
		}
		return nil
	})
}

// cutReply ends a reply that failed after its array header was written:
// the connection is closed, so that a short reply is never read as whole.
func (c *call) cutReply(err error) {
	c.s.logger.Error("read failed mid-reply; closing the connection", "command", string(c.args[0]), "error", err)
	c.conn.Close()
}
