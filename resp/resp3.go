package resp

import (
	"strconv"
)

// RESP3 (HELLO 3). A connection speaks RESP2 until HELLO 3; the helpers
// here write the replies whose type differs between the two: nulls, maps,
// sets, doubles and verbatim text. Everything else is the same in both.

func (c *call) resp3() bool { return c.cl.proto == 3 }

// null is a missing value: "$-1" in RESP2, "_" in RESP3.
func (c *call) null() {
	if c.resp3() {
		c.conn.WriteRaw([]byte("_\r\n"))
		return
	}
	c.conn.WriteNull()
}

// nullArray is a missing array: "*-1" in RESP2, "_" in RESP3.
func (c *call) nullArray() {
	if c.resp3() {
		c.conn.WriteRaw([]byte("_\r\n"))
		return
	}
	c.conn.WriteArray(-1)
}

// mapLen starts a map of n pairs: a flat array of 2n in RESP2.
func (c *call) mapLen(n int) {
	if c.resp3() {
		c.conn.WriteRaw([]byte("%" + strconv.Itoa(n) + "\r\n"))
		return
	}
	c.conn.WriteArray(2 * n)
}

// setLen starts a set of n members: an array in RESP2.
func (c *call) setLen(n int) {
	if c.resp3() {
		c.conn.WriteRaw([]byte("~" + strconv.Itoa(n) + "\r\n"))
		return
	}
	c.conn.WriteArray(n)
}

// double writes a score, given as fsm.FormatScore's text: a bulk string
// in RESP2, a double in RESP3.
func (c *call) double(text []byte) {
	if c.resp3() {
		c.conn.WriteRaw([]byte("," + string(text) + "\r\n"))
		return
	}
	c.conn.WriteBulk(text)
}

// writeScored writes member, score pairs given flat. RESP2 keeps them
// flat, as bulk strings; RESP3 makes the scores doubles and, when nested,
// each pair an array of its own (ZRANGE WITHSCORES, ZPOPMIN with a count).
func (c *call) writeScored(flat [][]byte, nested bool) {
	switch {
	case !c.resp3():
		c.writeBulks(flat)
	case nested:
		c.conn.WriteArray(len(flat) / 2)
		for i := 0; i+1 < len(flat); i += 2 {
			c.conn.WriteArray(2)
			c.conn.WriteBulk(flat[i])
			c.double(flat[i+1])
		}
	default:
		c.conn.WriteArray(len(flat))
		for i := 0; i+1 < len(flat); i += 2 {
			c.conn.WriteBulk(flat[i])
			c.double(flat[i+1])
		}
	}
}

// verbatim writes text (INFO, CLIENT INFO): a bulk string in RESP2, a
// verbatim string of format txt in RESP3.
func (c *call) verbatim(text string) {
	if c.resp3() {
		c.conn.WriteRaw([]byte("=" + strconv.Itoa(len(text)+4) + "\r\ntxt:" + text + "\r\n"))
		return
	}
	c.conn.WriteBulkString(text)
}

// writeSet writes members as a set.
func (c *call) writeSet(members [][]byte) {
	c.setLen(len(members))
	for _, m := range members {
		c.conn.WriteBulk(m)
	}
}
