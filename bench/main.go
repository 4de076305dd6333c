// Command bench measures raftkv side by side with redis-server in one run.
//
//	go run ./bench                 the full matrix, 100,000 requests a row,
//	                               three rounds of each
//	go run ./bench -quick          a smoke run: a few thousand requests a row
//	go run ./bench -compare name=host:port,...
//	                               also measure other systems already running
//	go run ./bench -long           the many-keys run: 5,000,000 SETs over a
//	                               million keys, with peak memory, disk,
//	                               CPU time per request and the storage
//	                               engine's write amplification
//
// It builds raftkv, starts a local 3-node cluster with default (durable,
// linearizable) settings and a redis-server with appendfsync always, both
// on loopback ports of their own, runs the same redis-benchmark rows
// against each, the systems taking turns -rounds times a row, and prints
// one table of throughput, p50 and p99 latency (each system's median
// round), the CPU time the system's own processes spent per request (the
// mean of the rounds) and the raftkv/redis ratio (the median of the
// rounds' ratios, with their range), then raftkv's CPU time per request
// node by node (on a host whose pace changes from minute to minute, the
// ratio of two runs made back to back holds better than either figure);
// the tables are also written to -out. Before the rows, each system takes
// -warmup SETs that are not measured: a fresh raftkv node creates its
// first write-ahead log files as they fill, and its syncs cost more until
// pebble starts recycling them. Every process it started is stopped, and
// its data removed, when it ends or is interrupted.
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/raftkv/raftkv/conf"
	"github.com/raftkv/raftkv/test/testport"
)

// row is one redis-benchmark run, given the same way to every system.
type row struct {
	name string
	args []string
	// share is the part of -n this row sends (the latency rows send fewer).
	share float64
	large bool // left out of -quick runs
}

// requests is how many requests the row sends when rows send n.
func (r row) requests(n int) int { return max(int(float64(n)*r.share), 100) }

var rows = []row{
	{name: "SET -c 50", args: []string{"-t", "set", "-c", "50"}, share: 1},
	{name: "SET -c 50 -P 16", args: []string{"-t", "set", "-c", "50", "-P", "16"}, share: 1},
	{name: "SET -c 1", args: []string{"-t", "set", "-c", "1"}, share: 0.1},
	{name: "GET -c 50", args: []string{"-t", "get", "-c", "50"}, share: 1},
	{name: "SET -c 50 -r 1000000 -d 100", args: []string{"-t", "set", "-c", "50", "-r", "1000000", "-d", "100"}, share: 1, large: true},
}

// result is one row's figures on one system.
type result struct {
	rps, p50, p99 float64
	// cpu is the CPU time each of the system's processes used during the
	// row (nil when it has none of its own, or one could not be read).
	cpu []time.Duration
	// client is the CPU time redis-benchmark used.
	client time.Duration
	err    error
}

// perRequest is the CPU time the system's processes used per request of
// the row, in microseconds, summed over them when i is -1; 0 if unknown.
func (r result) perRequest(i, requests int) float64 {
	var sum time.Duration
	for j, d := range r.cpu {
		if i < 0 || i == j {
			sum += d
		}
	}
	return micro(sum, requests)
}

// clientPerRequest is redis-benchmark's CPU time per request of the row,
// in microseconds; 0 if unknown.
func (r result) clientPerRequest(requests int) float64 { return micro(r.client, requests) }

// micro is d per request, in microseconds; 0 without requests.
func micro(d time.Duration, requests int) float64 {
	if requests <= 0 {
		return 0
	}
	return float64(d.Microseconds()) / float64(requests)
}

// target is a system under test.
type target struct {
	name   string
	addr   string
	pids   []int // processes whose peak memory and CPU time are reported
	leader int   // raftkv: the index in pids of the leader's process, when the rows began
}

