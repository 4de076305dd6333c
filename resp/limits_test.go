package resp

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// pipeConn is a net.Conn whose reads come from a fixed input, split into
// chunks, and whose writes are recorded.
type pipeConn struct {
	net.Conn
	chunks [][]byte
	out    bytes.Buffer
	closed bool
}

func (p *pipeConn) Read(b []byte) (int, error) {
	if len(p.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(b, p.chunks[0])
	if n == len(p.chunks[0]) {
		p.chunks = p.chunks[1:]
	} else {
		p.chunks[0] = p.chunks[0][n:]
	}
	return n, nil
}
func (p *pipeConn) Write(b []byte) (int, error)      { return p.out.Write(b) }
func (p *pipeConn) Close() error                     { p.closed = true; return nil }
func (p *pipeConn) SetReadDeadline(time.Time) error  { return nil }
func (p *pipeConn) SetWriteDeadline(time.Time) error { return nil }

var testLimits = limits{maxBulk: 100, maxInline: 50, maxMultibulk: 10, maxQuery: 150}

// readAll reads input through a limitedConn split at the given points and
// returns what redcon would see and what the client was sent.
func readAll(input string, split []int) (passed, reply string, closed bool) {
	var chunks [][]byte
	prev := 0
	for _, s := range append(split, len(input)) {
		if s > prev && s <= len(input) {
			chunks = append(chunks, []byte(input[prev:s]))
			prev = s
		}
	}
	pc := &pipeConn{chunks: chunks}
	lc := &limitedConn{Conn: pc, lim: testLimits}
	var got bytes.Buffer
	buf := make([]byte, 7)
	for {
		n, err := lc.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return got.String(), pc.out.String(), pc.closed
}

func TestLimits(t *testing.T) {
	ok := "*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\n" + strings.Repeat("v", 100) + "\r\n"
	for _, tc := range []struct {
		name, input, passed, reply string
	}{
		{"within limits", ok, ok, ""},
		{"bulk too long", "PING\r\n*2\r\n$3\r\nGET\r\n$101\r\n", "PING\r\n*2\r\n$3\r\nGET\r\n$101\r", "-ERR Protocol error: invalid bulk length\r\n"},
		{"negative bulk", "*1\r\n$-5\r\n", "*1\r\n$-5\r", "-ERR Protocol error: invalid bulk length\r\n"},
		{"bad bulk", "*1\r\n$x\r\n", "*1\r\n$x\r", "-ERR Protocol error: invalid bulk length\r\n"},
		{"too many args", "*11\r\n", "*11\r", "-ERR Protocol error: invalid multibulk length\r\n"},
		{"bad count", "*abc\r\n", "*abc\r", "-ERR Protocol error: invalid multibulk length\r\n"},
		{"not a bulk", "*1\r\n+PING\r\n", "*1\r\n", "-ERR Protocol error: expected '$', got '+'\r\n"},
		{"newline for a bulk", "*1\r\n\n", "*1\r\n", "-ERR Protocol error: expected '$', got ' '\r\n"},
		{"inline too long", "PING\r\n" + strings.Repeat("x", 51), "PING\r\n" + strings.Repeat("x", 50), "-ERR Protocol error: too big inline request\r\n"},
		{"inline at limit", strings.Repeat("x", 50) + "\r\n", strings.Repeat("x", 50) + "\r\n", ""},
		{"empty multibulk", "*0\r\n*-1\r\nPING\r\n", "*0\r\n*-1\r\nPING\r\n", ""},
	} {
		// Every way of splitting the input into two reads gives the same
		// result.
		for cut := 0; cut <= len(tc.input); cut++ {
			passed, reply, closed := readAll(tc.input, []int{cut})
			if passed != tc.passed || reply != tc.reply || closed != (tc.reply != "") {
				t.Fatalf("%s, split at %d: passed %q, replied %q (closed %v); want %q, %q", tc.name, cut, passed, reply, closed, tc.passed, tc.reply)
			}
		}
	}
}

// TestQueryBufferLimit: a command whose bulk strings add up to more than
// maxQuery closes the connection unanswered, before redcon has it whole; a
// pipeline of small commands is never limited, however long.
func TestQueryBufferLimit(t *testing.T) {
	v := strings.Repeat("v", 100)
	big := "PING\r\n*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\n" + v + "\r\n$100\r\n" + v + "\r\n"
	for cut := 0; cut <= len(big); cut++ {
		passed, reply, closed := readAll(big, []int{cut})
		if reply != "" || !closed || len(passed) >= len(big) || !strings.HasPrefix(big, passed) || !strings.HasPrefix(passed, "PING\r\n") {
			t.Fatalf("split at %d: passed %q, replied %q (closed %v); want the connection closed unanswered after PING, before the command ends", cut, passed, reply, closed)
		}
	}
	small := strings.Repeat("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\n"+v+"\r\n", 20)
	if passed, reply, closed := readAll(small, []int{len(small) / 2}); passed != small || reply != "" || closed {
		t.Fatalf("a pipeline of small commands was refused: passed %d of %d bytes, replied %q", len(passed), len(small), reply)
	}
}

func TestSlot(t *testing.T) {
	for key, want := range map[string]int{
		"k": 7629, "greeting": 12714, "foo": 12182, "bar": 5061, "": 0,
		"{user1000}.following": 3443, "{user1000}.followers": 3443, "user1000": 3443,
		"foo{}{bar}": 8363, "foo{{bar}}zap": 4015, "foo{bar}{zap}": 5061,
	} {
		if got := Slot([]byte(key)); got != want {
			t.Errorf("Slot(%q) = %d, want %d", key, got, want)
		}
	}
}
