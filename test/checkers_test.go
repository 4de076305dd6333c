package test

import (
	"strings"
	"testing"

	"github.com/anishathalye/porcupine"
)

// The checkers must catch what they are there to catch: each history below
// is built by hand, and the bad ones must be refused.

// op builds a porcupine operation by client 0 called at call and returned
// at ret; out "?" marks an unknown outcome, completed after everything.
func op(call, ret int64, kind, key, value, out string) porcupine.Operation {
	o := kvOutput{Value: out}
	if out == "?" {
		o = kvOutput{Unknown: true}
		ret = 1 << 40
	}
	return porcupine.Operation{Call: call, Return: ret, Input: kvInput{kind, key, value}, Output: o}
}

func TestKVModelCatchesAnomalies(t *testing.T) {
	cases := []struct {
		name string
		ok   bool
		ops  []porcupine.Operation
	}{
		{"read after write", true, []porcupine.Operation{
			op(0, 1, "set", "x", "a", ""), op(2, 3, "get", "x", "", "a")}},
		{"stale read", false, []porcupine.Operation{
			op(0, 1, "set", "x", "a", ""), op(2, 3, "set", "x", "b", ""), op(4, 5, "get", "x", "", "a")}},
		{"read of a value never written", false, []porcupine.Operation{
			op(0, 1, "set", "x", "a", ""), op(2, 3, "get", "x", "", "z")}},
		{"concurrent write seen, then not", false, []porcupine.Operation{
			op(0, 10, "set", "x", "a", ""), op(1, 2, "get", "x", "", "a"), op(3, 4, "get", "x", "", "")}},
		{"concurrent write not seen, then seen", true, []porcupine.Operation{
			op(0, 10, "set", "x", "a", ""), op(1, 2, "get", "x", "", ""), op(3, 4, "get", "x", "", "a")}},
		{"two SET NX both win", false, []porcupine.Operation{
			op(0, 1, "setnx", "x", "a", "ok"), op(2, 3, "setnx", "x", "b", "ok")}},
		{"SET NX loses to an earlier write", true, []porcupine.Operation{
			op(0, 1, "set", "x", "a", ""), op(2, 3, "setnx", "x", "b", ""), op(4, 5, "get", "x", "", "a")}},
		{"GETSET returns a stale value", false, []porcupine.Operation{
			op(0, 1, "set", "x", "a", ""), op(2, 3, "set", "x", "b", ""), op(4, 5, "getset", "x", "c", "a")}},
		{"lost APPEND", false, []porcupine.Operation{
			op(0, 1, "append", "x", "1;", ""), op(2, 3, "append", "x", "2;", ""), op(4, 5, "get", "x", "", "2;")}},
		{"unknown write may have happened", true, []porcupine.Operation{
			op(0, 1, "set", "x", "a", "?"), op(2, 3, "get", "x", "", "a")}},
		{"unknown write may not have happened", true, []porcupine.Operation{
			op(0, 1, "set", "x", "a", "?"), op(2, 3, "get", "x", "", "")}},
		{"keys are independent", true, []porcupine.Operation{
			op(0, 1, "set", "x", "a", ""), op(2, 3, "get", "y", "", ""), op(4, 5, "get", "x", "", "a")}},
	}
	for _, c := range cases {
		if got := porcupine.CheckOperations(kvModel, c.ops); got != c.ok {
			t.Errorf("%s: linearizable = %v, want %v", c.name, got, c.ok)
		}
	}
}

func TestCheckAppendsCatchesAnomalies(t *testing.T) {
	ops := []porcupine.Operation{
		op(0, 1, "append", "l", "a;", ""),
		op(2, 3, "append", "l", "b;", ""),
		op(4, 5, "append", "l", "c;", "?"),
	}
	cases := []struct{ final, err string }{
		{"a;b;", ""},
		{"a;b;c;", ""},
		{"a;", "acknowledged APPEND of \"b;\" to l is lost"},
		{"a;b;b;", "holds element \"b;\" twice"},
		{"a;b;z;", "that no client appended"},
		{"b;a;", "yet comes after it"},
		{"a;b;c", "partial element"},
	}
	for _, c := range cases {
		acked, _, err := checkAppends(ops, map[string]string{"l": c.final})
		switch {
		case c.err == "" && err != nil:
			t.Errorf("final %q: %v", c.final, err)
		case c.err == "" && acked != 2:
			t.Errorf("final %q: %d acknowledged appends counted, want 2", c.final, acked)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("final %q: error %v, want one saying %q", c.final, err, c.err)
		}
	}
}
