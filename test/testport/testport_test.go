package testport

import (
	"net"
	"strconv"
	"testing"
)

func TestPortRange(t *testing.T) {
	for _, c := range []struct{ lo, hi, from, to int }{
		{32768, 60999, 10000, 32768}, // Linux's default: below it
		{49152, 65535, 10000, 49152}, // the IANA range
		{10500, 60000, 60001, 65536}, // little room below: above it
		{1024, 65000, 0, 0},          // no room either side: the kernel's choice
	} {
		if from, to := portRange(c.lo, c.hi); from != c.from || to != c.to {
			t.Errorf("portRange(%d, %d) = [%d, %d), want [%d, %d)", c.lo, c.hi, from, to, c.from, c.to)
		}
	}
}

// TestFree: the ports are distinct, outside the kernel's range for
// connections' local ports, and free to bind once Free returns.
func TestFree(t *testing.T) {
	lo, hi := ephemeralRange()
	from, to := portRange(lo, hi)
	ports := Free(t, 20)
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] {
			t.Fatalf("port %d returned twice: %v", p, ports)
		}
		seen[p] = true
		if to > from && (p < from || p >= to) {
			t.Errorf("port %d outside [%d, %d) (connections take [%d, %d])", p, from, to, lo, hi)
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("bind port %d that Free returned: %v", p, err)
		}
		l.Close()
	}
}
