// Package testport finds free TCP ports on 127.0.0.1 for tests, and the
// benchmark harness, that hand an address to something that binds it
// later: a server process, or a transport started once its peers'
// addresses are known.
//
// The port a listener on port 0 gets comes from the range the kernel also
// takes the local ports of outgoing connections from
// (/proc/sys/net/ipv4/ip_local_port_range). Once that listener is closed,
// any connection opened meanwhile, by this test or by another package's
// tests running beside it, may take the port before its user binds it,
// which then fails with "address already in use". Free draws its ports
// from below that range instead, where only listeners that ask for a port
// by its number go.
package testport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// Free returns n distinct TCP ports on 127.0.0.1 that were free a moment
// ago, outside the kernel's range for the local ports of connections; the
// test fails when it finds none.
func Free(t testing.TB, n int) []int {
	t.Helper()
	ports, err := Ports(n)
	if err != nil {
		t.Fatal(err)
	}
	return ports
}

// Ports is Free for callers that are not tests (the benchmark harness).
func Ports(n int) ([]int, error) {
	from, to := portRange(ephemeralRange())
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		port := 0 // the kernel's choice, when there is no room outside its range
		if to > from {
			if tries == 100*n {
				return nil, fmt.Errorf("no %d free ports among %d-%d after %d tries", n, from, to-1, tries)
			}
			port = from + rand.IntN(to-from)
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			if port == 0 {
				return nil, fmt.Errorf("find a free port: %w", err)
			}
			continue // taken
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Addrs returns n distinct addresses (host:port) as Free finds them.
func Addrs(t testing.TB, n int) []string {
	t.Helper()
	addrs := make([]string, n)
	for i, port := range Free(t, n) {
		addrs[i] = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	}
	return addrs
}

// minRoom is the fewest ports a range must hold for Free to draw from it.
const minRoom = 1000

// portRange is where Free draws ports from, [from, to), given the
// kernel's range for connections' local ports, [lo, hi]: from 10000 up to
// it, or above it when too little is left below; empty when neither has
// minRoom ports.
func portRange(lo, hi int) (from, to int) {
	if lo-10000 >= minRoom {
		return 10000, lo
	}
	if 65535-hi >= minRoom {
		return hi + 1, 65536
	}
	return 0, 0
}

// ephemeralRange is the kernel's range for the local ports of outgoing
// connections; Linux's default where it cannot be read.
func ephemeralRange() (lo, hi int) {
	lo, hi = 32768, 60999
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return lo, hi
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return lo, hi
	}
	l, err1 := strconv.Atoi(f[0])
	h, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || l > h {
		return lo, hi
	}
	return l, h
}
