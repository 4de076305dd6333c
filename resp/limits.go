package resp

import (
	"io"
	"net"
	"strconv"

	"github.com/hashicorp/go-hclog"
)

// Input limits. redcon buffers whatever a client sends, however large the
// lengths it announces; raftkv refuses oversized input before it is
// buffered, with Redis's replies, and closes the connection as Redis does.
// A command's bulk strings may hold at most maxQuery bytes in all (its
// headers are bounded by maxMultibulk), so what redcon buffers for a client
// stays under that plus one read; beyond it the client is disconnected
// without a reply, as Redis does past client-query-buffer-limit.
//
// limitedConn scans the byte stream as redcon will parse it, one RESP
// element at a time, and hands redcon only the bytes before a violation.
// Because redcon answers and flushes every complete command before it
// reads again, the next Read, which reports the violation, comes after the
// replies to everything that preceded it.
type limitedConn struct {
	net.Conn
	lim    limits
	logger hclog.Logger

	state    scanState
	line     []byte // the header line being read (without CR LF)
	lineLen  int    // bytes of the inline line being read
	argsLeft int    // bulk strings still expected in this multibulk
	skip     int64  // payload bytes (with CR LF) still to pass through
	cmdLen   int64  // bytes of the multibulk command being read
	failed   string // the protocol error to answer, or overQuery
}

// overQuery marks a command past maxQuery: the client is closed, unanswered.
const overQuery = "query buffer limit"

type limits struct {
	maxBulk      int64
	maxInline    int
	maxMultibulk int
	maxQuery     int64
}

type scanState uint8

const (
	scanStart     scanState = iota // at the start of a command
	scanInline                     // inside an inline command line
	scanMultiHdr                   // inside "*<count>"
	scanBulkStart                  // expecting '$'
	scanBulkHdr                    // inside "$<len>"
	scanPayload                    // skipping a bulk payload
)

// maxHeaderLen bounds a "*<count>" or "$<len>" line; real ones are short.
const maxHeaderLen = 32

func (c *limitedConn) Read(p []byte) (int, error) {
	if c.failed != "" {
		c.reject()
		return 0, io.EOF
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		if ok := c.scan(p[:n]); ok < n {
			if ok == 0 {
				c.reject()
				return 0, io.EOF
			}
			return ok, nil
		}
	}
	return n, err
}

// reject writes the violation's error and closes the connection.
func (c *limitedConn) reject() {
	if c.failed == overQuery {
		if c.logger != nil {
			c.logger.Warn("closing client that reached max query buffer length", "client", c.RemoteAddr().String(), "limit", c.lim.maxQuery)
		}
	} else {
		io.WriteString(c.Conn, "-ERR Protocol error: "+c.failed+"\r\n")
	}
	c.Conn.Close()
}

// scan advances the scanner over b and returns how many bytes precede a
// violation (len(b) when there is none).
func (c *limitedConn) scan(b []byte) int {
	for i := 0; i < len(b); i++ {
		ch := b[i]
		switch c.state {
		case scanStart:
			switch ch {
			case '*':
				c.state, c.line, c.cmdLen = scanMultiHdr, c.line[:0], 0
			case '\r', '\n':
				// empty lines between commands are ignored
			default:
				c.state, c.lineLen = scanInline, 1
			}
		case scanInline:
			if ch == '\n' {
				c.state = scanStart
				continue
			}
			if ch == '\r' {
				continue
			}
			c.lineLen++
			if c.lineLen > c.lim.maxInline {
				return c.fail(i, "too big inline request")
			}
		case scanMultiHdr, scanBulkHdr:
			if ch == '\r' {
				continue
			}
			if ch != '\n' {
				c.line = append(c.line, ch)
				if len(c.line) > maxHeaderLen {
					if c.state == scanMultiHdr {
						return c.fail(i, "invalid multibulk length")
					}
					return c.fail(i, "invalid bulk length")
				}
				continue
			}
			n, err := strconv.ParseInt(string(c.line), 10, 64)
			if c.state == scanMultiHdr {
				if err != nil || n > int64(c.lim.maxMultibulk) {
					return c.fail(i, "invalid multibulk length")
				}
				if n <= 0 {
					c.state = scanStart
				} else {
					c.state, c.argsLeft = scanBulkStart, int(n)
				}
				continue
			}
			if err != nil || n < 0 || n > c.lim.maxBulk {
				return c.fail(i, "invalid bulk length")
			}
			c.state, c.skip = scanPayload, n+2
		case scanBulkStart:
			if ch != '$' {
				if ch == '\r' || ch == '\n' {
					ch = ' ' // as Redis blanks newlines in errors
				}
				return c.fail(i, "expected '$', got '"+string(ch)+"'")
			}
			c.state, c.line = scanBulkHdr, c.line[:0]
		case scanPayload:
			take := min(c.skip, int64(len(b)-i))
			c.skip -= take
			i += int(take) - 1
			if c.cmdLen += take; c.cmdLen > c.lim.maxQuery {
				return c.fail(i-int(take)+1, overQuery)
			}
			if c.skip == 0 {
				c.argsLeft--
				if c.argsLeft == 0 {
					c.state = scanStart
				} else {
					c.state = scanBulkStart
				}
			}
		}
	}
	return len(b)
}

// fail records a violation found at b[i] and returns how many bytes of b
// redcon may still have: those before it.
func (c *limitedConn) fail(i int, msg string) int {
	c.failed = msg
	return i
}
