package resp

import (
	"cmp"
	"crypto/subtle"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/raftkv/raftkv/fsm"
)

func cmdPing(c *call) {
	switch len(c.args) {
	case 1:
		c.conn.WriteString("PONG")
	case 2:
		c.conn.WriteBulk(c.args[1])
	default:
		c.conn.WriteError("ERR wrong number of arguments for 'ping' command")
	}
}

func cmdEcho(c *call) { c.conn.WriteBulk(c.args[1]) }

// cmdTime answers this node's clock, as seconds and microseconds, like
// Redis's TIME on any node: it reads no data, so followers answer too.
func cmdTime(c *call) {
	now := time.Now()
	c.conn.WriteArray(2)
	c.conn.WriteBulkString(strconv.FormatInt(now.Unix(), 10))
	c.conn.WriteBulkString(strconv.Itoa(now.Nanosecond() / 1000))
}

func cmdQuit(c *call) {
	c.ok()
	c.conn.Close()
}

func cmdSelect(c *call) {
	n, err := strconv.ParseInt(string(c.args[1]), 10, 64)
	switch {
	case err != nil:
		c.conn.WriteError("ERR value is not an integer or out of range")
	case n != 0:
		c.conn.WriteError("ERR DB index is out of range")
	default:
		c.ok()
	}
}

