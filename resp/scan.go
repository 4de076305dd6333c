package resp

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"sync"

	"github.com/raftkv/raftkv/engine"
	"github.com/raftkv/raftkv/fsm"
)

// Listing keys and elements. Keys and elements are stored in byte order,
// so a scan is a walk from where the last call stopped. Redis's cursors
// are integers, so this node keeps each walk's resume point under a random
// cursor number (the most recent maxCursors of them). A cursor this node
// does not know (another node's, one from before a restart or a leader
// change, or one evicted) starts the walk over: SCAN may return an element
// more than once, but still returns every element present from start to
// end.

// maxCursors bounds the resume points kept.
const maxCursors = 8192

// smallScan is the size up to which HSCAN, SSCAN and ZSCAN return the
// whole collection at once with cursor 0, as Redis does for its compact
// encodings.
const smallScan = 128

type cursorTable struct {
	mu    sync.Mutex
	pos   map[uint64]cursorPos
	order []uint64
}

type cursorPos struct {
	scope  string // "" for SCAN, the type and key for an element scan
	resume []byte // the key or element to resume at
}

func (t *cursorTable) save(p cursorPos) uint64 {
	var b [8]byte
	rand.Read(b[:])
	id := binary.BigEndian.Uint64(b[:])>>1 | 1 // non-zero, and within int64 for clients that parse it so
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pos == nil {
		t.pos = make(map[uint64]cursorPos)
	}
	if len(t.order) >= maxCursors {
		delete(t.pos, t.order[0])
		t.order = t.order[1:]
	}
	t.pos[id] = p
	t.order = append(t.order, id)
	return id
}

// load returns where cursor id resumes in scope, or nil to start over.
func (t *cursorTable) load(id uint64, scope string) []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.pos[id]; ok && p.scope == scope {
		return p.resume
	}
	return nil
}

// scanOpts are SCAN's options.
type scanOpts struct {
	count   int64
	pattern []byte // nil: everything
	typ     string // SCAN's TYPE, "" for any
}

// parseScanOpts parses [MATCH pattern] [COUNT count] [TYPE type] (TYPE for
// SCAN only). It answers the client itself when it returns false.
func (c *call) parseScanOpts(args [][]byte, withType bool) (scanOpts, bool) {
	o := scanOpts{count: 10}
	for i := 0; i < len(args); i += 2 {
		opt := strings.ToLower(string(args[i]))
		if i+1 >= len(args) {
			c.syntaxError()
			return o, false
		}
		switch {
		case opt == "count":
			n, ok := c.intArgs(args[i+1])
			if !ok {
				return o, false
			}
			if n[0] < 1 {
				c.syntaxError()
				return o, false
			}
			o.count = n[0]
		case opt == "match":
			o.pattern = args[i+1]
			if string(o.pattern) == "*" {
				o.pattern = nil
			}
		case opt == "type" && withType:
			o.typ = strings.ToLower(string(args[i+1]))
		default:
			c.syntaxError()
			return o, false
		}
	}
	return o, true
}

func (o scanOpts) matches(b []byte) bool { return o.pattern == nil || globMatch(o.pattern, b) }