func main() {
	n := flag.Int("n", 100000, "requests per row (rows measuring latency send a tenth)")
	quick := flag.Bool("quick", false, "smoke run: 3,000 requests a row, large rows left out")
	out := flag.String("out", "bench-results.md", "file the table is written to")
	compare := flag.String("compare", "", "other systems to measure, as name=host:port,...")
	nodes := flag.Int("nodes", 3, "raftkv nodes")
	procs := flag.Int("max-procs", 0, "--max-procs of each raftkv node; 0 gives each its share of the CPUs, as raftkv cluster does")
	warmup := flag.Int("warmup", 300000, "SETs -c 50 each system takes, not measured, before the first row (0 for none)")
	rounds := flag.Int("rounds", 3, "times each row runs on each system, the systems taking turns; the table gives the median round")
	long := flag.Bool("long", false, "instead of the matrix, the many-keys run on raftkv alone: SET -c 50 -r 1000000 -d 100 for 5,000,000 requests (or -n), beside the one-key SET -c 50 row, with each node's peak memory and its data folder sampled every 10 s")
	flag.Parse()
	nSet := false
	flag.Visit(func(f *flag.Flag) { nSet = nSet || f.Name == "n" })
	switch {
	case *quick:
		*n = 3000
		*warmup = min(*warmup, 1000)
	case *long && !nSet:
		*n = 5_000_000
	}
	if *procs <= 0 {
		*procs = conf.CPUShare(*nodes)
	}
	if *rounds < 1 {
		fmt.Fprintf(os.Stderr, "bench: invalid -rounds %d: must be at least 1\n", *rounds)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *n, *warmup, *rounds, *quick, *long, *out, *compare, *nodes, *procs); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, n, warmup, rounds int, quick, long bool, out, compare string, nodes, maxProcs int) error {
	if _, err := exec.LookPath("redis-benchmark"); err != nil {
		return errors.New("redis-benchmark not found: install redis-tools (apt-get install redis-tools)")
	}
	tmp, err := os.MkdirTemp("", "raftkv-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// Measured before anything is started, on a quiet host.
	host, err := hostCosts(tmp)
	if err != nil {
		return fmt.Errorf("measure the host: %w", err)
	}
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			p.Process.Signal(syscall.SIGTERM)
		}
		for _, p := range procs {
			done := make(chan struct{})
			go func() { p.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				p.Process.Kill()
				<-done
			}
		}
	}()

	var targets []target
	_, noRedis := exec.LookPath("redis-server")
	switch {
	case long: // raftkv is measured against itself
	case noRedis != nil:
		fmt.Fprintln(os.Stderr, "bench: redis-server not found (apt-get install redis-server); measuring without it")
	default:
		ports, err := testport.Ports(1)
		if err != nil {
			return err
		}
		port := ports[0]
		dir := filepath.Join(tmp, "redis")
		os.MkdirAll(dir, 0o755)
		cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--appendonly", "yes", "--appendfsync", "always", "--save", "", "--dir", dir, "--logfile", filepath.Join(dir, "log"))
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start redis-server: %w", err)
		}
		procs = append(procs, cmd)
		targets = append(targets, target{name: "redis (appendfsync always)", addr: fmt.Sprintf("127.0.0.1:%d", port), pids: []int{cmd.Process.Pid}})
	}

	bin := filepath.Join(tmp, "raftkv")
	fmt.Fprintln(os.Stderr, "bench: building raftkv")
	if b, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/raftkv").CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/raftkv (run bench from the repository root): %v\n%s", err, b)
	}
	// RESP, peers, metrics; none the port redis-server already holds.
	ports, err := testport.Ports(3 * nodes)
	if err != nil {
		return err
	}
	var peers []string
	for i := 0; i < nodes; i++ {
		peers = append(peers, fmt.Sprintf("%d=127.0.0.1:%d/127.0.0.1:%d", i+1, ports[nodes+i], ports[i]))
	}
	raft := target{name: fmt.Sprintf("raftkv (%d nodes)", nodes)}
	var addrs, dirs, metricsAddrs []string
	for i := 0; i < nodes; i++ {
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", ports[i]))
		metricsAddrs = append(metricsAddrs, fmt.Sprintf("127.0.0.1:%d", ports[2*nodes+i]))
		dirs = append(dirs, filepath.Join(tmp, fmt.Sprintf("node%d", i+1)))
	}
	// startNode starts (or restarts, on its data) node i+1.
	startNode := func(i int) (*exec.Cmd, error) {
		logf, err := os.OpenFile(filepath.Join(tmp, fmt.Sprintf("node%d.log", i+1)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		defer logf.Close()
		cmd := exec.Command(bin, "server", "--id", strconv.Itoa(i+1), "--resp-addr", addrs[i],
			"--peer-addr", fmt.Sprintf("127.0.0.1:%d", ports[nodes+i]), "--peers", strings.Join(peers, ","),
			"--data-dir", dirs[i], "--log-level", "warn", "--metrics-addr", metricsAddrs[i],
			"--max-procs", strconv.Itoa(maxProcs), "--leader-max-procs", strconv.Itoa(conf.LeaderMaxProcs(maxProcs)))
		// The environment raftkv cluster gives its nodes.
		cmd.Env = conf.NodeEnv(os.Environ())
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("start raftkv node %d: %w", i+1, err)
		}
		procs = append(procs, cmd)
		return cmd, nil
	}
	nodeCmds := make([]*exec.Cmd, nodes)
	for i := range nodeCmds {
		if nodeCmds[i], err = startNode(i); err != nil {
			return err
		}
		raft.pids = append(raft.pids, nodeCmds[i].Process.Pid)
	}
	if raft.addr, err = waitLeader(ctx, addrs); err != nil {
		return err
	}
	raft.leader = slices.Index(addrs, raft.addr)
	if long {
		if err := warmUp(ctx, raft, warmup); err != nil {
			return err
		}
		table, err := longRun(ctx, raft, dirs, metricsAddrs, host, n, warmup, quick, maxProcs)
		if err != nil {
			return err
		}
		fmt.Print(table)
		return os.WriteFile(out, []byte(table), 0o644)
	}
	targets = append(targets, raft)
	for _, c := range strings.Split(compare, ",") {
		if name, addr, ok := strings.Cut(c, "="); ok {
			targets = append(targets, target{name: name, addr: addr})
		}
	}

	for _, t := range targets {
		if err := warmUp(ctx, t, warmup); err != nil {
			return err
		}
	}
	results := map[string]map[string]result{}
	ratios := map[string][]float64{}
	redis := redisName(targets)
	for _, r := range rows {
		if quick && r.large {
			continue
		}
		// The systems take turns, so that a spell in which the host is
		// slower falls on both.
		runs := map[string][]result{}
		for round := 1; round <= rounds; round++ {
			for _, t := range targets {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				reqs := r.requests(n)
				fmt.Fprintf(os.Stderr, "bench: %s on %s (%d requests, round %d of %d)\n", r.name, t.name, reqs, round, rounds)
				runs[t.name] = append(runs[t.name], measure(ctx, t, reqs, r.args))
			}
			// Every target ran this round: the loop returns otherwise.
			if redis != "" && runs[redis][round-1].rps > 0 {
				ratios[r.name] = append(ratios[r.name], runs[raft.name][round-1].rps/runs[redis][round-1].rps)
			}
		}
		results[r.name] = map[string]result{}
		for name, rs := range runs {
			results[r.name][name] = summarize(rs)
		}
	}
	table := format(targets, results, ratios, host, n, warmup, rounds, quick, maxProcs)
	if !quick && nodes > 1 {
		// A follower killed and restarted under load.
		var follower int
		for i, a := range addrs {
			if a != raft.addr {
				follower = i
				break
			}
		}
		fmt.Fprintf(os.Stderr, "bench: SET -c 50 while follower %d is killed and restarted\n", follower+1)
		line, err := followerDip(ctx, raft.addr,
			func() { nodeCmds[follower].Process.Kill(); nodeCmds[follower].Wait() },
			func() error {
				c, err := startNode(follower)
				nodeCmds[follower] = c
				return err
			})
		if err != nil {
			return err
		}
		table += "\n" + line + "\n"
	}
	fmt.Print(table)
	return os.WriteFile(out, []byte(table), 0o644)
}

