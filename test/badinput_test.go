package test

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// rawConn is a RESP connection that sends bytes as given.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	rd *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, rd: bufio.NewReader(c)}
}

func (r *rawConn) send(s string) {
	r.t.Helper()
	r.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(r.c, s); err != nil {
		r.t.Fatalf("write %q: %v", s, err)
	}
}

// line reads one reply line.
func (r *rawConn) line() string {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := r.rd.ReadString('\n')
	if err != nil {
		r.t.Fatalf("read reply: %v (got %q)", err, l)
	}
	return l
}

func (r *rawConn) expect(send, want string) {
	r.t.Helper()
	r.send(send)
	if got := r.line(); got != want {
		r.t.Fatalf("sent %q: got %q, want %q", send, got, want)
	}
}

// closed reports whether the server closed the connection.
func (r *rawConn) closed() bool {
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := r.rd.ReadByte()
	return err == io.EOF || (err != nil && strings.Contains(err.Error(), "reset"))
}

// TestBadInput sends malformed and hostile input to a real node: each gets
// Redis's reply, the connection survives where Redis's would, the server
// stays up and the data stays intact.
func TestBadInput(t *testing.T) {
	c := startCluster(t, 3)
	lead := c.waitLeader(10 * time.Second)
	addr := lead.respAddr
	ctx := context.Background()

	// Binary-safe keys and values: zero bytes, CR LF, empty strings.
	cl := c.client(lead)
	for _, kv := range [][2]string{{"a\x00b", "\x00\r\n\x00"}, {"line\r\nbreak", "v\nw"}, {"", "empty key"}, {"empty value", ""}} {
		if err := cl.Set(ctx, kv[0], kv[1], 0).Err(); err != nil {
			t.Fatalf("set %q: %v", kv[0], err)
		}
		if got, err := cl.Get(ctx, kv[0]).Result(); err != nil || got != kv[1] {
			t.Fatalf("get %q: %q, %v", kv[0], got, err)
		}
	}

	r := dialRaw(t, addr)
	r.expect("*1\r\n$3\r\nGET\r\n", "-ERR wrong number of arguments for 'get' command\r\n")
	r.expect("*2\r\n$7\r\nNOTACMD\r\n$1\r\nx\r\n", "-ERR unknown command 'NOTACMD', with args beginning with: 'x' \r\n")
	r.expect("*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$7\r\nBOGUSOP\r\n", "-ERR syntax error\r\n")
	r.expect("PING\r\n", "+PONG\r\n") // inline commands work, and the connection survived

	// Protocol errors close the connection, as Redis does, before any
	// payload is read: only the header of a 1 GiB bulk string is sent.
	for _, tc := range []struct{ send, want string }{
		{"*2\r\n$3\r\nGET\r\n$1073741824\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"*abc\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
		{"*99999999\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
		{"*1\r\n$-5\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"*1\r\n+PING\r\n", "-ERR Protocol error: expected '$', got '+'\r\n"},
		{strings.Repeat("x", 70*1024), "-ERR Protocol error: too big inline request\r\n"},
	} {
		r := dialRaw(t, addr)
		r.expect(tc.send, tc.want)
		if !r.closed() {
			t.Fatalf("after %q the connection stayed open", trim(tc.send))
		}
	}

	// The server is up and the data intact.
	if got, err := c.client(lead).Get(ctx, "a\x00b").Result(); err != nil || got != "\x00\r\n\x00" {
		t.Fatalf("after bad input: %q, %v", got, err)
	}
	if c.leader() != lead {
		t.Fatal("leadership changed during bad input")
	}
}

func trim(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
