package resp

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDeadlinesShareAContextWithinASpan(t *testing.T) {
	d := newDeadlines(5 * time.Second)
	if d.span != 100*time.Millisecond {
		t.Fatalf("span %v for a 5 s timeout, want 100ms", d.span)
	}
	if s := newDeadlines(time.Second).span; s != 20*time.Millisecond {
		t.Fatalf("span %v for a 1 s timeout, want 20ms (a fiftieth)", s)
	}
	t0 := time.Now()
	a := d.get(t0)
	if b := d.get(t0.Add(99 * time.Millisecond)); b != a {
		t.Fatal("commands 99 ms apart got different contexts")
	}
	c := d.get(t0.Add(100 * time.Millisecond))
	if c == a {
		t.Fatal("a command a whole span later got the old context")
	}
	for _, tc := range []struct {
		ctx   context.Context
		start time.Time
	}{{a, t0}, {a, t0.Add(99 * time.Millisecond)}, {c, t0.Add(100 * time.Millisecond)}} {
		dl, ok := tc.ctx.Deadline()
		if left := dl.Sub(tc.start); !ok || left > d.timeout || left <= d.timeout-d.span {
			t.Errorf("a command starting at +%v got a deadline %v after it, want within (%v, %v]", tc.start.Sub(t0), left, d.timeout-d.span, d.timeout)
		}
	}
}

func TestDeadlineEnds(t *testing.T) {
	d := newDeadlines(50 * time.Millisecond)
	ctx := d.get(time.Now())
	select {
	case <-ctx.Done():
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("ended with %v", ctx.Err())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a 50 ms request context still open after 5 s")
	}
}