// warmUp sends t n SETs from 50 clients and forgets the figures.
func warmUp(ctx context.Context, t target, n int) error {
	if n <= 0 {
		return nil
	}
	fmt.Fprintf(os.Stderr, "bench: warming up %s (%d SETs, not measured)\n", t.name, n)
	if res := bench(ctx, t.addr, n, []string{"-t", "set", "-c", "50"}); res.err != nil {
		return fmt.Errorf("warm-up of %s: %w", t.name, res.err)
	}
	return nil
}

// measure is bench against t, with the CPU time t's processes used
// meanwhile.
func measure(ctx context.Context, t target, n int, args []string) result {
	before, ok := cpuTimes(t.pids)
	res := bench(ctx, t.addr, n, args)
	after, ok2 := cpuTimes(t.pids)
	if ok && ok2 {
		res.cpu = make([]time.Duration, len(t.pids))
		for i := range res.cpu {
			res.cpu[i] = after[i] - before[i]
		}
	}
	return res
}

// bench runs redis-benchmark against addr and reads its CSV line.
func bench(ctx context.Context, addr string, n int, args []string) result {
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.CommandContext(ctx, "redis-benchmark", append([]string{"-h", host, "-p", port, "-n", strconv.Itoa(n), "--csv"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return result{err: fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))}
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil || len(recs) < 2 || len(recs[1]) < 7 {
		return result{err: fmt.Errorf("unexpected redis-benchmark output: %q", b)}
	}
	// "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
	res := result{client: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	res.rps, _ = strconv.ParseFloat(recs[1][1], 64)
	res.p50, _ = strconv.ParseFloat(recs[1][4], 64)
	res.p99, _ = strconv.ParseFloat(recs[1][6], 64)
	if strings.Contains(stderr.String(), "ERR") || strings.Contains(string(b), "ERR") {
		res.err = fmt.Errorf("error replies: %s", strings.TrimSpace(stderr.String()))
	}
	return res
}

// summarize merges the rounds of one row on one system: throughput and
// latencies are those of its median round by throughput, CPU times the
// mean over the rounds, and the error the first a round met.
func summarize(rounds []result) result {
	if len(rounds) == 0 {
		return result{}
	}
	byRPS := slices.Clone(rounds)
	slices.SortStableFunc(byRPS, func(a, b result) int { return cmp.Compare(a.rps, b.rps) })
	mid := byRPS[(len(byRPS)-1)/2]
	s := result{rps: mid.rps, p50: mid.p50, p99: mid.p99}
	k := time.Duration(len(rounds))
	for _, r := range rounds {
		if s.err == nil {
			s.err = r.err
		}
		s.client += r.client
	}
	s.client /= k
	// CPU times only when every round has them, for the same processes.
	for _, r := range rounds {
		if len(r.cpu) == 0 || len(r.cpu) != len(rounds[0].cpu) {
			return s
		}
	}
	s.cpu = make([]time.Duration, len(rounds[0].cpu))
	for _, r := range rounds {
		for i, d := range r.cpu {
			s.cpu[i] += d
		}
	}
	for i := range s.cpu {
		s.cpu[i] /= k
	}
	return s
}

// ratioCell is the raftkv/redis column: the median of the rounds' ratios
// (the lower of the middle two for an even count) and, for more than one
// round, their range in brackets; "-" without any.
func ratioCell(ratios []float64) string {
	if len(ratios) == 0 {
		return "-"
	}
	sorted := slices.Sorted(slices.Values(ratios))
	cell := fmt.Sprintf("%.0f%%", 100*sorted[(len(sorted)-1)/2])
	if len(sorted) > 1 {
		cell += fmt.Sprintf(" (%.0f-%.0f%%)", 100*sorted[0], 100*sorted[len(sorted)-1])
	}
	return cell
}

// redisName is the name of the redis-server target; "" without one.
func redisName(targets []target) string {
	for _, t := range targets {
		if strings.HasPrefix(t.name, "redis") {
			return t.name
		}
	}
	return ""
}

// format makes the table: one line per row, one column group per system,
// and the raftkv/redis throughput ratio.
func format(targets []target, results map[string]map[string]result, ratios map[string][]float64, host string, n, warmup, rounds int, quick bool, maxProcs int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# raftkv benchmark, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "%s Requests per row: %d (latency rows a tenth)%s, after %d SETs -c 50 not measured. %s\n\n",
		machine(host), n, map[bool]string{true: ", quick run"}[quick], warmup, nodeSettings(maxProcs, conf.NodeEnv(os.Environ())))
	if rounds > 1 {
		fmt.Fprintf(&b, "Each row ran %d times on each system, the systems taking turns: ops/s, p50 and p99 are each system's median round by ops/s, CPU us/req the mean of the rounds, raftkv/redis the median of the rounds' ratios (in brackets, the lowest and highest).\n\n", rounds)
	}
	b.WriteString("CPU us/req is the user and system CPU time of the system's own processes per request (all its nodes for raftkv), from /proc/<pid>/stat; in brackets, redis-benchmark's own.\n\n")
	b.WriteString("| row |")
	for _, t := range targets {
		fmt.Fprintf(&b, " %s ops/s | p50 ms | p99 ms | CPU us/req |", t.name)
	}
	redis, raft := redisName(targets), ""
	for _, t := range targets {
		if strings.HasPrefix(t.name, "raftkv") {
			raft = t.name
		}
	}
	if redis != "" {
		b.WriteString(" raftkv/redis |")
	}
	b.WriteString("\n|---|")
	for range targets {
		b.WriteString("---:|---:|---:|---:|")
	}
	if redis != "" {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	var errs []string
	for _, r := range rows {
		res, ok := results[r.name]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "| %s |", r.name)
		for _, t := range targets {
			x := res[t.name]
			if x.err != nil {
				errs = append(errs, fmt.Sprintf("%s on %s: %v", r.name, t.name, x.err))
			}
			reqs := r.requests(n)
			fmt.Fprintf(&b, " %s | %.2f | %.2f | %s (%s) |", thousands(x.rps), x.p50, x.p99,
				micros(x.perRequest(-1, reqs)), micros(x.clientPerRequest(reqs)))
		}
		if redis != "" {
			fmt.Fprintf(&b, " %s |", ratioCell(ratios[r.name]))
		}
		b.WriteString("\n")
	}
	for _, t := range targets {
		if t.name == raft && len(t.pids) > 1 {
			b.WriteString(nodeCPU(t, results, n))
		}
	}
	b.WriteString("\nPeak resident memory:")
	for _, t := range targets {
		for i, pid := range t.pids {
			if hwm := peakRSS(pid); hwm > 0 {
				fmt.Fprintf(&b, " %s#%d %d MiB;", t.name, i+1, hwm>>20)
			}
		}
	}
	b.WriteString("\n")
	for _, e := range errs {
		fmt.Fprintf(&b, "\nERROR: %s\n", e)
	}
	return b.String()
}

// nodeCPU is a table of the CPU time per request of each of t's nodes,
// row by row, the leader's marked.
func nodeCPU(t target, results map[string]map[string]result, n int) string {
	var b strings.Builder
	b.WriteString("\nCPU us/req of each raftkv node (* the leader when the rows began):\n\n| row |")
	for i := range t.pids {
		fmt.Fprintf(&b, " node %d |", i+1)
	}
	b.WriteString("\n|---|" + strings.Repeat("---:|", len(t.pids)) + "\n")
	for _, r := range rows {
		res, ok := results[r.name]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "| %s |", r.name)
		for i := range t.pids {
			mark := ""
			if i == t.leader {
				mark = "*"
			}
			fmt.Fprintf(&b, " %s%s |", micros(res[t.name].perRequest(i, r.requests(n))), mark)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// micros formats a CPU time per request in microseconds; "-" if unknown.
func micros(us float64) string {
	if us <= 0 {
		return "-"
	}
	return strconv.FormatFloat(us, 'f', 1, 64)
}

func thousands(f float64) string {
	s := strconv.FormatInt(int64(f+0.5), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// waitLeader waits until one of addrs reports itself Raft leader.
func waitLeader(ctx context.Context, addrs []string) (string, error) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		for _, a := range addrs {
			if role, _ := infoField(a, "raft_role"); role == "leader" {
				return a, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", errors.New("no raftkv leader within 30s")
}

// infoField reads one field of INFO from addr, over a raw connection.
func infoField(addr, field string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	io.WriteString(c, "INFO\r\n")
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return v, nil
		}
		if line == "" {
			continue
		}
	}
	return "", sc.Err()
}

// userHZ is the unit of the CPU times in /proc/<pid>/stat: Linux's
// USER_HZ, 100 on every architecture Go runs on.
const userHZ = 100

// cpuTimes is the user and system CPU time each of pids has used so far;
// false if one could not be read.
func cpuTimes(pids []int) ([]time.Duration, bool) {
	if len(pids) == 0 {
		return nil, false
	}
	times := make([]time.Duration, len(pids))
	for i, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return nil, false
		}
		ticks, err := statCPU(string(b))
		if err != nil {
			return nil, false
		}
		times[i] = time.Duration(ticks) * time.Second / userHZ
	}
	return times, true
}

// statCPU is utime plus stime, in clock ticks, from the text of a
// /proc/<pid>/stat file. The command name, in parentheses, may itself hold
// spaces and parentheses: the fields are counted from the last ')'.
func statCPU(stat string) (int64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("no command name in %q", stat)
	}
	// After the name: state is field 3, utime 14 and stime 15.
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("too few fields in %q", stat)
	}
	utime, err := strconv.ParseInt(f[11], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("utime: %w", err)
	}
	stime, err := strconv.ParseInt(f[12], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stime: %w", err)
	}
	return utime + stime, nil
}

