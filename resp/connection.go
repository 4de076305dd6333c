package resp

import (
	"crypto/subtle"
	"fmt"
	"strconv"
	"strings"
	"time"
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
	if setName {
		c.cl.name = string(name)
	}
	c.cl.proto = proto
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
		if c.cl.name == "" {
			c.null()
		} else {
			c.conn.WriteBulkString(c.cl.name)
		}
	case sub == "setname" && n == 3:
		if !validClientName(c.args[2]) {
			c.conn.WriteError("ERR Client names cannot contain spaces, newlines or special characters.")
			return
		}
		c.cl.name = string(c.args[2])
		c.ok()
	case sub == "setinfo" && n == 4:
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
		c.verbatim(c.s.clientLine(c) + "\n")
	case sub == "help" && n == 2:
		writeHelp(c, "CLIENT", []string{
			"ID", "    Return the ID of the current connection.",
			"GETNAME", "    Return the name of the current connection.",
			"SETNAME <name>", "    Assign the name <name> to the current connection.",
			"SETINFO <LIB-NAME|LIB-VER> <value>", "    Set client library name or version.",
			"INFO", "    Return information about the current client connection.",
		})
	case sub == "id" || sub == "getname" || sub == "setname" || sub == "setinfo" || sub == "info" || sub == "help":
		c.conn.WriteError(fmt.Sprintf("ERR wrong number of arguments for 'client|%s' command", sub))
	default:
		unknownSubcommand(c, "CLIENT")
	}
}

func (s *Server) clientLine(c *call) string {
	return fmt.Sprintf("id=%d addr=%s laddr=%s name=%s db=0 lib-name=%s lib-ver=%s",
		c.cl.id, c.conn.RemoteAddr(), s.Addr(), c.cl.name, c.cl.lib, c.cl.ver)
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
