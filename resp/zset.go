package resp

import (
	"bytes"
	"errors"
	"math"
	"strings"

	"github.com/raftkv/raftkv/engine"
	"github.com/raftkv/raftkv/fsm"
)

// Sorted sets: writes are one log entry per command; reads scan the score
// index of one view. Rank operations (ZRANK, ZRANGE by rank) walk the
// index from an end: O(rank), as there is no order-statistics tree.

// cmdZAdd serves ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member
// [score member ...] and ZINCRBY key increment member, checking in
// Redis's order: options, pairs, conflicts, then every score.
func cmdZAdd(c *call) {
	var flags byte
	i := 2
	if strings.EqualFold(string(c.args[0]), "zincrby") {
		flags = fsm.ZAddIncr
	} else {
	options:
		for ; i < len(c.args); i++ {
			switch strings.ToUpper(string(c.args[i])) {
			case "NX":
				flags |= fsm.ZAddNX
			case "XX":
				flags |= fsm.ZAddXX
			case "GT":
				flags |= fsm.ZAddGT
			case "LT":
				flags |= fsm.ZAddLT
			case "CH":
				flags |= fsm.ZAddCH
			case "INCR":
				flags |= fsm.ZAddIncr
			default:
				break options
			}
		}
	}
	pairs := c.args[i:]
	has := func(f byte) bool { return flags&f != 0 }
	switch {
	case len(pairs) == 0 || len(pairs)%2 != 0:
		c.syntaxError()
		return
	case has(fsm.ZAddNX) && has(fsm.ZAddXX):
		c.conn.WriteError("ERR XX and NX options at the same time are not compatible")
		return
	case (has(fsm.ZAddGT) || has(fsm.ZAddLT)) && has(fsm.ZAddNX), has(fsm.ZAddGT) && has(fsm.ZAddLT):
		c.conn.WriteError("ERR GT, LT, and/or NX options at the same time are not compatible")
		return
	case has(fsm.ZAddIncr) && len(pairs) > 2:
		c.conn.WriteError("ERR INCR option supports a single increment-element pair")
		return
	}
	scores := make([]float64, 0, len(pairs)/2)
	members := make([][]byte, 0, len(pairs)/2)
	for j := 0; j < len(pairs); j += 2 {
		f, ok := fsm.ParseScore(pairs[j])
		if !ok {
			c.conn.WriteError(fsm.ErrNotFloat.Error())
			return
		}
		scores, members = append(scores, f), append(members, pairs[j+1])
	}
	r, ok := c.write(c.args[1], fsm.EncodeZAdd(c.args[1], flags, scores, members))
	switch {
	case !ok:
	case !has(fsm.ZAddIncr):
		c.conn.WriteInt64(r.Int)
	case r.Found:
		c.double(r.Value)
	default:
		c.null()
	}
}

func cmdZRem(c *call) {
	c.writeInt(fsm.EncodeZRem(c.args[1], c.args[2:]))
}

// cmdZPop serves ZPOPMIN and ZPOPMAX key [count]: member, score pairs.
func cmdZPop(c *call) {
	count, ok := c.popCount()
	if !ok {
		return
	}
	if count == 0 {
		c.conn.WriteArray(0) // before the key is looked at, as Redis does
		return
	}
	max := strings.EqualFold(string(c.args[0]), "zpopmax")
	if r, ok := c.write(c.args[1], fsm.EncodeZPop(c.args[1], max, count)); ok {
		c.writeScored(r.Values, count >= 0)
	}
}

// readZSet is readTyped for a sorted set, with its count and marks.
func (c *call) readZSet(missing func(), fn func(v View, m fsm.ZSetMeta) error) {
	c.readTyped(engine.TypeZSet, missing, func(v View, r engine.Record) error {
		m, err := fsm.ZSetOf(r)
		if err != nil {
			return err
		}
		return fn(v, m)
	})
}

// within narrows a scan of the score index, from one element up to
// another (nil: open), to where m's marks say live entries can be.
func within(m fsm.ZSetMeta, from, to []byte) ([]byte, []byte) {
	if lo := m.From(); lo != nil && (from == nil || bytes.Compare(from, lo) < 0) {
		from = lo
	}
	if hi := m.To(); hi != nil && (to == nil || bytes.Compare(to, hi) > 0) {
		to = hi
	}
	return from, to
}

// memberScore reads the score of the command's member (args[2]) of the
// sorted set args[1]; found is false when it is not a member.
func (c *call) memberScore(v View) (score float64, found bool, err error) {
	sv, found, err := v.Elem(engine.TypeZSet, c.args[1], c.args[2])
	if err != nil || !found {
		return 0, false, err
	}
	score, err = fsm.ScoreOf(sv)
	return score, err == nil, err
}

