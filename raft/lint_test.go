package raft

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestCoreIsPure keeps the promise of doc.go: the core has no goroutines,
// clocks, network or disk. Only the driver (node*.go) and tests may use
// them.
func TestCoreIsPure(t *testing.T) {
	forbidden := map[string]bool{"time": true, "net": true, "os": true, "sync": true, "sync/atomic": true, "context": true}
	files, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, f := range files {
		name := f.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") || strings.HasPrefix(name, "node") {
			continue
		}
		if name == "storage.go" {
			continue // MemoryStorage is a test double, safe for concurrent use
		}
		checked++
		fset := token.NewFileSet()
		file, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range file.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if forbidden[path] {
				t.Errorf("%s imports %q: the core must stay deterministic", fset.Position(imp.Pos()), path)
			}
		}
		ast.Inspect(file, func(n ast.Node) bool {
			if g, ok := n.(*ast.GoStmt); ok {
				t.Errorf("%s starts a goroutine: the core must stay single-threaded", fset.Position(g.Pos()))
			}
			return true
		})
	}
	if checked < 5 {
		t.Fatalf("checked only %d core files; did the layout change?", checked)
	}
}
