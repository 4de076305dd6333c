package main

import (
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestStatCPU(t *testing.T) {
	// A command name with spaces and parentheses, as a process may give
	// itself; utime 1234 and stime 56 are fields 14 and 15.
	stat := "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 900 0 0 0 1234 56 0 0 20 0 7 0 100 1000 10 18446744073709551615\n"
	ticks, err := statCPU(stat)
	if err != nil || ticks != 1290 {
		t.Fatalf("statCPU = %d, %v; want 1290", ticks, err)
	}
	for _, bad := range []string{"", "4242 no name S 1", "4242 (x) S 1 2 3", "4242 (x) S 1 4242 4242 0 -1 4194560 900 0 0 0 u 56 0"} {
		if _, err := statCPU(bad); err == nil {
			t.Errorf("statCPU(%q) succeeded", bad)
		}
	}
}

func TestCPUTimes(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system: the harness measures CPU time only on Linux")
	}
	pid := os.Getpid()
	before, ok := cpuTimes([]int{pid, pid})
	if !ok || len(before) != 2 {
		t.Fatalf("cpuTimes of this process: %v, %v", before, ok)
	}
	// Spin until the kernel has charged this process a tick more.
	deadline := time.Now().Add(10 * time.Second)
	var after []time.Duration
	for x := 0; time.Now().Before(deadline); x++ {
		if x%1_000_000 == 0 {
			if after, ok = cpuTimes([]int{pid}); !ok {
				t.Fatal("cpuTimes of this process failed")
			}
			if after[0] > before[0] {
				break
			}
		}
	}
	if after[0] <= before[0] {
		t.Fatalf("CPU time did not grow while spinning: %v then %v", before[0], after[0])
	}
	if _, ok := cpuTimes([]int{pid, 0}); ok {
		t.Fatal("cpuTimes succeeded with a process that does not exist")
	}
	if _, ok := cpuTimes(nil); ok {
		t.Fatal("cpuTimes succeeded with no process")
	}

	r := result{cpu: []time.Duration{3 * time.Millisecond, time.Millisecond}}
	if got := r.perRequest(-1, 100); got != 40 {
		t.Errorf("perRequest(-1) = %v us, want 40", got)
	}
	if got := r.perRequest(1, 100); got != 10 {
		t.Errorf("perRequest(1) = %v us, want 10", got)
	}
	if got := (result{client: 5 * time.Millisecond}).clientPerRequest(100); got != 50 {
		t.Errorf("clientPerRequest = %v us, want 50", got)
	}
	if got := (result{}).perRequest(-1, 100); got != 0 || micros(got) != "-" {
		t.Errorf("perRequest without CPU times = %v (%q), want 0 (\"-\")", got, micros(got))
	}
	table := nodeCPU(target{pids: []int{1, 2}, leader: 1, name: "raftkv"}, map[string]map[string]result{rows[0].name: {"raftkv": r}}, 100)
	if !strings.Contains(table, "| SET -c 50 | 30.0 | 10.0* |") {
		t.Errorf("nodeCPU table:\n%s", table)
	}
}

func TestNodeSettings(t *testing.T) {
	for _, c := range []struct {
		env  []string
		want string
	}{
		{[]string{"PATH=/bin", "MALLOC_ARENA_MAX=2", "GODEBUG=schedtrace=2147483647"},
			"Each raftkv node runs with --max-procs 1 (2 as the leader) and MALLOC_ARENA_MAX=2 GODEBUG=schedtrace=2147483647."},
		{[]string{"GODEBUG=schedtrace=0", "MALLOC_ARENA_MAX=4", "GODEBUG=gctrace=1"},
			"Each raftkv node runs with --max-procs 1 (2 as the leader) and MALLOC_ARENA_MAX=4 GODEBUG=gctrace=1."},
		{[]string{"PATH=/bin"}, "Each raftkv node runs with --max-procs 1 (2 as the leader)."},
	} {
		if got := nodeSettings(1, c.env); got != c.want {
			t.Errorf("nodeSettings(1, %q) = %q, want %q", c.env, got, c.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	ms := time.Millisecond
	rounds := []result{
		{rps: 30, p50: 3, p99: 30, cpu: []time.Duration{3 * ms, 6 * ms}, client: 3 * ms},
		{rps: 10, p50: 1, p99: 10, cpu: []time.Duration{1 * ms, 2 * ms}, client: 1 * ms},
		{rps: 20, p50: 2, p99: 20, cpu: []time.Duration{2 * ms, 4 * ms}, client: 2 * ms},
	}
	s := summarize(rounds)
	// The median round by throughput gives the rates and latencies; CPU
	// times are the mean over all rounds.
	if s.rps != 20 || s.p50 != 2 || s.p99 != 20 {
		t.Errorf("summarize: rps %v p50 %v p99 %v, want the median round's 20, 2, 20", s.rps, s.p50, s.p99)
	}
	if len(s.cpu) != 2 || s.cpu[0] != 2*ms || s.cpu[1] != 4*ms || s.client != 2*ms || s.err != nil {
		t.Errorf("summarize: cpu %v client %v err %v, want [2ms 4ms] 2ms nil", s.cpu, s.client, s.err)
	}
	if rounds[0].rps != 30 {
		t.Error("summarize reordered its argument")
	}
	// Two rounds: the lower of the middle two. A round without CPU times
	// leaves the summary without any; an error is kept.
	failed := errors.New("refused")
	s = summarize([]result{{rps: 40, cpu: []time.Duration{ms}}, {rps: 50, err: failed}})
	if s.rps != 40 || s.cpu != nil || !errors.Is(s.err, failed) {
		t.Errorf("summarize of two rounds = %+v, want rps 40, no CPU times, the error", s)
	}
	if s := summarize(nil); s.rps != 0 || s.cpu != nil || s.err != nil {
		t.Errorf("summarize(nil) = %+v, want the zero result", s)
	}
}

func TestRatioCell(t *testing.T) {
	for _, c := range []struct {
		ratios []float64
		want   string
	}{
		{nil, "-"},
		{[]float64{0.5}, "50%"},
		{[]float64{0.52, 0.44, 0.47}, "47% (44-52%)"},
		{[]float64{0.6, 0.4}, "40% (40-60%)"},
	} {
		if got := ratioCell(c.ratios); got != c.want {
			t.Errorf("ratioCell(%v) = %q, want %q", c.ratios, got, c.want)
		}
	}
}

func TestHostCosts(t *testing.T) {
	dir := t.TempDir()
	s, err := hostCosts(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s == "" {
		t.Skip("hostCosts measures Unix systems only")
	}
	m := regexp.MustCompile(`^Host: a system call ([0-9.]+) us \(getppid\), a read of an empty socket ([0-9.]+) us, a 4 KiB append and fsync ([0-9.]+) ms \(p50 of 200\)\.$`).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("hostCosts = %q", s)
	}
	for _, v := range m[1:3] {
		if f, err := strconv.ParseFloat(v, 64); err != nil || f <= 0 {
			t.Errorf("hostCosts = %q: a cost of %s us", s, v)
		}
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Errorf("hostCosts left %d files in its folder (%v)", len(entries), err)
	}
	if got := machine(s); !strings.HasSuffix(got, ". "+s) {
		t.Errorf("machine(%q) = %q", s, got)
	}
}
