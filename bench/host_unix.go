//go:build unix

package main

import (
	"fmt"
	"os"
	"slices"
	"syscall"
	"time"
)

// hostCosts measures what this host charges for what the systems under
// test do most per request: entering the kernel, a read that finds a
// socket empty (a Go connection makes one per request before it waits for
// the next), and a synced append to a file in dir. raftkv's leader makes
// several system calls a request where redis-server makes about two, so
// on a host that traps them (a virtual machine whose guest kernel runs
// apart from its processes) the ratios move with their cost: the report
// gives it beside them.
func hostCosts(dir string) (string, error) {
	const calls = 100_000
	start := time.Now()
	for range calls {
		syscall.Getppid()
	}
	call := time.Since(start) / calls

	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		return "", fmt.Errorf("socketpair: %w", err)
	}
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])
	if err := syscall.SetNonblock(fds[0], true); err != nil {
		return "", fmt.Errorf("set non-blocking: %w", err)
	}
	buf := make([]byte, 16)
	start = time.Now()
	for range calls {
		if _, err := syscall.Read(fds[0], buf); err != syscall.EAGAIN {
			return "", fmt.Errorf("read of an empty socket: got %v, want EAGAIN", err)
		}
	}
	empty := time.Since(start) / calls

	f, err := os.CreateTemp(dir, "fsync-")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	block := make([]byte, 4096)
	syncs := make([]time.Duration, 200)
	for i := range syncs {
		start := time.Now()
		if _, err := f.Write(block); err != nil {
			return "", err
		}
		if err := f.Sync(); err != nil {
			return "", err
		}
		syncs[i] = time.Since(start)
	}
	slices.Sort(syncs)
	return fmt.Sprintf("Host: a system call %.2f us (getppid), a read of an empty socket %.2f us, a 4 KiB append and fsync %.2f ms (p50 of %d).",
		us(call), us(empty), float64(syncs[len(syncs)/2].Microseconds())/1000, len(syncs)), nil
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }
