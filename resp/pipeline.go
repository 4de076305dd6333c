package resp

import (
	"fmt"
	"strings"
	"time"

	"github.com/tidwall/redcon"

	"github.com/raftkv/raftkv/fsm"
)

// Pipelined writes. redcon hands a connection's commands to the handler
// one at a time, and a write waits for replication: a pipeline of N
// writes would take N rounds. Instead, a run of consecutive writes queued
// on the connection is proposed at once, in order, and answered in order:
// one round for the run, packed into as few log entries as its size
// allows (pack).

// batchable appends to buf the encoding of a write that can join a
// pipelined run: the plain forms of SET, APPEND and DEL, with a valid
// arity. Anything else (options, errors, reads) is served on its own, in
// order, and leaves buf as it was.
func batchable(args [][]byte, buf []byte) (_ []byte, idx int, ok bool) {
	c := lookupCommand(args[0])
	if c == nil {
		return buf, -1, false
	}
	switch {
	case c.name == "set" && len(args) == 3:
		buf = fsm.AppendSet(buf, args[1], args[2])
	case c.name == "append" && len(args) == 3:
		buf = fsm.AppendAppend(buf, args[1], args[2])
	case c.name == "del" && len(args) >= 2:
		buf = fsm.AppendDel(buf, args[1:]...)
	case (c.name == "incr" || c.name == "decr") && len(args) == 2,
		(c.name == "incrby" || c.name == "decrby") && len(args) == 3:
		delta, refusal := counterDelta(c.name, args)
		if refusal != "" {
			// Left to the handler, which answers it.
			return buf, -1, false
		}
		buf = fsm.AppendIncrBy(buf, args[1], delta)
	default:
		return buf, -1, false
	}
	return buf, c.idx, true
}

// maxRunBuf bounds the encoding buffer a connection keeps between runs:
// a larger one, grown for large values, is let go.
const maxRunBuf = 1 << 20

// keepBuf keeps buf's array for the next run's encodings, unless it grew
// past maxRunBuf.
func (cl *client) keepBuf(buf []byte) {
	if cap(buf) <= maxRunBuf {
		cl.buf = buf[:0]
	}
}

// serveRun serves first together with the batchable writes queued behind
// it, when first is one too; the commands after the run are then served
// one by one. It returns false, having consumed nothing, when there is no
// run. Each command's figures count from start, the first's arrival.
func (s *Server) serveRun(conn *errConn, first redcon.Command, start time.Time) bool {
	// Nothing is encoded unless a run follows: a lone write is encoded by
	// its own handler.
	next := conn.PeekPipeline()
	if len(next) == 0 {
		return false
	}
	cl := conn.Context().(*client)
	// The run's writes are encoded one after the other into buf, and
	// encs holds each one's bytes. An encoding stays valid when buf grows
	// into a new array: the old one keeps it.
	buf, idx, ok := batchable(first.Args, cl.buf[:0])
	if !ok {
		return false
	}
	end := len(buf)
	buf, idx1, ok := batchable(next[0].Args, buf)
	if !ok {
		cl.keepBuf(buf)
		return false
	}
	queued := conn.ReadPipeline() // begins with next[0]
	run := append(cl.run[:0], first, queued[0])
	encs := append(cl.encs[:0], buf[:end:end], buf[end:len(buf):len(buf)])
	idxs := append(cl.idxs[:0], idx, idx1)
	i := 1
	for ; i < len(queued); i++ {
		from := len(buf)
		var x int
		if buf, x, ok = batchable(queued[i].Args, buf); !ok {
			break
		}
		run = append(run, queued[i])
		encs = append(encs, buf[from:len(buf):len(buf)])
		idxs = append(idxs, x)
	}
	rest := queued[i:]
	defer func() {
		// Kept for the next run, without what this one referred to; pack
		// copied the encodings into the entries.
		clear(run)
		clear(encs)
		cl.run, cl.encs, cl.idxs = run[:0], encs[:0], idxs[:0]
		cl.keepBuf(buf)
	}()

	c := &call{s: s, conn: conn, args: first.Args, cl: cl}
	if c.route(first.Args[1]) {
		ents, firsts := pack(c.now(), encs, cl.ents[:0], cl.firsts[:0])
		defer func() {
			clear(ents)
			cl.ents, cl.firsts = ents[:0], firsts[:0]
		}()
		vals, errs := s.backend.ProposeMany(c.ctx(), ents)
		for e := range ents {
			from, to := firsts[e], entryEnd(firsts, e, len(run))
			r := result(vals[e])
			for j := from; j < to; j++ {
				args := run[j].Args
				before := conn.errors.Load()
				*c = call{s: s, conn: conn, args: args, cl: cl}
				switch {
				case errs[e] != nil:
					c.backendError(args[1], errs[e], true)
				case to-from > 1:
					c.replyWrite(packed(r, j-from))
				default:
					c.replyWrite(r)
				}
				s.stats.record(idxs[j], time.Since(start), conn.errors.Load() != before)
			}
		}
	} else {
		// route answered the first; the others get their own answer.
		s.stats.record(idx, time.Since(start), true)
		for _, cmd := range run[1:] {
			s.dispatchTimed(conn, cmd, time.Now())
		}
	}
	for _, cmd := range rest {
		s.dispatchTimed(conn, cmd, time.Now())
	}
	return true
}

// maxPacked bounds the bytes of encoded writes pack puts in one entry.
const maxPacked = 64 << 10

// pack turns a run's encoded writes into log entries stamped at now,
// appended to ents: consecutive writes share one entry (fsm.EncodeWrites)
// up to maxPacked bytes, and a write alone in its entry is proposed as
// itself. firsts gets each entry's first write. One entry for a run of
// small writes is one proposal, one log record and one apply instead of
// one each.
func pack(now int64, encs, ents [][]byte, firsts []int) ([][]byte, []int) {
	for i := 0; i < len(encs); {
		j, size := i+1, len(encs[i])
		for j < len(encs) && size+len(encs[j]) <= maxPacked {
			size += len(encs[j])
			j++
		}
		if j-i == 1 {
			ents = append(ents, fsm.Stamp(now, encs[i]))
		} else {
			ents = append(ents, fsm.EncodeWrites(now, encs[i:j]))
		}
		firsts = append(firsts, i)
		i = j
	}
	return ents, firsts
}

// entryEnd is the index past the last write of entry e.
func entryEnd(firsts []int, e, writes int) int {
	if e+1 < len(firsts) {
		return firsts[e+1]
	}
	return writes
}

// packed is the result of write k of an entry pack made of several.
func packed(r fsm.Result, k int) fsm.Result {
	switch {
	case k < len(r.Multi):
		return r.Multi[k]
	case r.Err != nil:
		return fsm.Result{Err: r.Err}
	}
	return fsm.Result{Err: fmt.Errorf("%w: no result for write %d of a pipelined entry", fsm.ErrCorrupt, k)}
}

func result(v any) fsm.Result {
	switch v := v.(type) {
	case fsm.Result:
		return v
	case *fsm.Result:
		return *v
	}
	return fsm.Result{}
}

// replyWrite answers a write with its state machine result.
func (c *call) replyWrite(r fsm.Result) {
	if r.Err != nil {
		c.conn.WriteError(errorReply(r.Err))
		return
	}
	if strings.EqualFold(string(c.args[0]), "set") {
		c.ok()
		return
	}
	c.conn.WriteInt64(r.Int)
}
