package engine

import (
	"runtime"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/sys/unix"
)

// walCategory is the write category pebble creates write-ahead log files
// with.
const walCategory vfs.DiskWriteCategory = "pebble-wal"

// heldSyncFS hands out write-ahead log files whose SyncData keeps the Go
// processor of the goroutine that calls it (Options.HoldProcessorInSync).
// Every other file, and every other call, goes to the file system below.
type heldSyncFS struct{ vfs.FS }

func (fs heldSyncFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	return holdSync(f, category), err
}

func (fs heldSyncFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, category)
	return holdSync(f, category), err
}

// holdSync wraps f if it is a write-ahead log with a file descriptor.
func holdSync(f vfs.File, category vfs.DiskWriteCategory) vfs.File {
	if f == nil || category != walCategory || f.Fd() == vfs.InvalidFd {
		return f
	}
	return heldSyncFile{f}
}

type heldSyncFile struct{ vfs.File }

// heldSyncs counts the syncs of heldSyncFiles, for tests.
var heldSyncs atomic.Uint64

// SyncData is fdatasync(2) made without telling Go's scheduler that the
// thread is in a system call: the processor stays with it, and no other
// thread is woken to take it over while the disk works. That is for a
// process with one processor at the time of the sync; with more (a
// leader given more, conf.LeaderMaxProcs), the others are to go on
// meanwhile, and it is an ordinary system call.
func (f heldSyncFile) SyncData() error {
	if runtime.GOMAXPROCS(0) != 1 {
		return f.File.SyncData()
	}
	heldSyncs.Add(1)
	if _, _, errno := unix.RawSyscall(unix.SYS_FDATASYNC, f.Fd(), 0, 0); errno != 0 {
		return errno
	}
	return nil
}
