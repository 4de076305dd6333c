package test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/redis/go-redis/v9"
)

// kvInput is one operation on one key.
type kvInput struct {
	Op    string // "get", "set", "setnx" (SET NX), "getset" or "append"
	Key   string
	Value string
}

// kvOutput is what the operation returned: GET's and GETSET's value ("" for
// nil: the workload never writes an empty value), and "ok" or "" for
// whether SET NX wrote. Unknown marks a write whose outcome is unknown (a
// timeout or lost connection): it may or may not have taken effect, so its
// completion is placed after every other operation and its output is not
// checked.
type kvOutput struct {
	Value   string
	Unknown bool
}

// kvModel is a register per key with GET, SET, SET NX, GETSET and APPEND,
// partitioned by key so each key is checked on its own.
var kvModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(kvInput).Key
			byKey[k] = append(byKey[k], op)
		}
		keys := make([]string, 0, len(byKey))
		for k := range byKey {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(string), input.(kvInput), output.(kvOutput)
		switch in.Op {
		case "get":
			return out.Value == s, s
		case "set":
			return true, in.Value
		case "setnx":
			wrote := s == ""
			next := s
			if wrote {
				next = in.Value
			}
			return out.Unknown || (out.Value == "ok") == wrote, next
		case "getset":
			return out.Unknown || out.Value == s, in.Value
		default: // append
			return true, s + in.Value
		}
	},
	Equal: func(a, b any) bool { return a.(string) == b.(string) },
	DescribeOperation: func(input, output any) string {
		in, out := input.(kvInput), output.(kvOutput)
		switch {
		case in.Op == "get":
			return fmt.Sprintf("get(%s) -> %q", in.Key, out.Value)
		case out.Unknown:
			return fmt.Sprintf("%s(%s, %q) -> ?", in.Op, in.Key, in.Value)
		case in.Op == "setnx" || in.Op == "getset":
			return fmt.Sprintf("%s(%s, %q) -> %q", in.Op, in.Key, in.Value, out.Value)
		}
		return fmt.Sprintf("%s(%s, %q)", in.Op, in.Key, in.Value)
	},
}

// history records operations with their invocation and completion times.
type history struct {
	mu    sync.Mutex
	start time.Time
	ops   []porcupine.Operation
}

func (h *history) now() int64 { return int64(time.Since(h.start)) }

func (h *history) add(op porcupine.Operation) {
	h.mu.Lock()
	h.ops = append(h.ops, op)
	h.mu.Unlock()
}

// snapshot returns a copy of the operations recorded so far.
func (h *history) snapshot() []porcupine.Operation {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]porcupine.Operation(nil), h.ops...)
}

// outputDir is where a failed check leaves its files: $RAFTKV_TEST_OUTPUT,
// or a new folder that outlives the test.
func outputDir(t *testing.T) string {
	if dir := os.Getenv("RAFTKV_TEST_OUTPUT"); dir != "" {
		os.MkdirAll(dir, 0o755)
		return dir
	}
	dir, err := os.MkdirTemp("", "raftkv-test-output-")
	if err != nil {
		t.Logf("create an output folder: %v", err)
		return os.TempDir()
	}
	return dir
}

// checkLinearizable runs porcupine over ops (a snapshot of a history,
// whose unknown outcomes it completes at the end). Ok passes; Unknown (the
// checker ran out of time) fails, as an unproven history is not a proven
// one. On failure the operations and porcupine's visualisation are written
// to the output folder and named.
func checkLinearizable(t *testing.T, ops []porcupine.Operation) {
	t.Helper()
	end := int64(0)
	for _, op := range ops {
		end = max(end, op.Return)
	}
	for i := range ops {
		if ops[i].Output.(kvOutput).Unknown {
			ops[i].Return = end + 1
		}
	}
	res, info := porcupine.CheckOperationsVerbose(kvModel, ops, 2*time.Minute)
	if res == porcupine.Ok {
		t.Logf("history of %d operations is linearizable (porcupine)", len(ops))
		return
	}
	dir := outputDir(t)
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	histPath := filepath.Join(dir, name+"-history.json")
	if b, err := json.Marshal(ops); err == nil {
		os.WriteFile(histPath, b, 0o644)
	}
	if res == porcupine.Unknown {
		t.Fatalf("linearizability check of %d operations did not finish in time; history: %s", len(ops), histPath)
	}
	vis := filepath.Join(dir, name+"-history.html")
	if err := porcupine.VisualizePath(kvModel, info, vis); err != nil {
		t.Logf("write visualisation: %v", err)
	}
	t.Fatalf("history of %d operations is NOT linearizable; visualisation: %s; history: %s", len(ops), vis, histPath)
}

// doer is what runs a command: a plainClient, or go-redis's ClusterClient
// for reads.
type doer interface {
	Do(ctx context.Context, args ...any) *redis.Cmd
}

// run performs one operation and returns it as a porcupine operation; ok
// is false for a failed read, which had no effect and is left out. A
// failed write is recorded with an unknown outcome.
func run(cc doer, client int, in kvInput, h *history) (op porcupine.Operation, ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	call := h.now()
	var out kvOutput
	var err error
	switch in.Op {
	case "get":
		out.Value, err = cc.Do(ctx, "GET", in.Key).Text()
	case "set":
		err = cc.Do(ctx, "SET", in.Key, in.Value).Err()
	case "setnx":
		if err = cc.Do(ctx, "SET", in.Key, in.Value, "NX").Err(); err == nil {
			out.Value = "ok"
		}
	case "getset":
		out.Value, err = cc.Do(ctx, "GETSET", in.Key, in.Value).Text()
	case "append":
		err = cc.Do(ctx, "APPEND", in.Key, in.Value).Err()
	}
	if errors.Is(err, redis.Nil) {
		out.Value, err = "", nil
	}
	ret := h.now()
	if err != nil {
		if in.Op == "get" {
			return op, false
		}
		out = kvOutput{Unknown: true}
	}
	return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}, true
}
