package resp

import (
	"bufio"
	"fmt"
	"net"
	"testing"
)

// BenchmarkPipelinedSet measures the RESP front end alone: pipelines of
// 100 SETs over loopback to a server whose backend applies them in
// memory, with every reply read.
func BenchmarkPipelinedSet(b *testing.B) {
	req := numbered(100, "*3\r\n$3\r\nSET\r\n$8\r\nkey:%04d\r\n$5\r\nvalue\r\n")
	benchPipeline(b, newFake(), req, 100, "+OK\r\n")
}

// BenchmarkSet is BenchmarkPipelinedSet one SET at a time: each is served
// alone, as from a client that waits for every reply.
func BenchmarkSet(b *testing.B) {
	benchPipeline(b, newFake(), []byte("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"), 1, "+OK\r\n")
}

// BenchmarkPipelinedGet is BenchmarkPipelinedSet for GETs of a missing
// key: each is served on its own, with a read barrier and a lookup.
func BenchmarkPipelinedGet(b *testing.B) {
	req := numbered(100, "*2\r\n$3\r\nGET\r\n$8\r\nkey:%04d\r\n")
	benchPipeline(b, newFake(), req, 100, "$-1\r\n")
}

// numbered is n commands made from format, each given its number.
func numbered(n int, format string) []byte {
	var req []byte
	for i := range n {
		req = fmt.Appendf(req, format, i)
	}
	return req
}

func benchPipeline(b *testing.B, f *fakeBackend, req []byte, pipeline int, reply string) {
	s, _ := startServer(b, f)
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	rd := bufio.NewReader(conn)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := conn.Write(req); err != nil {
			b.Fatal(err)
		}
		for range pipeline {
			if l, err := rd.ReadString('\n'); err != nil || l != reply {
				b.Fatalf("reply %q, %v", l, err)
			}
		}
	}
	b.ReportMetric(float64(b.N*pipeline)/b.Elapsed().Seconds(), "commands/s")
}