// peakRSS is a process's peak resident memory in bytes, 0 if unknown.
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// nodeSettings says how each raftkv node runs: its --max-procs, and the
// variables of env, its environment, that raftkv cluster sets for its
// nodes (conf.NodeVars), with the values they have there.
func nodeSettings(maxProcs int, env []string) string {
	var set []string
	for _, kv := range conf.NodeVars(nil) {
		name, _, _ := strings.Cut(kv, "=")
		if v, ok := conf.LookupEnv(env, name); ok {
			set = append(set, name+"="+v)
		}
	}
	s := fmt.Sprintf("Each raftkv node runs with --max-procs %d (%d as the leader)", maxProcs, conf.LeaderMaxProcs(maxProcs))
	if len(set) > 0 {
		s += " and " + strings.Join(set, " ")
	}
	return s + "."
}

// machine describes the host and the load generator, as a sentence,
// followed by host, hostCosts's sentence, if there is one.
func machine(host string) string {
	s := fmt.Sprintf("Machine: %s/%s, %d CPUs (%s), %s; %s.",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel(), runtime.Version(), toolVersion())
	if host != "" {
		s += " " + host
	}
	return s
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return "unknown CPU"
}

func toolVersion() string {
	b, _ := exec.Command("redis-benchmark", "--version").Output()
	return strings.TrimSpace(string(b))
}