func cmdZCard(c *call) {
	c.readZSet(func() { c.conn.WriteInt(0) }, func(_ View, m fsm.ZSetMeta) error {
		c.conn.WriteInt64(m.Len)
		return nil
	})
}

func cmdZScore(c *call) {
	c.readZSet(c.null, func(v View, _ fsm.ZSetMeta) error {
		score, found, err := c.memberScore(v)
		switch {
		case err != nil:
		case !found:
			c.null()
		default:
			c.double([]byte(fsm.FormatScore(score)))
		}
		return err
	})
}

// cmdZRank serves ZRANK and ZREVRANK: the member's place by score,
// counted from the lowest (or highest).
func cmdZRank(c *call) {
	rev := strings.EqualFold(string(c.args[0]), "zrevrank")
	c.readZSet(c.null, func(v View, m fsm.ZSetMeta) error {
		score, found, err := c.memberScore(v)
		if err != nil || !found {
			if err == nil {
				c.null()
			}
			return err
		}
		var rank int64
		from, to := within(m, nil, append(fsm.ScoreKey(score), c.args[2]...))
		err = v.Elems(engine.ScoreIndex, c.args[1], from, to, func(_, _ []byte) error {
			rank++
			return nil
		})
		if rev {
			rank = m.Len - 1 - rank
		}
		if err == nil {
			c.conn.WriteInt64(rank)
		}
		return err
	})
}

// scoreBound is one end of a score range: "(" makes it exclusive.
type scoreBound struct {
	v    float64
	excl bool
}

func parseScoreBound(b []byte) (scoreBound, bool) {
	excl := len(b) > 0 && b[0] == '('
	if excl {
		b = b[1:]
	}
	f, ok := fsm.ParseScore(b)
	return scoreBound{f, excl}, ok
}

// lexBound is one end of a lexicographic range: "-" and "+" are the ends
// of all strings, "[" includes the string, "(" excludes it.
type lexBound struct {
	s        []byte
	excl     bool
	min, max bool // "-" or "+"
}

func parseLexBound(b []byte) (lexBound, bool) {
	switch {
	case len(b) == 1 && b[0] == '-':
		return lexBound{min: true}, true
	case len(b) == 1 && b[0] == '+':
		return lexBound{max: true}, true
	case len(b) > 0 && (b[0] == '(' || b[0] == '['):
		return lexBound{s: b[1:], excl: b[0] == '('}, true
	}
	return lexBound{}, false
}

// zrange is a parsed ZRANGE, ZRANGEBYSCORE or ZCOUNT.
type zrange struct {
	by         string // "rank", "score" or "lex"
	rev        bool
	withScores bool
	offset     int64
	limit      int64 // -1: none
	start, end int64 // by rank
	min, max   scoreBound
	lmin, lmax lexBound
}

// inScore reports where score lies: -1 below the range, 0 in, 1 above.
func (z *zrange) inScore(score float64) int {
	switch {
	case score < z.min.v || (z.min.excl && score == z.min.v):
		return -1
	case score > z.max.v || (z.max.excl && score == z.max.v):
		return 1
	}
	return 0
}

func (z *zrange) inLex(m []byte) int {
	switch {
	case z.lmin.max, !z.lmin.min && (bytes.Compare(m, z.lmin.s) < 0 || (z.lmin.excl && bytes.Equal(m, z.lmin.s))):
		return -1
	case z.lmax.min, !z.lmax.max && (bytes.Compare(m, z.lmax.s) > 0 || (z.lmax.excl && bytes.Equal(m, z.lmax.s))):
		return 1
	}
	return 0
}

