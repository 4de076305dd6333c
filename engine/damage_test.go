package engine

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/raftkv/raftkv/raft"
)

// fatalCalled is what the tests' Fatal hook panics with.
type fatalCalled string

func noExit(msg string) { panic(fatalCalled(msg)) }

// writeDisk fills a database in dir with n synced log entries of payload
// p, enough for pebble to have flushed some into sstables.
func writeDisk(t *testing.T, dir string, n int, p []byte) *Engine {
	t.Helper()
	e, err := Open(dir, Options{Fatal: noExit})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		if err := e.Save(raft.HardState{Term: 1, Commit: uint64(i)}, []raft.Entry{{Index: uint64(i), Term: 1, Data: p}}, true); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// damaged copies dir to a new folder, changes file name there with
// damage, and returns the copy.
func damaged(t *testing.T, dir, name string, damage func([]byte) []byte) string {
	t.Helper()
	cp := filepath.Join(t.TempDir(), "copy")
	if out, err := exec.Command("cp", "-r", dir, cp).CombinedOutput(); err != nil {
		t.Fatalf("copy: %v: %s", err, out)
	}
	os.Remove(filepath.Join(cp, "LOCK"))
	b, err := os.ReadFile(filepath.Join(cp, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cp, name), damage(b), 0o644); err != nil {
		t.Fatal(err)
	}
	return cp
}

func flipMiddle(b []byte) []byte { b[len(b)/2] ^= 0x10; return b }
func cutInHalf(b []byte) []byte  { return b[:len(b)/2] }

// flipMiddleOfData flips a bit in the middle of what a write-ahead log
// holds before its zero-filled tail (pebble preallocates the file), so
// that the bit is in a record rather than in space not yet written.
func flipMiddleOfData(b []byte) []byte {
	end := len(b)
	for end > 0 && b[end-1] == 0 {
		end--
	}
	b[end/2] ^= 0x10
	return b
}

func filesLike(t *testing.T, dir, suffix string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), suffix) || strings.HasPrefix(e.Name(), suffix) {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names
}

// TestDamagedFilesAreRefused flips bits in and truncates the files of a
// stopped node's database: opening it with Verify fails with ErrCorrupt (or
// pebble's own refusal) and says what to do, and nothing is served from a
// damaged file.
func TestDamagedFilesAreRefused(t *testing.T) {
	payload := bytes.Repeat([]byte("raftkv"), 700)
	dir := filepath.Join(t.TempDir(), "db")
	e := writeDisk(t, dir, 3000, payload)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	ssts := filesLike(t, dir, ".sst")
	if len(ssts) == 0 {
		t.Fatal("no sstables were written; the test needs some")
	}
	for _, name := range ssts {
		_, err := Open(damaged(t, dir, name, flipMiddle), Options{Verify: true, Fatal: noExit})
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "checksum mismatch") || !strings.Contains(err.Error(), rebuildAdvice) {
			t.Errorf("a bit flipped in %s: Open = %v, want ErrCorrupt naming the checksum and what to do", name, err)
		}
		_, err = Open(damaged(t, dir, name, cutInHalf), Options{Verify: true, Fatal: noExit})
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s cut in half: Open = %v, want an error naming it", name, err)
		}
	}
	for _, name := range filesLike(t, dir, "MANIFEST-") {
		for what, damage := range map[string]func([]byte) []byte{"a bit flipped": flipMiddle, "cut in half": cutInHalf} {
			if _, err := Open(damaged(t, dir, name, damage), Options{Verify: true, Fatal: noExit}); err == nil {
				t.Errorf("%s %s: Open succeeded", name, what)
			}
		}
	}

	// Without Verify, the damage is found when read: the node stops (the
	// Fatal hook) or the read fails; no entry comes back wrong.
	cp := damaged(t, dir, ssts[0], flipMiddle)
	d, err := Open(cp, Options{Fatal: noExit})
	if err != nil {
		t.Logf("without Verify, refused at open: %v", err)
		return
	}
	func() {
		defer func() {
			if p := recover(); p != nil {
				if _, ok := p.(fatalCalled); !ok {
					panic(p)
				}
				t.Logf("without Verify, the read stopped the node: %s", p)
			}
		}()
		ents, err := d.Entries(1, 3001, 1<<40)
		for _, ent := range ents {
			if !bytes.Equal(ent.Data, payload) {
				t.Fatalf("entry %d came back damaged", ent.Index)
			}
		}
		if err == nil && len(ents) == 3000 {
			t.Fatalf("every entry read back from a damaged database")
		}
		t.Logf("without Verify, the read failed after %d good entries: %v", len(ents), err)
	}()
}

// TestDamagedLiveLogIsRefused: a bit flipped in the middle of the newest
// write-ahead log of a node that crashed (its files copied while open) is
// refused. (A log cut short at its end is what a crash mid-write leaves,
// and is recovered as one: pebble cannot tell the two apart.)
func TestDamagedLiveLogIsRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	e := writeDisk(t, dir, 3000, []byte("entry"))
	defer e.Close()
	logs := filesLike(t, dir, ".log")
	newest := logs[len(logs)-1]
	_, err := Open(damaged(t, dir, newest, flipMiddleOfData), Options{Verify: true, Fatal: noExit})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), rebuildAdvice) {
		t.Fatalf("a bit flipped in the live log %s: Open = %v, want ErrCorrupt with what to do", newest, err)
	}
	// The crash image itself opens with every synced entry.
	d, err := Open(damaged(t, dir, newest, func(b []byte) []byte { return b }), Options{Verify: true, Fatal: noExit})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if last, _ := d.LastIndex(); last != 3000 {
		t.Fatalf("the crash image holds entries to %d, want 3000", last)
	}
}