// followerDip runs SETs from 50 clients against the leader at addr for 16
// seconds, kills a follower after 4 and restarts it after 8, and describes
// the throughput before, while it is down, and after: the lowest one-second
// rate, how long until the rate is first back within 10% of before, and
// the rate from 5 s after the restart to the end (the target's bound).
func followerDip(ctx context.Context, addr string, kill func(), restart func() error) (string, error) {
	var done atomic.Int64
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for c := 0; c < 50; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				return
			}
			defer conn.Close()
			rd := bufio.NewReader(conn)
			req := []byte(fmt.Sprintf("*3\r\n$3\r\nSET\r\n$6\r\nkey:%02d\r\n$3\r\nxxx\r\n", c))
			for ctx.Err() == nil {
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := conn.Write(req); err != nil {
					return
				}
				if l, err := rd.ReadString('\n'); err != nil {
					return
				} else if l == "+OK\r\n" {
					done.Add(1)
				}
			}
		}()
	}
	const step = 250 * time.Millisecond
	var samples []int64 // completions per step
	start := time.Now()
	last := int64(0)
	killed, restarted := false, false
	for t := step; t <= 16*time.Second; t += step {
		time.Sleep(time.Until(start.Add(t)))
		now := done.Load()
		samples = append(samples, now-last)
		last = now
		if !killed && t >= 4*time.Second {
			kill()
			killed = true
		}
		if !restarted && t >= 8*time.Second {
			if err := restart(); err != nil {
				return "", err
			}
			restarted = true
		}
	}
	cancel()
	wg.Wait()
	perSec := func(from, to int) float64 { // mean rate over samples [from, to)
		var sum int64
		for _, s := range samples[from:to] {
			sum += s
		}
		return float64(sum) / (float64(to-from) * step.Seconds())
	}
	k, r := int(4*time.Second/step), int(8*time.Second/step)
	before := perSec(1, k) // the first step warms up
	down := perSec(k, r)
	lowest, back := math.MaxFloat64, -1.0
	for i := r; i+4 <= len(samples); i++ {
		rate := perSec(i, i+4)
		lowest = min(lowest, rate)
		if back < 0 && rate >= 0.9*before {
			back = float64(i-r) * step.Seconds()
		}
	}
	recovered := "not within the 8 s measured"
	if back >= 0 {
		recovered = fmt.Sprintf("%.2f s after the restart", back)
	}
	settled := perSec(r+int(5*time.Second/step), len(samples))
	return fmt.Sprintf("Follower killed under SET -c 50 (one-second rates): %s/s before; %s/s while it is down; after its restart, lowest %s/s, first back within 10%% of before %s; from 5 s after it to the end, %s/s (%.0f%% of before).",
		thousands(before), thousands(down), thousands(lowest), recovered, thousands(settled), 100*settled/before), nil
}

