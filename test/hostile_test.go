package test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestHostileClients aims what misbehaving clients send at a leader:
// garbage, half a command and a hang-up, a 600 MB bulk string, a command
// past the query buffer limit, 10,000 connections at once and pipelines of
// 100,000 commands. Each gets an error or its own connection closed;
// everyone else is served throughout, no write is torn, and the node's
// memory stays bounded: its peak resident size is logged and checked.
func TestHostileClients(t *testing.T) {
	const conns = 10000
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Max < conns+1000 {
		t.Fatalf("this test opens %d connections and needs a hard open-file limit above %d (have %d, %v)", conns, conns+1000, lim.Max, err)
	}
	const queryLimit = 8 << 20
	const maxClients = conns + 50
	c := startCluster(t, 3, "--max-query-buffer", strconv.Itoa(queryLimit), "--maxclients", strconv.Itoa(maxClients))
	lead := c.waitLeader(10 * time.Second)
	addr := lead.respAddr
	ctx := context.Background()
	rdb := c.client(lead)
	if err := rdb.Set(ctx, "canary", "alive", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// alive checks, on a connection of its own, that the node still
	// serves and its data is intact.
	alive := func(after string) {
		t.Helper()
		if got, err := rdb.Get(ctx, "canary").Result(); err != nil || got != "alive" {
			t.Fatalf("after %s: GET canary = %q, %v", after, got, err)
		}
	}
	t.Logf("leader's resident memory at start: %s", memory(t, lead))

	// Garbage: random bytes, answered with errors or a closed connection.
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20; i++ {
		junk := make([]byte, 1+rng.IntN(64<<10))
		for j := range junk {
			junk[j] = byte(rng.Uint32())
		}
		sendAndDrain(t, addr, junk)
	}
	alive("garbage")

	// Half a command, then a hang-up: nothing is written.
	for _, half := range []string{"*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$5\r\nval", "*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n", "SET half val"} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(conn, half)
		conn.Close()
	}
	if n, err := rdb.Exists(ctx, "half").Result(); err != nil || n != 0 {
		t.Fatalf("a half-sent SET took effect: EXISTS half = %d, %v", n, err)
	}
	alive("half commands")

	// A 600 MB bulk string: refused after its header with Redis's error,
	// the connection closed, the rest never read.
	r := dialRaw(t, addr)
	r.send("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$629145600\r\n")
	go func() {
		chunk := make([]byte, 1<<20)
		for sent := 0; sent < 600 && r.c.SetWriteDeadline(time.Now().Add(5*time.Second)) == nil; sent++ {
			if _, err := r.c.Write(chunk); err != nil {
				return
			}
		}
	}()
	if got := r.line(); got != "-ERR Protocol error: invalid bulk length\r\n" {
		t.Fatalf("600 MB bulk string: got %q", got)
	}
	if !r.closed() {
		t.Fatal("the connection stayed open after an oversized bulk string")
	}
	alive("a 600 MB bulk string")

	// A command past the query buffer limit: disconnected, unanswered, not
	// written.
	r = dialRaw(t, addr)
	go func() {
		r.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(r.c, "*3\r\n$3\r\nSET\r\n$4\r\nhuge\r\n$%d\r\n", queryLimit+1<<20)
		r.c.Write(make([]byte, queryLimit+1<<20))
	}()
	if !r.closed() {
		t.Fatal("a command past --max-query-buffer was not disconnected")
	}
	if n, err := rdb.Exists(ctx, "huge").Result(); err != nil || n != 0 {
		t.Fatalf("a command past the query buffer limit took effect: EXISTS huge = %d, %v", n, err)
	}
	alive("a command past the query buffer limit")
	t.Logf("after garbage, half commands and oversized input: %s", memory(t, lead))

	// 10,000 connections at once, each served a PING, all held open.
	held := make([]net.Conn, conns)
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	sem := make(chan struct{}, 200)
	for i := range held {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err != nil {
				errs <- err
				return
			}
			held[i] = conn
			conn.SetDeadline(time.Now().Add(30 * time.Second))
			io.WriteString(conn, "PING\r\n")
			if l, err := bufio.NewReader(conn).ReadString('\n'); err != nil || l != "+PONG\r\n" {
				errs <- fmt.Errorf("PING: %q, %v", l, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	var failed int
	for err := range errs {
		if failed++; failed == 1 {
			t.Errorf("one of %d connections: %v", conns, err)
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d connections failed", failed, conns)
	}
	s, err := rdb.Info(ctx, "clients").Result()
	_, v, _ := strings.Cut(s, "connected_clients:")
	if got, _ := strconv.Atoi(strings.TrimSpace(v)); err != nil || got <= conns {
		t.Fatalf("INFO clients with %d connections open (and one more): %q, %v", conns, s, err)
	}
	// Past --maxclients, a connection is told so, as by Redis.
	var refused int
	for range 100 {
		conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, conn)
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		io.WriteString(conn, "PING\r\n")
		switch l, err := bufio.NewReader(conn).ReadString('\n'); {
		case l == "-ERR max number of clients reached\r\n":
			refused++
		case err != nil || l != "+PONG\r\n":
			t.Fatalf("a connection near --maxclients read %q, %v", l, err)
		}
	}
	if refused < 50 {
		t.Fatalf("%d of 100 connections past %d were refused", refused, maxClients)
	}
	alive("10,000 connections")
	t.Logf("with %d connections open: %s", conns, memory(t, lead))
	for _, conn := range held {
		conn.Close()
	}

	// A pipeline of 100,000 writes, read while it is sent: every reply
	// arrives, in order.
	const n = 100000
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Minute))
	start := time.Now()
	go func() {
		w := bufio.NewWriterSize(conn, 64<<10)
		for i := 0; i < n; i++ {
			fmt.Fprintf(w, "*3\r\n$3\r\nSET\r\n$4\r\npipe\r\n$%d\r\n%d\r\n", len(strconv.Itoa(i)), i)
		}
		w.Flush()
	}()
	rd := bufio.NewReader(conn)
	for i := 0; i < n; i++ {
		if l, err := rd.ReadString('\n'); err != nil || l != "+OK\r\n" {
			t.Fatalf("reply %d of the pipeline: %q, %v", i, l, err)
		}
	}
	t.Logf("a pipeline of %d SETs answered in %v", n, time.Since(start).Round(time.Millisecond))
	if got, err := rdb.Get(ctx, "pipe").Result(); err != nil || got != strconv.Itoa(n-1) {
		t.Fatalf("after a pipeline of %d SETs: GET pipe = %q, %v", n, got, err)
	}

	// A pipeline of 100,000 commands whose replies are never read: the
	// node stops reading that client when its replies back up, and goes on
	// serving everyone else.
	conn2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn2.SetWriteDeadline(time.Now().Add(10 * time.Second))
	conn2.Write([]byte(strings.Repeat("*2\r\n$3\r\nGET\r\n$4\r\npipe\r\n", n)))
	alive("a pipeline whose replies are not read")
	conn2.Close()
	alive("pipelines of 100,000 commands")

	peak := memory(t, lead)
	t.Logf("after pipelines: %s", peak)
	const bound = 512 << 20
	if hwm := residentPeak(t, lead); hwm > bound {
		t.Fatalf("the leader's peak resident memory was %d MiB, above %d MiB", hwm>>20, bound>>20)
	}
	if c.leader() != lead {
		t.Fatal("leadership changed under hostile clients")
	}
}

// sendAndDrain sends b on a new connection, reads whatever comes back until
// the node closes the connection or goes quiet, and closes it.
func sendAndDrain(t *testing.T, addr string, b []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		io.Copy(io.Discard, conn)
	}()
	conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
	conn.Write(b)
	<-done
}

// memory describes p's resident memory now and at its peak.
func memory(t *testing.T, p *proc) string {
	rss, hwm := procStatus(t, p, "VmRSS"), procStatus(t, p, "VmHWM")
	return fmt.Sprintf("resident %d MiB, peak %d MiB", rss>>20, hwm>>20)
}

func residentPeak(t *testing.T, p *proc) int64 { return procStatus(t, p, "VmHWM") }

// procStatus reads a size field of /proc/<pid>/status, in bytes.
func procStatus(t *testing.T, p *proc, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("read node %d's memory: %v", p.id, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("%s: %q", field, line)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, p.cmd.Process.Pid)
	return 0
}
