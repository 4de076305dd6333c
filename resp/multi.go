package resp

import (
	"crypto/rand"
	"encoding/binary"
	"io"
	"slices"
	"strings"

	"github.com/tidwall/redcon"

	"github.com/raftkv/raftkv/fsm"
)

// Transactions: MULTI queues commands, EXEC proposes them as one log entry
// (fsm.OpMulti) so that they apply together and alone; WATCH makes EXEC
// apply nothing if a watched key changed since (checked when the entry
// applies, by digest).
//
// EXEC runs each queued command's own handler. A write's handler runs on
// its own goroutine until it asks to replicate its command: EXEC collects
// those encodings, proposes them as one entry, and hands each handler its
// result to answer with. A read's handler runs when the entry applies,
// from the apply loop (fsm.TxReader), against the batch as it stands
// then. Each handler answers into a buffer; EXEC sends them as one array.

// txState is a client's open transaction.
type txState struct {
	cmds [][][]byte
	// failed is set when a command was refused while queuing: EXEC then
	// answers EXECABORT, as Redis does.
	failed bool
}

// txAllowed reports whether a command may be queued: data commands and
// the few that only answer from the connection. Admin commands are not:
// they could wait on the Raft loop that runs the transaction.
func txAllowed(cmd *command) bool {
	if slices.Contains(cmd.flags, "admin") || strings.HasPrefix(cmd.name, "raft.") {
		return false
	}
	return slices.Contains(cmd.flags, "write") || slices.Contains(cmd.flags, "readonly") ||
		cmd.name == "ping" || cmd.name == "echo" || cmd.name == "time"
}

// txControl are the commands that run at once inside MULTI.
var txControl = map[string]bool{"exec": true, "discard": true, "multi": true, "watch": true, "unwatch": true, "quit": true}

// queue adds a command to the client's transaction, or refuses it (and
// fails the transaction) as Redis does.
func (s *Server) queue(conn redcon.Conn, cl *client, name string, args [][]byte) {
	c, ok := commands[name]
	switch {
	case !ok:
		conn.WriteError(unknownCommand(args))
		cl.tx.failed = true
	case !c.arityOK(len(args)):
		conn.WriteError(wrongArity(c.name))
		cl.tx.failed = true
	case !txAllowed(c):
		conn.WriteError("ERR Command not allowed inside a transaction")
		cl.tx.failed = true
	default:
		cp := make([][]byte, len(args))
		for i, a := range args {
			cp[i] = slices.Clone(a)
		}
		cl.tx.cmds = append(cl.tx.cmds, cp)
		conn.WriteString("QUEUED")
	}
}

func cmdMulti(c *call) {
	if c.cl.tx != nil {
		c.conn.WriteError("ERR MULTI calls can not be nested")
		return
	}
	c.cl.tx = &txState{}
	c.ok()
}

func cmdDiscard(c *call) {
	if c.cl.tx == nil {
		c.conn.WriteError("ERR DISCARD without MULTI")
		return
	}
	c.cl.tx, c.cl.watched = nil, nil
	c.ok()
}

// cmdWatch records the digest of each key as it is now (after a read
// barrier): EXEC applies nothing if one differs when it applies.
func cmdWatch(c *call) {
	if c.cl.tx != nil {
		c.conn.WriteError("ERR WATCH inside MULTI is not allowed")
		return
	}
	v, ok := c.openView(c.args[1])
	if !ok {
		return
	}
	defer v.Close()
	for _, key := range c.args[1:] {
		d, err := fsm.KeyDigest(v, key, c.now())
		if err != nil {
			c.backendError(key, err, false)
			return
		}
		c.cl.watched = append(c.cl.watched, fsm.Watched{Key: slices.Clone(key), Digest: d})
	}
	c.ok()
}

func cmdUnwatch(c *call) {
	c.cl.watched = nil
	c.ok()
}

// txCmd is one queued command being executed.
type txCmd struct {
	args  [][]byte
	cmd   *command
	out   *bufConn
	write bool
	// For a write: its encoding once the handler asked to replicate it,
	// and where the handler waits for the result.
	enc  []byte
	encc chan []byte
	resc chan txOutcome
	done chan struct{}
}

type txOutcome struct {
	r   fsm.Result
	err error
}

