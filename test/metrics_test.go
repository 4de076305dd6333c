package test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// metricsURL is where node p serves /metrics, read from its JSON log.
func metricsURL(t *testing.T, p *proc) string {
	t.Helper()
	var url string
	waitUntil(t, 10*time.Second, 50*time.Millisecond, "the node to log its metrics address", func() bool {
		for _, line := range logLines(t, p) {
			var ev map[string]any
			if json.Unmarshal([]byte(line), &ev) == nil && ev["@message"] == "serving metrics" {
				url, _ = ev["addr"].(string)
				return true
			}
		}
		return false
	})
	return url
}

func logLines(t *testing.T, p *proc) []string {
	t.Helper()
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// scrape reads every metric family from url.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p expfmt.TextParser
	mf, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return mf
}

// value is the metric name{labels} (counter, gauge, or a histogram's
// count), or -1 when there is no such series.
func value(mf map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := mf[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// TestMetricsAndLogs: each node serves Prometheus metrics that agree with
// RAFT.INFO and INFO, count commands, errors, proposals, fsyncs and
// snapshots, and show the links to its peers; logs are JSON lines when
// asked, and a steady stream of requests adds none at the default level.
func TestMetricsAndLogs(t *testing.T) {
	c := startCluster(t, 3, "--metrics-addr", "127.0.0.1:0", "--log-json", "--log-level", "info")
	lead := c.waitLeader(10 * time.Second)
	follower := c.followers(lead)[0]
	urls := map[*proc]string{}
	for _, p := range c.nodes {
		urls[p] = metricsURL(t, p)
	}
	ctx := context.Background()
	cl := c.client(lead)
	before := len(logLines(t, lead))
	const writes = 200
	for i := range writes {
		if err := cl.Set(ctx, fmt.Sprint("k", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.HGet(ctx, "k1", "f").Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGTYPE") {
		t.Fatalf("HGET on a string: %v", err)
	}
	if after := len(logLines(t, lead)); after != before {
		t.Errorf("%d requests added %d log lines at level info:\n%s", writes+1, after-before, strings.Join(logLines(t, lead)[before:], "\n"))
	}
	if _, err := cl.Do(ctx, "RAFT.SNAPSHOT").Result(); err != nil {
		t.Fatal(err)
	}

	mf := scrape(t, urls[lead])
	check := func(what string, got, want float64) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	atLeast := func(what string, got, want float64) {
		t.Helper()
		if got < want {
			t.Errorf("%s = %v, want at least %v", what, got, want)
		}
	}
	check(`raftkv_raft_role{role="leader"}`, value(mf, "raftkv_raft_role", "role", "leader"), 1)
	check("raftkv_raft_leader_id", value(mf, "raftkv_raft_leader_id"), float64(lead.id))
	check("raftkv_raft_term", value(mf, "raftkv_raft_term"), float64(atoi(t, c.raftField(lead, "current_term"))))
	check(`raftkv_commands_total{command="set"}`, value(mf, "raftkv_commands_total", "command", "set"), writes)
	check(`raftkv_command_errors_total{command="set"}`, value(mf, "raftkv_command_errors_total", "command", "set"), 0)
	check(`raftkv_command_errors_total{command="hget"}`, value(mf, "raftkv_command_errors_total", "command", "hget"), 1)
	check(`raftkv_command_duration_seconds{command="set"} count`, value(mf, "raftkv_command_duration_seconds", "command", "set"), writes)
	atLeast("raftkv_raft_proposals_total", value(mf, "raftkv_raft_proposals_total"), writes)
	atLeast("raftkv_raft_proposal_apply_seconds count", value(mf, "raftkv_raft_proposal_apply_seconds"), writes)
	atLeast("raftkv_raft_commit_index", value(mf, "raftkv_raft_commit_index"), writes)
	atLeast("raftkv_wal_fsync_seconds count", value(mf, "raftkv_wal_fsync_seconds"), 1)
	atLeast("raftkv_snapshots_taken_total", value(mf, "raftkv_snapshots_taken_total"), 1)
	check("raftkv_keys", value(mf, "raftkv_keys"), writes)
	// Each SET was of a new key: its state was looked up.
	atLeast("raftkv_key_state_lookups_total", value(mf, "raftkv_key_state_lookups_total"), writes)
	if value(mf, "raftkv_key_state_hits_total") < 0 {
		t.Error("raftkv_key_state_hits_total is missing")
	}
	atLeast("raftkv_connected_clients", value(mf, "raftkv_connected_clients"), 1)
	// The storage engine's own figures: the writes went through its
	// write-ahead log into its memtables.
	atLeast("raftkv_storage_wal_bytes_total", value(mf, "raftkv_storage_wal_bytes_total"), writes)
	atLeast("raftkv_storage_memtable_bytes", value(mf, "raftkv_storage_memtable_bytes"), 1)
	for _, name := range []string{"raftkv_storage_flushes_total", "raftkv_storage_compactions_total",
		"raftkv_storage_flushed_bytes_total", "raftkv_storage_compacted_bytes_total",
		"raftkv_storage_compaction_read_bytes_total", "raftkv_storage_table_bytes",
		"raftkv_storage_l0_files", "raftkv_storage_read_amplification",
		"raftkv_storage_compaction_debt_bytes", "raftkv_storage_block_cache_hits_total",
		"raftkv_storage_block_cache_misses_total"} {
		if value(mf, name) < 0 {
			t.Errorf("%s is missing", name)
		}
	}
	for _, p := range c.followers(lead) {
		check(fmt.Sprintf(`raftkv_peer_connected{peer="%d"}`, p.id), value(mf, "raftkv_peer_connected", "peer", fmt.Sprint(p.id)), 1)
		atLeast(fmt.Sprintf(`raftkv_peer_sent_messages_total{peer="%d"}`, p.id), value(mf, "raftkv_peer_sent_messages_total", "peer", fmt.Sprint(p.id)), writes)
		if value(mf, "raftkv_peer_send_queue", "peer", fmt.Sprint(p.id)) < 0 {
			t.Errorf(`raftkv_peer_send_queue{peer="%d"} is missing`, p.id)
		}
	}
	// INFO's figures are the same counters.
	in := infoSection(t, c, lead, "commandstats")
	if !strings.Contains(in, fmt.Sprintf("cmdstat_set:calls=%d,", writes)) || !strings.Contains(in, "cmdstat_hget:calls=1,") || !strings.Contains(in, "failed_calls=1") {
		t.Errorf("INFO commandstats disagrees with the metrics:\n%s", in)
	}

	fm := scrape(t, urls[follower])
	check(`follower raftkv_raft_role{role="follower"}`, value(fm, "raftkv_raft_role", "role", "follower"), 1)
	check("follower raftkv_raft_leader_id", value(fm, "raftkv_raft_leader_id"), float64(lead.id))
	c.waitApplied(follower, commitIndex(t, lead), 10*time.Second)
	fm = scrape(t, urls[follower])
	check("follower raftkv_keys", value(fm, "raftkv_keys"), writes)

	// Every log line is one JSON object with a level and a message.
	for _, p := range c.nodes {
		for _, line := range logLines(t, p) {
			var ev map[string]any
			if err := json.Unmarshal([]byte(line), &ev); err != nil || ev["@level"] == nil || ev["@message"] == nil {
				t.Fatalf("node %d logged a line that is not a JSON event: %q", p.id, line)
			}
		}
	}
}

func infoSection(t *testing.T, c *cluster, p *proc, section string) string {
	t.Helper()
	s, err := c.client(p).Info(context.Background(), section).Result()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return n
}
