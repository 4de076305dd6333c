package resp

import (
	"fmt"
	"math"
	"strings"

	"github.com/raftkv/raftkv/fsm"
)

// Key expiry. Every time here is absolute Unix milliseconds by the time it
// reaches the log: a relative TTL is added to the command's time (see
// call.now) on the leader, so that every replica, and every replay,
// expires the key at the same moment.

// stringOpts are the options of SET and GETEX, parsed as Redis's
// parseExtendedStringArgumentsOrReply does.
type stringOpts struct {
	flags    byte   // fsm.SetNX, SetXX, SetGet, SetKeepTTL
	persist  bool   // GETEX PERSIST
	expiry   []byte // the argument of EX, PX, EXAT or PXAT
	unit     int64  // milliseconds per unit of expiry
	relative bool   // EX, PX
}

// parseStringOpts parses SET's options (set) or GETEX's. An option may be
// repeated, but not combined with one it excludes; false means a syntax
// error.
func parseStringOpts(args [][]byte, set bool) (stringOpts, bool) {
	var o stringOpts
	hasExpiry := func() bool { return o.expiry != nil }
	for i := 0; i < len(args); i++ {
		opt := strings.ToUpper(string(args[i]))
		hasNext := i+1 < len(args)
		switch {
		case opt == "NX" && set && o.flags&fsm.SetXX == 0:
			o.flags |= fsm.SetNX
		case opt == "XX" && set && o.flags&fsm.SetNX == 0:
			o.flags |= fsm.SetXX
		case opt == "GET" && set:
			o.flags |= fsm.SetGet
		case opt == "KEEPTTL" && set && !hasExpiry():
			o.flags |= fsm.SetKeepTTL
		case opt == "PERSIST" && !set && !hasExpiry():
			o.persist = true
		case (opt == "EX" || opt == "PX" || opt == "EXAT" || opt == "PXAT") && hasNext &&
			o.flags&fsm.SetKeepTTL == 0 && !o.persist && (!hasExpiry() || o.sameForm(opt)):
			o.expiry = args[i+1]
			o.relative = opt == "EX" || opt == "PX"
			o.unit = 1
			if opt == "EX" || opt == "EXAT" {
				o.unit = 1000
			}
			i++
		default:
			return o, false
		}
	}
	return o, true
}

// sameForm reports whether opt is the expiry form already given: Redis
// lets "EX 1 EX 2" through (the last wins) but not "EX 1 PX 2".
func (o stringOpts) sameForm(opt string) bool {
	switch opt {
	case "EX":
		return o.relative && o.unit == 1000
	case "PX":
		return o.relative && o.unit == 1
	case "EXAT":
		return !o.relative && o.unit == 1000
	}
	return !o.relative && o.unit == 1
}

// invalidExpire answers Redis's error for an expiry out of range.
func (c *call) invalidExpire() {
	c.conn.WriteError(fmt.Sprintf("ERR invalid expire time in '%s' command", strings.ToLower(string(c.args[0]))))
}

// expiryArg reads the expiry of SET, SETEX, PSETEX or GETEX: a positive
// count of units, from now when relative. ok false: answered.
func (c *call) expiryArg(arg []byte, unit int64, relative bool) (int64, bool) {
	v, ok := fsm.ParseInt(arg)
	if !ok {
		c.conn.WriteError(fsm.ErrNotInteger.Error())
		return 0, false
	}
	if v <= 0 || v > math.MaxInt64/unit {
		c.invalidExpire()
		return 0, false
	}
	v *= unit
	if relative {
		if v > math.MaxInt64-c.now() {
			c.invalidExpire()
			return 0, false
		}
		v += c.now()
	}
	return v, true
}

// cmdSetEx serves SETEX key seconds value and PSETEX key milliseconds
// value.
func cmdSetEx(c *call) {
	unit := int64(1000)
	if strings.EqualFold(string(c.args[0]), "psetex") {
		unit = 1
	}
	expire, ok := c.expiryArg(c.args[2], unit, true)
	if !ok {
		return
	}
	if _, ok := c.write(c.args[1], fsm.EncodeSetIf(c.args[1], c.args[3], 0, expire)); ok {
		c.ok()
	}
}

// cmdGetEx serves GETEX key [EX seconds | PX milliseconds | EXAT
// unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]: without an
// option it is a read.
func cmdGetEx(c *call) {
	o, ok := parseStringOpts(c.args[2:], false)
	if !ok {
		c.syntaxError()
		return
	}
	if o.expiry == nil && !o.persist {
		cmdGet(c)
		return
	}
	var at int64
	if o.expiry != nil {
		if at, ok = c.expiryArg(o.expiry, o.unit, o.relative); !ok {
			return
		}
	}
	if r, ok := c.write(c.args[1], fsm.EncodeGetEx(c.args[1], at)); ok {
		c.writeOld(r)
	}
}

// cmdExpire serves EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT key time [NX |
// XX | GT | LT], checking its arguments in Redis's order: options, then
// the time.
func cmdExpire(c *call) {
	name := strings.ToLower(string(c.args[0]))
	var flags byte
	for _, a := range c.args[3:] {
		switch opt := strings.ToUpper(string(a)); opt {
		case "NX":
			flags |= fsm.ExpireNX
		case "XX":
			flags |= fsm.ExpireXX
		case "GT":
			flags |= fsm.ExpireGT
		case "LT":
			flags |= fsm.ExpireLT
		default:
			c.conn.WriteError("ERR Unsupported option " + string(a))
			return
		}
	}
	switch {
	case flags&fsm.ExpireNX != 0 && flags&(fsm.ExpireXX|fsm.ExpireGT|fsm.ExpireLT) != 0:
		c.conn.WriteError("ERR NX and XX, GT or LT options at the same time are not compatible")
		return
	case flags&fsm.ExpireGT != 0 && flags&fsm.ExpireLT != 0:
		c.conn.WriteError("ERR GT and LT options at the same time are not compatible")
		return
	}
	when, ok := fsm.ParseInt(c.args[2])
	if !ok {
		c.conn.WriteError(fsm.ErrNotInteger.Error())
		return
	}
	if name == "expire" || name == "expireat" {
		if when > math.MaxInt64/1000 || when < math.MinInt64/1000 {
			c.invalidExpire()
			return
		}
		when *= 1000
	}
	if name == "expire" || name == "pexpire" {
		if when > math.MaxInt64-c.now() {
			c.invalidExpire()
			return
		}
		when += c.now()
	}
	c.writeInt(fsm.EncodeExpire(c.args[1], when, flags))
}

// cmdPersist serves PERSIST key.
func cmdPersist(c *call) {
	c.writeInt(fsm.EncodePersist(c.args[1]))
}

// cmdTTL serves TTL, PTTL, EXPIRETIME and PEXPIRETIME key: -2 for a
// missing key, -1 for one without an expiry.
func cmdTTL(c *call) {
	if !c.read(c.args[1]) {
		return
	}
	r, found, ok := c.lookup(c.args[1])
	switch {
	case !ok:
		return
	case !found:
		c.conn.WriteInt(-2)
		return
	case r.Expire == 0:
		c.conn.WriteInt(-1)
		return
	}
	ttl := max(r.Expire-c.now(), 0)
	switch strings.ToLower(string(c.args[0])) {
	case "ttl":
		c.conn.WriteInt64((ttl + 500) / 1000)
	case "pttl":
		c.conn.WriteInt64(ttl)
	case "expiretime":
		c.conn.WriteInt64((r.Expire + 500) / 1000) // rounded, as Redis does
	default:
		c.conn.WriteInt64(r.Expire)
	}
}