// cmdHello answers HELLO [protover [AUTH username password] [SETNAME
// clientname]]: protover 2 or 3 chooses RESP2 or RESP3 for the
// connection from this reply on.
func cmdHello(c *call) {
	args := c.args[1:]
	proto := c.cl.proto
	if len(args) > 0 {
		v, err := strconv.ParseInt(string(args[0]), 10, 64)
		if err != nil {
			c.conn.WriteError("ERR Protocol version is not an integer or out of range")
			return
		}
		if v != 2 && v != 3 {
			c.conn.WriteError("NOPROTO unsupported protocol version")
			return
		}
		proto = int(v)
		args = args[1:]
	}
	var name []byte
	setName := false
	for len(args) > 0 {
		opt := strings.ToLower(string(args[0]))
		switch {
		case opt == "auth" && len(args) >= 3:
			if !c.s.passwordOK(args[1], args[2]) {
				c.conn.WriteError(wrongPass)
				return
			}
			c.cl.authed = true
			args = args[3:]
		case opt == "setname" && len(args) >= 2:
			if !validClientName(args[1]) {
				c.conn.WriteError("ERR Client names cannot contain spaces, newlines or special characters.")
				return
			}
			name, setName = args[1], true
			args = args[2:]
		default:
			c.conn.WriteError(fmt.Sprintf("ERR Syntax error in HELLO option '%s'", args[0]))
			return
		}
	}
	if !c.cl.authed {
		c.conn.WriteError("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
		return
	}
	c.cl.mu.Lock()
	if setName {
		c.cl.name = string(name)
	}
	c.cl.proto = proto
	c.cl.mu.Unlock()
	role := "replica"
	if st := c.s.backend.Status(); st.Leader == st.ID {
		role = "master"
	}
	c.mapLen(7)
	c.conn.WriteBulkString("server")
	c.conn.WriteBulkString("redis")
	c.conn.WriteBulkString("version")
	c.conn.WriteBulkString(RedisVersion)
	c.conn.WriteBulkString("proto")
	c.conn.WriteInt(proto)
	c.conn.WriteBulkString("id")
	c.conn.WriteInt64(c.cl.id)
	c.conn.WriteBulkString("mode")
	c.conn.WriteBulkString("cluster")
	c.conn.WriteBulkString("role")
	c.conn.WriteBulkString(role)
	c.conn.WriteBulkString("modules")
	c.conn.WriteArray(0)
}

const wrongPass = "WRONGPASS invalid username-password pair or user is disabled."

// passwordOK checks a user and password: the only user is "default", whose
// password is RequirePass (any password when none is set, as Redis's
// nopass default user).
func (s *Server) passwordOK(user, pass []byte) bool {
	if string(user) != "default" {
		return false
	}
	return s.cfg.RequirePass == "" || subtle.ConstantTimeCompare(pass, []byte(s.cfg.RequirePass)) == 1
}

// cmdAuth serves AUTH [username] password.
func cmdAuth(c *call) {
	switch len(c.args) {
	case 2:
		if c.s.cfg.RequirePass == "" {
			c.conn.WriteError("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
			return
		}
		if !c.s.passwordOK([]byte("default"), c.args[1]) {
			c.conn.WriteError(wrongPass)
			return
		}
	case 3:
		if !c.s.passwordOK(c.args[1], c.args[2]) {
			c.conn.WriteError(wrongPass)
			return
		}
	default:
		c.syntaxError()
		return
	}
	c.cl.authed = true
	c.ok()
}

// RedisVersion is the Redis version raftkv reports: the level of the
// protocol and commands it answers like.
const RedisVersion = "7.2.0"

func validClientName(name []byte) bool {
	for _, ch := range name {
		if ch < '!' || ch > '~' {
			return false
		}
	}
	return true
}

func cmdClient(c *call) {
	sub := strings.ToLower(string(c.args[1]))
	n := len(c.args)
	switch {
	case sub == "id" && n == 2:
		c.conn.WriteInt64(c.cl.id)
	case sub == "getname" && n == 2:
		if name := c.cl.nameNow(); name == "" {
			c.null()
		} else {
			c.conn.WriteBulkString(name)
		}
	case sub == "setname" && n == 3:
		if !validClientName(c.args[2]) {
			c.conn.WriteError("ERR Client names cannot contain spaces, newlines or special characters.")
			return
		}
		c.cl.mu.Lock()
		c.cl.name = string(c.args[2])
		c.cl.mu.Unlock()
		c.ok()
	case sub == "setinfo" && n == 4:
		c.cl.mu.Lock()
		defer c.cl.mu.Unlock()
		switch strings.ToLower(string(c.args[2])) {
		case "lib-name":
			c.cl.lib = string(c.args[3])
		case "lib-ver":
			c.cl.ver = string(c.args[3])
		default:
			c.conn.WriteError(fmt.Sprintf("ERR Unrecognized option '%s'", c.args[2]))
			return
		}
		c.ok()
	case sub == "info" && n == 2:
		c.verbatim(c.s.clientLine(c.cl) + "\n")
	case sub == "list":
		cmdClientList(c)
	case sub == "kill" && n >= 3:
		cmdClientKill(c)
	case sub == "no-evict" && n == 3:
		// Nothing is evicted: raftkv keeps every key until it is deleted
		// or expires. Either setting is accepted.
		switch strings.ToLower(string(c.args[2])) {
		case "on", "off":
			c.ok()
		default:
			c.syntaxError()
		}
	case sub == "help" && n == 2:
		writeHelp(c, "CLIENT", []string{
			"ID", "    Return the ID of the current connection.",
			"GETNAME", "    Return the name of the current connection.",
			"SETNAME <name>", "    Assign the name <name> to the current connection.",
			"SETINFO <LIB-NAME|LIB-VER> <value>", "    Set client library name or version.",
			"INFO", "    Return information about the current client connection.",
			"LIST [TYPE normal] [ID <id> [<id> ...]]", "    Return information about client connections.",
			"KILL <ip:port>", "    Kill connection made from <ip:port>.",
			"KILL <option> <value> [<option> <value> [...]]", "    Kill connections. Options are: ID <client-id>, ADDR <ip:port>, LADDR <ip:port>, USER <username>, SKIPME (YES|NO).",
			"NO-EVICT (ON|OFF)", "    Accepted; raftkv never evicts keys.",
		})
	case sub == "id" || sub == "getname" || sub == "setname" || sub == "setinfo" || sub == "info" || sub == "help" || sub == "kill" || sub == "no-evict":
		c.conn.WriteError(fmt.Sprintf("ERR wrong number of arguments for 'client|%s' command", sub))
	default:
		unknownSubcommand(c, "CLIENT")
	}
}

// clientLine describes a connection as CLIENT INFO and CLIENT LIST do.
func (s *Server) clientLine(cl *client) string {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	now := time.Now()
	cmd := cl.lastCmd
	if cmd == "client" {
		cmd = "client|list"
	}
	return fmt.Sprintf("id=%d addr=%s laddr=%s fd=0 name=%s age=%d idle=%d flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=%s user=default redir=-1 resp=%d lib-name=%s lib-ver=%s",
		cl.id, cl.conn.RemoteAddr(), s.Addr(), cl.name, int(now.Sub(cl.created).Seconds()), int(now.Sub(cl.lastAt).Seconds()),
		cmd, cl.proto, cl.lib, cl.ver)
}

func (cl *client) nameNow() string {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.name
}

// connected returns the connected clients, by ID.
func (s *Server) connected() []*client {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	out := make([]*client, 0, len(s.conns))
	for _, cl := range s.conns {
		out = append(out, cl)
	}
	slices.SortFunc(out, func(a, b *client) int { return cmp.Compare(a.id, b.id) })
	return out
}

// cmdClientList serves CLIENT LIST [TYPE normal|master|replica|pubsub]
// [ID id ...]: every connection is a normal one.
func cmdClientList(c *call) {
	var ids map[int64]bool
	typ := ""
	for i := 2; i < len(c.args); {
		switch opt := strings.ToLower(string(c.args[i])); {
		case opt == "type" && i+1 < len(c.args):
			typ = strings.ToLower(string(c.args[i+1]))
			if typ != "normal" && typ != "master" && typ != "replica" && typ != "pubsub" {
				c.conn.WriteError(fmt.Sprintf("ERR Unknown client type '%s'", c.args[i+1]))
				return
			}
			i += 2
		case opt == "id" && i+1 < len(c.args):
			ids = map[int64]bool{}
			for i++; i < len(c.args); i++ {
				id, ok := fsm.ParseInt(c.args[i])
				if !ok || id <= 0 {
					c.conn.WriteError("ERR Invalid client ID")
					return
				}
				ids[id] = true
			}
		default:
			c.syntaxError()
			return
		}
	}
	var b strings.Builder
	for _, cl := range c.s.connected() {
		if (typ != "" && typ != "normal") || (ids != nil && !ids[cl.id]) {
			continue
		}
		b.WriteString(c.s.clientLine(cl))
		b.WriteByte('\n')
	}
	c.verbatim(b.String())
}

// cmdClientKill serves CLIENT KILL ip:port (OK, or an error when no
// client is there) and CLIENT KILL with filters (ID, ADDR, LADDR, USER,
// SKIPME; the count of clients closed).
func cmdClientKill(c *call) {
	args := c.args[2:]
	if len(args) == 1 {
		for _, cl := range c.s.connected() {
			if cl.conn.RemoteAddr() == string(args[0]) {
				c.ok()
				cl.conn.NetConn().Close()
				return
			}
		}
		c.conn.WriteError("ERR No such client")
		return
	}
	if len(args)%2 != 0 {
		c.syntaxError()
		return
	}
	var id int64
	var addr, laddr string
	skipMe := true
	for i := 0; i < len(args); i += 2 {
		v := string(args[i+1])
		switch strings.ToLower(string(args[i])) {
		case "id":
			n, ok := fsm.ParseInt(args[i+1])
			if !ok || n <= 0 {
				c.conn.WriteError("ERR client-id should be greater than 0")
				return
			}
			id = n
		case "addr":
			addr = v
		case "laddr":
			laddr = v
		case "user":
			// Every client is the default user: that filter keeps them all.
			if v != "default" {
				c.conn.WriteError(fmt.Sprintf("ERR No such user '%s'", v))
				return
			}
		case "skipme":
			switch strings.ToLower(v) {
			case "yes":
				skipMe = true
			case "no":
				skipMe = false
			default:
				c.syntaxError()
				return
			}
		default:
			c.syntaxError()
			return
		}
	}
	var killed int64
	var me *client
	for _, cl := range c.s.connected() {
		switch {
		case id != 0 && cl.id != id,
			addr != "" && cl.conn.RemoteAddr() != addr,
			laddr != "" && laddr != c.s.Addr(),
			cl == c.cl && skipMe:
			continue
		}
		if cl == c.cl {
			me = cl // closed after the reply is out
			killed++
			continue
		}
		cl.conn.NetConn().Close()
		killed++
	}
	c.conn.WriteInt64(killed)
	if me != nil {
		c.conn.Close()
	}
}

func unknownSubcommand(c *call, cmd string) {
	sub := c.args[1][:min(len(c.args[1]), 128)]
	c.conn.WriteError(fmt.Sprintf("ERR unknown subcommand '%s'. Try %s HELP.", sub, cmd))
}

// writeHelp writes a HELP reply: a title line, then the lines given.
func writeHelp(c *call, cmd string, lines []string) {
	c.conn.WriteArray(len(lines) + 3)
	c.conn.WriteString(fmt.Sprintf("%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", cmd))
	for _, l := range lines {
		c.conn.WriteString(l)
	}
	c.conn.WriteString("HELP")
	c.conn.WriteString("    Print this help.")
}