func cmdExec(c *call) {
	tx, watched := c.cl.tx, c.cl.watched
	if tx == nil {
		c.conn.WriteError("ERR EXEC without MULTI")
		return
	}
	c.cl.tx, c.cl.watched = nil, nil
	switch {
	case tx.failed:
		c.conn.WriteError("EXECABORT Transaction discarded because of previous errors.")
		return
	case len(tx.cmds) == 0:
		c.conn.WriteArray(0)
		return
	}
	var key []byte
	if len(tx.cmds[0]) > 1 {
		key = tx.cmds[0][1]
	}
	if !c.route(key) {
		return
	}
	now := c.now()
	cmds := make([]*txCmd, len(tx.cmds))
	parts := make([][]byte, len(tx.cmds))
	for i, args := range tx.cmds {
		t := &txCmd{args: args, cmd: commands[strings.ToLower(string(args[0]))], out: newBufConn(c.conn)}
		// GETEX without an option only reads.
		t.write = slices.Contains(t.cmd.flags, "write") && !(t.cmd.name == "getex" && len(args) == 2)
		cmds[i] = t
		if !t.write {
			parts[i] = []byte{fsm.TxRead}
			continue
		}
		// Run the handler until it asks to replicate (or answers alone).
		t.encc, t.resc, t.done = make(chan []byte, 1), make(chan txOutcome, 1), make(chan struct{})
		tc := &call{s: c.s, conn: t.out, args: args, cl: c.cl, nowMS: now, tx: t}
		go func() {
			defer close(t.done)
			defer func() {
				if p := recover(); p != nil {
					c.s.logger.Error("command panicked", "command", string(args[0]), "panic", p)
					t.out.WriteError("ERR internal error")
				}
			}()
			t.cmd.run(tc)
		}()
		select {
		case t.enc = <-t.encc:
			parts[i] = append([]byte{fsm.TxWrite}, t.enc...)
		case <-t.done:
			parts[i] = []byte{fsm.TxAnswered}
		}
	}
	var nb [8]byte
	rand.Read(nb[:])
	nonce := binary.BigEndian.Uint64(nb[:])
	cancel := c.s.backend.OnTxReads(nonce, func(i int, r fsm.Reader, now int64) {
		t := cmds[i]
		rc := &call{s: c.s, conn: t.out, args: t.args, cl: c.cl, nowMS: now, txr: r}
		defer func() {
			if p := recover(); p != nil {
				c.s.logger.Error("command panicked", "command", string(t.args[0]), "panic", p)
				t.out.WriteError("ERR internal error")
			}
		}()
		t.cmd.run(rc)
	})
	v, err := c.s.backend.Propose(c.ctx(), fsm.Stamp(now, fsm.EncodeMulti(nonce, watched, parts)))
	cancel()
	r := result(v)
	// Every waiting handler gets its outcome and finishes.
	for i, t := range cmds {
		if t.enc == nil {
			continue
		}
		o := txOutcome{err: err}
		if err == nil && !r.Aborted && i < len(r.Multi) {
			o.r = r.Multi[i]
		}
		t.resc <- o
		<-t.done
	}
	switch {
	case err != nil:
		c.backendError(key, err, true)
	case r.Aborted:
		c.nullArray()
	case r.Err != nil:
		c.conn.WriteError(errorReply(r.Err))
	default:
		c.conn.WriteArray(len(cmds))
		for _, t := range cmds {
			c.conn.WriteRaw(t.out.bytes())
		}
	}
}

// txWrite hands a write's encoding to EXEC and waits for its result in
// the transaction's entry.
func (c *call) txWrite(key, cmd []byte) (fsm.Result, bool) {
	c.tx.encc <- cmd
	o := <-c.tx.resc
	if o.err != nil {
		c.backendError(key, o.err, true)
		return fsm.Result{}, false
	}
	if o.r.Err != nil {
		c.conn.WriteError(errorReply(o.r.Err))
		return o.r, false
	}
	return o.r, true
}

// bufConn is a connection whose replies go to a buffer; everything else
// is the client's connection.
type bufConn struct {
	redcon.Conn
	w *redcon.Writer
}

func newBufConn(c redcon.Conn) *bufConn { return &bufConn{Conn: c, w: redcon.NewWriter(io.Discard)} }

func (b *bufConn) bytes() []byte               { return b.w.Buffer() }
func (b *bufConn) WriteError(msg string)       { b.w.WriteError(msg) }
func (b *bufConn) WriteString(str string)      { b.w.WriteString(str) }
func (b *bufConn) WriteBulk(bulk []byte)       { b.w.WriteBulk(bulk) }
func (b *bufConn) WriteBulkString(bulk string) { b.w.WriteBulkString(bulk) }
func (b *bufConn) WriteInt(num int)            { b.w.WriteInt(num) }
func (b *bufConn) WriteInt64(num int64)        { b.w.WriteInt64(num) }
func (b *bufConn) WriteUint64(num uint64)      { b.w.WriteUint64(num) }
func (b *bufConn) WriteArray(count int)        { b.w.WriteArray(count) }
func (b *bufConn) WriteNull()                  { b.w.WriteNull() }
func (b *bufConn) WriteRaw(data []byte)        { b.w.WriteRaw(data) }
func (b *bufConn) WriteAny(v any)              { b.w.WriteAny(v) }

// Close does nothing: a queued command cannot close the client's
// connection.
func (b *bufConn) Close() error { return nil }