// longRun is the many-keys run: the one-key SET -c 50 row, then n SETs of
// 100-byte values over a million keys from 50 clients, while each node's
// data folder is sampled every 10 s. It reports both rates and their
// ratio, each node's peak resident memory (the kernel's high-water mark)
// and the range of its data folder's size, and what its storage engine
// wrote meanwhile (from the node's metrics at metricsAddrs).
func longRun(ctx context.Context, t target, dirs, metricsAddrs []string, host string, n, warmup int, quick bool, maxProcs int) (string, error) {
	oneArgs := []string{"-t", "set", "-c", "50"}
	manyArgs := []string{"-t", "set", "-c", "50", "-r", "1000000", "-d", "100"}
	oneN := min(n, 100000)
	fmt.Fprintf(os.Stderr, "bench: SET -c 50 on %s (%d requests)\n", t.name, oneN)
	one := measure(ctx, t, oneN, oneArgs)
	if one.err != nil {
		return "", fmt.Errorf("SET -c 50: %w", one.err)
	}
	lowDisk := make([]int64, len(dirs))
	highDisk := make([]int64, len(dirs))
	for i := range lowDisk {
		lowDisk[i] = math.MaxInt64
	}
	sample := func() {
		for i, d := range dirs {
			size := dirSize(d)
			lowDisk[i], highDisk[i] = min(lowDisk[i], size), max(highDisk[i], size)
		}
	}
	fmt.Fprintf(os.Stderr, "bench: SET -c 50 -r 1000000 -d 100 on %s (%d requests), data folders sampled every 10 s\n", t.name, n)
	storeBefore, err := storageFigures(metricsAddrs)
	if err != nil {
		return "", err
	}
	stopc, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(10 * time.Second)
		defer tick.Stop()
		for {
			sample()
			select {
			case <-stopc:
				sample()
				return
			case <-tick.C:
			}
		}
	}()
	many := measure(ctx, t, n, manyArgs)
	close(stopc)
	<-sampled
	if many.err != nil {
		return "", fmt.Errorf("SET -c 50 -r 1000000 -d 100: %w", many.err)
	}
	storeAfter, err := storageFigures(metricsAddrs)
	if err != nil {
		return "", err
	}
	db0, err := infoField(t.addr, "db0") // keys=N,expires=...
	if err != nil {
		return "", fmt.Errorf("INFO keyspace: %w", err)
	}
	keys, _, _ := strings.Cut(strings.TrimPrefix(db0, "keys="), ",")
	if k, err := strconv.ParseFloat(keys, 64); err == nil {
		keys = thousands(k)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "# raftkv many-keys run, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "%s %s, after %d SETs -c 50 not measured. %s\n\n", machine(host), t.name, warmup, nodeSettings(maxProcs, conf.NodeEnv(os.Environ())))
	b.WriteString("| row | requests | ops/s | p50 ms | p99 ms |\n|---|---:|---:|---:|---:|\n")
	fmt.Fprintf(&b, "| SET -c 50 | %s | %s | %.2f | %.2f |\n", thousands(float64(oneN)), thousands(one.rps), one.p50, one.p99)
	fmt.Fprintf(&b, "| SET -c 50 -r 1000000 -d 100 | %s | %s | %.2f | %.2f |\n\n", thousands(float64(n)), thousands(many.rps), many.p50, many.p99)
	fmt.Fprintf(&b, "Many keys against one key: %.0f%%. Keys at the end: %s.\n\n", 100*many.rps/one.rps, keys)
	b.WriteString("| node | peak resident memory | data folder, smallest and largest sample | CPU us/req, one key | CPU us/req, many keys | sstable bytes written per SET, many keys | write amplification, many keys |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for i, pid := range t.pids {
		mark := ""
		if i == t.leader {
			mark = " (leader at the start)"
		}
		d := storeAfter[i].minus(storeBefore[i])
		fmt.Fprintf(&b, "| %d%s | %d MiB | %d-%d MiB | %s | %s | %.0f | %.1f |\n", i+1, mark, peakRSS(pid)>>20, lowDisk[i]>>20, highDisk[i]>>20,
			micros(one.perRequest(i, oneN)), micros(many.perRequest(i, n)), (d.flushed+d.compacted)/float64(n), (d.wal+d.flushed+d.compacted)/d.wal)
	}
	fmt.Fprintf(&b, "\nCPU us/req: the node's user and system CPU time per request, from /proc/<pid>/stat. redis-benchmark's own: %s (one key), %s (many keys).\n",
		micros(one.clientPerRequest(oneN)), micros(many.clientPerRequest(n)))
	b.WriteString("Sstable bytes: what the node's storage engine wrote to its files by flushes and compactions during the many-keys row (raftkv_storage_flushed_bytes_total and raftkv_storage_compacted_bytes_total), compressed; write amplification: those bytes and the bytes written to its write-ahead log meanwhile (raftkv_storage_wal_bytes_total), against the latter.\n")
	if quick {
		b.WriteString("\nQuick run: too short for the figures to mean anything.\n")
	}
	return b.String(), nil
}