// cmdZRange serves ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT
// offset count] [WITHSCORES], ZRANGEBYSCORE key min max [WITHSCORES]
// [LIMIT offset count], ZREVRANGE key start stop [WITHSCORES] and
// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count],
// parsing as Redis's zrangeGenericCommand does.
func cmdZRange(c *call) {
	z := zrange{by: "", limit: -1}
	// ZRANGE leaves its kind and direction to options; the older forms
	// fix them, and then refuse those options.
	name := strings.ToLower(string(c.args[0]))
	switch name {
	case "zrangebyscore", "zrevrangebyscore":
		z.by = "score"
	case "zrevrange":
		z.by = "rank"
	}
	z.rev = strings.HasPrefix(name, "zrev")
	revSet := name != "zrange"
	for j := 4; j < len(c.args); j++ {
		left := len(c.args) - j - 1
		switch opt := strings.ToUpper(string(c.args[j])); {
		case opt == "WITHSCORES":
			z.withScores = true
		case opt == "LIMIT" && left >= 2:
			n, ok := c.intArgs(c.args[j+1], c.args[j+2])
			if !ok {
				return
			}
			z.offset, z.limit = n[0], n[1]
			j += 2
		case opt == "REV" && !revSet:
			z.rev, revSet = true, true
		case opt == "BYLEX" && z.by == "" && name == "zrange":
			z.by = "lex"
		case opt == "BYSCORE" && z.by == "" && name == "zrange":
			z.by = "score"
		default:
			c.syntaxError()
			return
		}
	}
	if z.by == "" {
		z.by = "rank"
	}
	// LIMIT given (Redis tells by limit != -1).
	if z.limit != -1 && z.by == "rank" {
		c.conn.WriteError("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
		return
	}
	if z.withScores && z.by == "lex" {
		c.conn.WriteError("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
		return
	}
	lo, hi := c.args[2], c.args[3]
	if z.rev && z.by != "rank" {
		lo, hi = hi, lo
	}
	switch z.by {
	case "rank":
		n, ok := c.intArgs(lo, hi)
		if !ok {
			return
		}
		z.start, z.end = n[0], n[1]
	case "score":
		var ok1, ok2 bool
		z.min, ok1 = parseScoreBound(lo)
		z.max, ok2 = parseScoreBound(hi)
		if !ok1 || !ok2 {
			c.conn.WriteError("ERR min or max is not a float")
			return
		}
	case "lex":
		var ok1, ok2 bool
		z.lmin, ok1 = parseLexBound(lo)
		z.lmax, ok2 = parseLexBound(hi)
		if !ok1 || !ok2 {
			c.conn.WriteError("ERR min or max not valid string range item")
			return
		}
	}
	c.readZSet(func() { c.conn.WriteArray(0) }, func(v View, m fsm.ZSetMeta) error {
		out, err := z.collect(v, c.args[1], m)
		if err == nil && z.withScores {
			c.writeScored(out, true)
		} else if err == nil {
			c.writeBulks(out)
		}
		return err
	})
}

// errDone ends a scan that has what it needs.
var errDone = errors.New("done")

// collect scans the score index for the range: members, with their
// scores when asked.
func (z *zrange) collect(v View, key []byte, m fsm.ZSetMeta) ([][]byte, error) {
	n := m.Len
	var out [][]byte
	skip, take := z.offset, z.limit
	if z.by == "rank" {
		start, end := z.start, z.end
		if start < 0 {
			start += n
		}
		if end < 0 {
			end += n
		}
		start = max(start, 0)
		if start > end || start >= n {
			return nil, nil
		}
		end = min(end, n-1)
		skip, take = start, end-start+1
	} else if skip < 0 {
		return nil, nil
	}
	iter := v.Elems
	if z.rev {
		iter = v.ElemsRev
	}
	// Score ranges start the scan at their near end.
	var from, to []byte
	if z.by == "score" && !z.rev {
		from = fsm.ScoreKey(z.min.v)
	}
	if z.by == "score" && z.rev && !math.IsInf(z.max.v, 1) {
		to = fsm.ScoreKey(math.Nextafter(z.max.v, math.Inf(1)))
	}
	from, to = within(m, from, to)
	err := iter(engine.ScoreIndex, key, from, to, func(e, sv []byte) error {
		member := e[8:]
		score, err := fsm.ScoreOf(sv)
		if err != nil {
			return err
		}
		pos := 0
		switch z.by {
		case "score":
			pos = z.inScore(score)
		case "lex":
			pos = z.inLex(member)
		}
		if z.rev {
			pos = -pos
		}
		switch {
		case pos < 0:
			return nil
		case pos > 0:
			return errDone
		case skip > 0:
			skip--
			return nil
		case take == 0:
			return errDone
		}
		take--
		out = append(out, bytes.Clone(member))
		if z.withScores {
			out = append(out, []byte(fsm.FormatScore(score)))
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDone) {
		return nil, err
	}
	return out, nil
}

// cmdZCount counts the members with a score in [min, max].
func cmdZCount(c *call) {
	var z zrange
	var ok1, ok2 bool
	z.min, ok1 = parseScoreBound(c.args[2])
	z.max, ok2 = parseScoreBound(c.args[3])
	if !ok1 || !ok2 {
		c.conn.WriteError("ERR min or max is not a float")
		return
	}
	c.readZSet(func() { c.conn.WriteInt(0) }, func(v View, m fsm.ZSetMeta) error {
		var count int64
		from, to := within(m, fsm.ScoreKey(z.min.v), nil)
		err := v.Elems(engine.ScoreIndex, c.args[1], from, to, func(_, sv []byte) error {
			score, err := fsm.ScoreOf(sv)
			if err != nil {
				return err
			}
			switch z.inScore(score) {
			case 0:
				count++
			case 1:
				return errDone
			}
			return nil
		})
		if err != nil && !errors.Is(err, errDone) {
			return err
		}
		c.conn.WriteInt64(count)
		return nil
	})
}