// parseCursor reads a cursor argument as Redis does (strtoul: a minus
// sign wraps around), answering Redis's error itself. A number this node
// did not hand out starts the walk over.
func (c *call) parseCursor(b []byte) (uint64, bool) {
	s, neg := strings.CutPrefix(string(b), "-")
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		c.conn.WriteError("ERR invalid cursor")
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

func (c *call) writeScan(next uint64, items [][]byte) {
	c.conn.WriteArray(2)
	c.conn.WriteBulkString(strconv.FormatUint(next, 10))
	c.writeBulks(items)
}

// errEnough stops a walk that has what it needs.
var errEnough = errors.New("enough")

// cmdKeys lists the live keys that match a pattern, in byte order.
func cmdKeys(c *call) {
	pattern := c.args[1]
	v, ok := c.openView(nil)
	if !ok {
		return
	}
	defer v.Close()
	all := string(pattern) == "*"
	var out [][]byte
	err := v.Keys(globPrefix(pattern), func(k []byte, r engine.Record) error {
		if !bytes.HasPrefix(k, globPrefix(pattern)) {
			return errEnough
		}
		if !r.ExpiredAt(c.now()) && (all || globMatch(pattern, k)) {
			out = append(out, bytes.Clone(k))
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		c.backendError(nil, err, false)
		return
	}
	c.writeBulks(out)
}

// globPrefix is the literal start of a pattern, before any special byte:
// every match starts with it, so a walk can start there.
func globPrefix(p []byte) []byte {
	i := bytes.IndexAny(p, `*?[\`)
	if i < 0 {
		// No special byte: the pattern is the one key it matches; the
		// whole pattern is still a safe prefix.
		return p
	}
	return p[:i]
}

// cmdScan serves SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]:
// it examines up to count keys from where the cursor left off.
func cmdScan(c *call) {
	cursor, ok := c.parseCursor(c.args[1])
	if !ok {
		return
	}
	o, ok := c.parseScanOpts(c.args[2:], true)
	if !ok {
		return
	}
	v, ok := c.openView(nil)
	if !ok {
		return
	}
	defer v.Close()
	var from []byte
	if cursor != 0 {
		from = c.s.cursors.load(cursor, "")
	}
	var out [][]byte
	var resume []byte
	examined := int64(0)
	err := v.Keys(from, func(k []byte, r engine.Record) error {
		if examined == o.count {
			resume = bytes.Clone(k)
			return errEnough
		}
		examined++
		if !r.ExpiredAt(c.now()) && (o.typ == "" || o.typ == r.Type.String()) && o.matches(k) {
			out = append(out, bytes.Clone(k))
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		c.backendError(nil, err, false)
		return
	}
	next := uint64(0)
	if resume != nil {
		next = c.s.cursors.save(cursorPos{resume: resume})
	}
	c.writeScan(next, out)
}

// cmdRandomKey answers a random live key: the first at or after a random
// point of the key space (wrapping around), so keys after wide gaps come
// up more often than others.
func cmdRandomKey(c *call) {
	v, ok := c.openView(nil)
	if !ok {
		return
	}
	defer v.Close()
	var b [8]byte
	rand.Read(b[:])
	var found []byte
	take := func(k []byte, r engine.Record) error {
		if r.ExpiredAt(c.now()) {
			return nil
		}
		found = bytes.Clone(k)
		return errEnough
	}
	err := v.Keys(b[:], take)
	if err == nil {
		err = v.Keys(nil, take)
	}
	if err != nil && !errors.Is(err, errEnough) {
		c.backendError(nil, err, false)
		return
	}
	c.writeBulkOrNull(found, found != nil)
}

// cmdElemScan serves HSCAN, SSCAN and ZSCAN key cursor [MATCH pattern]
// [COUNT count]: fields with values, members, or members with scores.
func cmdElemScan(c *call) {
	var t engine.Type
	switch strings.ToLower(string(c.args[0])) {
	case "hscan":
		t = engine.TypeHash
	case "sscan":
		t = engine.TypeSet
	default:
		t = engine.TypeZSet
	}
	cursor, ok := c.parseCursor(c.args[2])
	if !ok {
		return
	}
	key := c.args[1]
	c.readTyped(t, func() { c.writeScan(0, nil) }, func(v View, r engine.Record) error {
		o, ok := c.parseScanOpts(c.args[3:], false)
		if !ok {
			return nil
		}
		n, err := fsm.ElemCount(r)
		if err != nil {
			return err
		}
		count := o.count
		if n <= smallScan {
			count = n + 1
		}
		scope := t.String() + ":" + string(key)
		var from []byte
		if cursor != 0 {
			from = c.s.cursors.load(cursor, scope)
		}
		var out [][]byte
		var resume []byte
		examined := int64(0)
		err = v.Elems(t, key, from, nil, func(e, val []byte) error {
			if examined == count {
				resume = bytes.Clone(e)
				return errEnough
			}
			examined++
			if !o.matches(e) {
				return nil
			}
			out = append(out, bytes.Clone(e))
			switch t {
			case engine.TypeHash:
				out = append(out, bytes.Clone(val))
			case engine.TypeZSet:
				score, err := fsm.ScoreOf(val)
				if err != nil {
					return err
				}
				out = append(out, []byte(fsm.FormatScore(score)))
			}
			return nil
		})
		if err != nil && !errors.Is(err, errEnough) {
			return err
		}
		next := uint64(0)
		if resume != nil {
			next = c.s.cursors.save(cursorPos{scope: scope, resume: resume})
		}
		c.writeScan(next, out)
		return nil
	})
}
