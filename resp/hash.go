package resp

import (
	"fmt"
	"strings"

	"github.com/raftkv/raftkv/engine"
	"github.com/raftkv/raftkv/fsm"
)

// Hashes. Writes go through the log as one entry per command; reads take
// one consistent view of the key's record and fields, after the read
// barrier.

// View is a consistent read-only view of a node's applied data.
type View interface {
	fsm.Reader
	Close() error
}

// view is what the command reads: a view of the applied data, or inside
// EXEC the batch being applied.
func (c *call) view() (View, error) {
	if c.txr != nil {
		return txView{c.txr}, nil
	}
	return c.s.backend.View()
}

// openView waits until this node may serve a read (routing on key), then
// opens a view; when it returns false the client has been answered. The
// caller closes the view.
func (c *call) openView(key []byte) (View, bool) {
	if !c.read(key) {
		return nil, false
	}
	v, err := c.view()
	if err != nil {
		c.backendError(key, err, false)
		return nil, false
	}
	return v, true
}

// txView reads the batch EXEC is applying; it is not the reader's to
// close.
type txView struct{ fsm.Reader }

func (txView) Close() error { return nil }

// readCounted is readTyped for a hash, set or sorted set (type t), with
// n its element count.
func (c *call) readCounted(t engine.Type, missing func(), fn func(v View, n int64) error) {
	c.readTyped(t, missing, func(v View, r engine.Record) error {
		n, err := fsm.ElemCount(r)
		if err != nil {
			return err
		}
		return fn(v, n)
	})
}

// readHash is readCounted for a hash.
func (c *call) readHash(missing func(), fn func(v View, n int64) error) {
	c.readCounted(engine.TypeHash, missing, fn)
}

func cmdHSet(c *call) {
	if len(c.args)%2 != 0 {
		c.conn.WriteError(wrongArity(strings.ToLower(string(c.args[0]))))
		return
	}
	r, ok := c.write(c.args[1], fsm.EncodeHSet(c.args[1], c.args[2:]))
	switch {
	case !ok:
	case strings.EqualFold(string(c.args[0]), "hmset"):
		c.ok()
	default:
		c.conn.WriteInt64(r.Int)
	}
}

func cmdHSetNX(c *call) {
	c.writeInt(fsm.EncodeHSetNX(c.args[1], c.args[2], c.args[3]))
}

func cmdHDel(c *call) {
	c.writeInt(fsm.EncodeHDel(c.args[1], c.args[2:]))
}

func cmdHIncrBy(c *call) {
	delta, ok := fsm.ParseInt(c.args[3])
	if !ok {
		c.conn.WriteError(fsm.ErrNotInteger.Error())
		return
	}
	c.writeInt(fsm.EncodeHIncrBy(c.args[1], c.args[2], delta))
}

func cmdHIncrByFloat(c *call) {
	// Unlike INCRBYFLOAT, HINCRBYFLOAT refuses an infinite increment
	// before it looks at the key.
	if _, inf, ok := fsm.ParseLongDouble(c.args[3]); !ok {
		c.conn.WriteError(fsm.ErrNotFloat.Error())
	} else if inf {
		c.conn.WriteError("ERR value is NaN or Infinity")
	} else if r, ok := c.write(c.args[1], fsm.EncodeHIncrByFloat(c.args[1], c.args[2], c.args[3])); ok {
		c.conn.WriteBulk(r.Value)
	}
}

func cmdHGet(c *call) {
	c.readHash(c.null, func(v View, _ int64) error {
		val, found, err := v.Elem(engine.TypeHash, c.args[1], c.args[2])
		if err == nil {
			c.writeBulkOrNull(val, found)
		}
		return err
	})
}

func (c *call) writeBulkOrNull(v []byte, found bool) {
	if found {
		c.conn.WriteBulk(v)
	} else {
		c.null()
	}
}

// cmdHMGet answers every field asked for, in order, nil where missing.
func cmdHMGet(c *call) {
	fields := c.args[2:]
	c.readHash(func() {
		c.conn.WriteArray(len(fields))
		for range fields {
			c.null()
		}
	}, func(v View, _ int64) error {
		vals := make([][]byte, len(fields))
		found := make([]bool, len(fields))
		for i, f := range fields {
			var err error
			if vals[i], found[i], err = v.Elem(engine.TypeHash, c.args[1], f); err != nil {
				return err
			}
		}
		c.conn.WriteArray(len(fields))
		for i := range fields {
			c.writeBulkOrNull(vals[i], found[i])
		}
		return nil
	})
}

// cmdHGetAll serves HGETALL, HKEYS and HVALS: the fields in byte order
// (Redis promises no order), streamed from the view.
func cmdHGetAll(c *call) {
	name := strings.ToLower(string(c.args[0]))
	c.readHash(func() {
		if name == "hgetall" {
			c.mapLen(0)
		} else {
			c.conn.WriteArray(0)
		}
	}, func(v View, n int64) error {
		per := 1
		if name == "hgetall" {
			per = 2
		}
		if per == 2 {
			c.mapLen(int(n))
		} else {
			c.conn.WriteArray(int(n))
		}
		var sent int64
		err := v.Elems(engine.TypeHash, c.args[1], nil, nil, func(f, val []byte) error {
			if sent++; sent > n {
				return nil
			}
			if name != "hvals" {
				c.conn.WriteBulk(f)
			}
			if name != "hkeys" {
				c.conn.WriteBulk(val)
			}
			return nil
		})
		if err == nil && sent != n {
			err = fmt.Errorf("%w: hash %q counts %d fields, holds %d", engine.ErrCorrupt, c.args[1], n, sent)
		}
		if err != nil {
			c.cutReply(err)
		}
		return nil
	})
}

func cmdHExists(c *call) {
	c.readHash(func() { c.conn.WriteInt(0) }, func(v View, _ int64) error {
		_, found, err := v.Elem(engine.TypeHash, c.args[1], c.args[2])
		if err == nil {
			c.conn.WriteInt(boolInt(found))
		}
		return err
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func cmdHLen(c *call) {
	c.readHash(func() { c.conn.WriteInt(0) }, func(_ View, n int64) error {
		c.conn.WriteInt64(n)
		return nil
	})
}

func cmdHStrlen(c *call) {
	c.readHash(func() { c.conn.WriteInt(0) }, func(v View, _ int64) error {
		val, _, err := v.Elem(engine.TypeHash, c.args[1], c.args[2])
		if err == nil {
			c.conn.WriteInt(len(val))
		}
		return err
	})
}