// dirSize is the total size of the files under dir, in bytes.
func dirSize(dir string) int64 {
	var total int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // files come and go as pebble works
		}
		if info, err := d.Info(); err == nil && !d.IsDir() {
			total += info.Size()
		}
		return nil
	})
	return total
}

// storageBytes are a node's storage engine figures, from its metrics:
// bytes written to its write-ahead log, flushed to sstables and written
// by compactions.
type storageBytes struct{ wal, flushed, compacted float64 }

func (s storageBytes) minus(o storageBytes) storageBytes {
	return storageBytes{s.wal - o.wal, s.flushed - o.flushed, s.compacted - o.compacted}
}

// storageFigures reads storageBytes from each node's metrics.
func storageFigures(metricsAddrs []string) ([]storageBytes, error) {
	out := make([]storageBytes, len(metricsAddrs))
	for i, addr := range metricsAddrs {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return nil, fmt.Errorf("metrics of node %d: %w", i+1, err)
		}
		var p expfmt.TextParser
		mf, err := p.TextToMetricFamilies(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("metrics of node %d: %w", i+1, err)
		}
		counter := func(name string) (float64, error) {
			if f := mf[name]; f != nil && len(f.Metric) == 1 && f.Metric[0].Counter != nil {
				return f.Metric[0].Counter.GetValue(), nil
			}
			return 0, fmt.Errorf("metrics of node %d: no counter %s", i+1, name)
		}
		if out[i].wal, err = counter("raftkv_storage_wal_bytes_total"); err != nil {
			return nil, err
		}
		if out[i].flushed, err = counter("raftkv_storage_flushed_bytes_total"); err != nil {
			return nil, err
		}
		if out[i].compacted, err = counter("raftkv_storage_compacted_bytes_total"); err != nil {
			return nil, err
		}
	}
	return out, nil
}
