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

func TestCheckListsCatchesAnomalies(t *testing.T) {
	appends := []porcupine.Operation{
		op(0, 10, "append", "l", "a;", ""),
		op(20, 30, "append", "l", "b;", ""),
		op(40, 50, "append", "l", "c;", "?"),
	}
	cases := []struct {
		name  string
		final string
		reads []porcupine.Operation
		err   string
	}{
		{"all in order", "a;b;", nil, ""},
		{"the unknown append happened", "a;b;c;", nil, ""},
		{"reads of prefixes in time", "a;b;c;", []porcupine.Operation{
			op(5, 6, "get", "l", "", ""), op(11, 12, "get", "l", "", "a;"), op(25, 60, "get", "l", "", "a;b;c;")}, ""},
		{"a read concurrent with an append may miss it", "a;b;", []porcupine.Operation{op(21, 29, "get", "l", "", "a;")}, ""},
		{"acknowledged append lost", "a;", nil, "acknowledged APPEND of \"b;\" to l is lost"},
		{"element twice", "a;b;b;", nil, "holds element \"b;\" twice"},
		{"element never appended", "a;b;z;", nil, "that no client appended"},
		{"appends out of real-time order", "b;a;", nil, "not linearizable"},
		{"partial element", "a;b;c", nil, "partial element"},
		{"read of a value that is no prefix", "a;b;", []porcupine.Operation{op(31, 32, "get", "l", "", "b;")}, "not a prefix"},
		{"read misses an append acknowledged before it", "a;b;", []porcupine.Operation{op(31, 32, "get", "l", "", "a;")}, "not linearizable"},
		{"read sees an append not yet sent", "a;b;", []porcupine.Operation{op(11, 12, "get", "l", "", "a;b;")}, "not linearizable"},
		{"reads going back in time", "a;b;", []porcupine.Operation{
			op(21, 22, "get", "l", "", "a;b;"), op(23, 24, "get", "l", "", "a;")}, "not linearizable"},
	}
	for _, c := range cases {
		ops := append(append([]porcupine.Operation(nil), appends...), c.reads...)
		acked, _, reads, err := checkLists(ops, map[string]string{"l": c.final})
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.err == "" && (acked != 2 || reads != len(c.reads)):
			t.Errorf("%s: %d acknowledged appends and %d reads counted, want 2 and %d", c.name, acked, reads, len(c.reads))
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.err)
		}
	}
}
