package resp

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"testing"
	"time"
)

// FuzzCommands sends arbitrary bytes to a server, as a client would, and
// checks that the server answers with well-formed RESP only, finishes the
// connection once the client has sent everything, and goes on serving.
func FuzzCommands(f *testing.F) {
	for _, seed := range []string{
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
		"PING\r\nECHO hi\r\nSET a b NX GET\r\nGETSET a c\r\nAPPEND a d\r\nDEL a b\r\nEXISTS a\r\n",
		"*2\r\n$6\r\nCLIENT\r\n$4\r\nLIST\r\nCLUSTER SLOTS\r\nCLUSTER NODES\r\nCOMMAND COUNT\r\nINFO all\r\n",
		"CONFIG GET *\r\nDEBUG DIGEST\r\nRAFT.INFO\r\nHELLO 3\r\nSELECT 1\r\n",
		"*1\r\n$-5\r\n",
		"*2\r\n$3\r\nGET\r\n",
		"\"unbalanced\r\n",
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n",
		"SET k v EX 10\r\nSET k v XX NX\r\nGET\r\n",
	} {
		f.Add([]byte(seed))
	}
	fb := newFake()
	s, err := New(Config{Addr: "127.0.0.1:0", Backend: fb, LeaderWait: 100 * time.Millisecond,
		RequestTimeout: time.Second, Version: "fuzz", MaxBulkLen: 1 << 20, MaxQueryBuffer: 2 << 20})
	if err != nil {
		f.Fatal(err)
	}
	if err := s.Start(); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	addr := s.Addr()

	f.Fuzz(func(t *testing.T, in []byte) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("the server stopped accepting: %v", err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		conn.Write(in) // the server may close first
		conn.(*net.TCPConn).CloseWrite()
		out, err := io.ReadAll(conn)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("the server did not finish a connection whose client had sent all it would (%d bytes read)", len(out))
		}
		for rest := out; len(rest) > 0; {
			n := nextReply(rest)
			if n == 0 {
				t.Fatalf("malformed reply at byte %d of %q", len(out)-len(rest), out)
			}
			rest = rest[n:]
		}

		// The server still serves another client.
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("the server stopped accepting: %v", err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "PING\r\n")
		buf := make([]byte, 7)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "+PONG\r\n" {
			t.Fatalf("PING after the input: %q, %v", buf, err)
		}
	})
}

// nextReply returns the length of the RESP2 or RESP3 reply at the start
// of b, or 0 when there is no whole, well-formed one.
func nextReply(b []byte) int {
	i := bytes.Index(b, []byte("\r\n"))
	if i < 1 {
		return 0
	}
	line, n := b[1:i], i+2
	if bytes.ContainsAny(line, "\r\n") {
		return 0
	}
	count := func() (int, bool) {
		v, err := strconv.Atoi(string(line))
		return v, err == nil && v >= -1
	}
	switch b[0] {
	case '+', '-', ':', ',', '#', '(':
		return n
	case '_':
		if len(line) != 0 {
			return 0
		}
		return n
	case '$', '=', '!':
		l, ok := count()
		switch {
		case !ok || (l < 0 && b[0] != '$'):
			return 0
		case l < 0:
			return n
		case len(b) < n+l+2 || string(b[n+l:n+l+2]) != "\r\n":
			return 0
		}
		return n + l + 2
	case '*', '~', '>', '%', '|':
		l, ok := count()
		if !ok || (l < 0 && b[0] != '*') {
			return 0
		}
		if b[0] == '%' || b[0] == '|' {
			l *= 2
		}
		for ; l > 0; l-- {
			m := nextReply(b[n:])
			if m == 0 {
				return 0
			}
			n += m
		}
		return n
	}
	return 0
}
