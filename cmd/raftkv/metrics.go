package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/raftkv/raftkv/raft"
)

// proposalMetrics time proposals from the RESP front end to their
// application.
type proposalMetrics struct {
	total   prometheus.Counter
	failed  prometheus.Counter
	latency prometheus.Histogram
}

func newProposalMetrics() *proposalMetrics {
	return &proposalMetrics{
		total:  prometheus.NewCounter(prometheus.CounterOpts{Name: "raftkv_raft_proposals_total", Help: "Commands proposed to the Raft log by this node."}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{Name: "raftkv_raft_proposals_failed_total", Help: "Proposals that were not applied: no leader, leadership lost, timeout."}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "raftkv_raft_proposal_apply_seconds",
			Help:    "Time from a proposal to its application: replication to a majority, fsync and apply.",
			Buckets: prometheus.ExponentialBuckets(100e-6, 2, 16), // 100 µs to 3.3 s
		}),
	}
}

func (m *proposalMetrics) observe(n int, start time.Time, failed int) {
	m.total.Add(float64(n))
	m.failed.Add(float64(failed))
	took := time.Since(start).Seconds()
	for range n - failed {
		m.latency.Observe(took)
	}
}

// nodeCollector reads the node's figures when Prometheus scrapes.
type nodeCollector struct {
	n *node

	term, commit, applied, leader, role, members         *prometheus.Desc
	keys, expires, dataSize, logEntries, snapIndex       *prometheus.Desc
	compactions, installs, keyStateHits, keyStateLookups *prometheus.Desc
	snapSent, snapSentBytes, snapSendFailures            *prometheus.Desc
	snapReceived, snapReceivedBytes                      *prometheus.Desc
	peerConnected, peerQueued, peerSent, peerDrops       *prometheus.Desc
	fsync                                                *prometheus.Desc
	storage                                              storageDescs
}

// storageDescs describe pebble's own figures (engine.StorageStats).
type storageDescs struct {
	flushes, compactions, flushedBytes, compactedBytes *prometheus.Desc
	compactionReadBytes, walBytes, tableBytes          *prometheus.Desc
	memTableBytes, l0Files, readAmp, compactionDebt    *prometheus.Desc
	blockCacheHits, blockCacheMisses                   *prometheus.Desc
}

func newNodeCollector(n *node) *nodeCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &nodeCollector{
		n:                 n,
		term:              d("raftkv_raft_term", "The node's current Raft term."),
		commit:            d("raftkv_raft_commit_index", "The highest log index known committed."),
		applied:           d("raftkv_raft_applied_index", "The highest log index applied to the data."),
		leader:            d("raftkv_raft_leader_id", "ID of the leader this node knows, 0 if none."),
		role:              d("raftkv_raft_role", "1 for the node's current role, 0 for the others.", "role"),
		members:           d("raftkv_raft_members", "Members of the cluster, voters and learners."),
		keys:              d("raftkv_keys", "Keys in the data set."),
		expires:           d("raftkv_expiring_keys", "Keys with an expiry."),
		dataSize:          d("raftkv_data_bytes", "Estimated size of the data on disk: the snapshot a follower receives."),
		logEntries:        d("raftkv_raft_log_entries", "Entries in the Raft log after the last compaction."),
		snapIndex:         d("raftkv_raft_snapshot_index", "Index of the last log compaction (snapshot)."),
		compactions:       d("raftkv_snapshots_taken_total", "Log compactions (snapshots taken) since start."),
		installs:          d("raftkv_snapshots_installed_total", "Snapshots received from a leader and installed since start."),
		keyStateHits:      d("raftkv_key_state_hits_total", "Writes that found their key's state (exists, type, expiry) in memory (--key-cache-size)."),
		keyStateLookups:   d("raftkv_key_state_lookups_total", "Writes that looked their key's state up in the storage engine: keys not written or read since start, or evicted from --key-cache-size."),
		snapSent:          d("raftkv_snapshots_sent_total", "Snapshots streamed to followers."),
		snapSentBytes:     d("raftkv_snapshot_sent_bytes_total", "Bytes of snapshots streamed to followers."),
		snapSendFailures:  d("raftkv_snapshot_send_failures_total", "Snapshot streams to followers that failed."),
		snapReceived:      d("raftkv_snapshots_received_total", "Snapshots received from a leader."),
		snapReceivedBytes: d("raftkv_snapshot_received_bytes_total", "Bytes of snapshots received from a leader."),
		peerConnected:     d("raftkv_peer_connected", "1 while the stream to the peer is up.", "peer"),
		peerQueued:        d("raftkv_peer_send_queue", "Messages waiting to be sent to the peer.", "peer"),
		peerSent:          d("raftkv_peer_sent_messages_total", "Messages sent to the peer.", "peer"),
		peerDrops:         d("raftkv_peer_dropped_messages_total", "Messages to the peer dropped: queue full or link down (Raft resends what matters).", "peer"),
		fsync:             d("raftkv_wal_fsync_seconds", "Latency of the storage engine's write-ahead log fsyncs."),
		storage: storageDescs{
			flushes:             d("raftkv_storage_flushes_total", "Memtables the storage engine wrote to sstables."),
			compactions:         d("raftkv_storage_compactions_total", "The storage engine's compactions of sstables."),
			flushedBytes:        d("raftkv_storage_flushed_bytes_total", "Bytes of sstables written by flushes."),
			compactedBytes:      d("raftkv_storage_compacted_bytes_total", "Bytes of sstables written by compactions. Write amplification: the write-ahead log's bytes, the flushed and the compacted, against the write-ahead log's."),
			compactionReadBytes: d("raftkv_storage_compaction_read_bytes_total", "Bytes of sstables read by compactions."),
			walBytes:            d("raftkv_storage_wal_bytes_total", "Bytes written to the storage engine's write-ahead log."),
			tableBytes:          d("raftkv_storage_table_bytes", "Size of the live sstables."),
			memTableBytes:       d("raftkv_storage_memtable_bytes", "Size of the memtables held."),
			l0Files:             d("raftkv_storage_l0_files", "Sstables in level 0, which every read checks."),
			readAmp:             d("raftkv_storage_read_amplification", "Sublevels of level 0 and non-empty levels below: the most places a point read may look."),
			compactionDebt:      d("raftkv_storage_compaction_debt_bytes", "Estimated bytes compactions must still rewrite to bring the levels back into shape."),
			blockCacheHits:      d("raftkv_storage_block_cache_hits_total", "Reads of sstable blocks found in the block cache (--cache-size)."),
			blockCacheMisses:    d("raftkv_storage_block_cache_misses_total", "Reads of sstable blocks not in the block cache, read from the files."),
		},
	}
}

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	cnt := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	n := c.n
	st := n.node.Status()
	g(c.term, float64(st.Term))
	g(c.commit, float64(st.Commit))
	g(c.applied, float64(st.Applied))
	g(c.leader, float64(st.Lead))
	for _, r := range []raft.Role{raft.Follower, raft.Candidate, raft.Leader} {
		v := 0.0
		if st.Role == r {
			v = 1
		}
		g(c.role, v, r.String())
	}
	g(c.members, float64(len(*n.backend.members.Load())))
	g(c.keys, float64(n.sm.KeyCount()))
	g(c.expires, float64(n.eng.Expires()))
	g(c.dataSize, float64(n.eng.DataSize()))
	g(c.logEntries, float64(n.eng.LogLen()))
	if snap, err := n.eng.Snapshot(); err == nil {
		g(c.snapIndex, float64(snap.Index))
	}
	es := n.eng.Stats()
	cnt(c.compactions, es.Compactions)
	cnt(c.installs, es.Installs)
	cnt(c.keyStateHits, es.KeyStateHits)
	cnt(c.keyStateLookups, es.KeyStateLookups)
	ss := n.trans.SnapshotStats()
	cnt(c.snapSent, ss.Sent)
	cnt(c.snapSentBytes, ss.SentBytes)
	cnt(c.snapSendFailures, ss.SendFailures)
	cnt(c.snapReceived, ss.Received)
	cnt(c.snapReceivedBytes, ss.ReceivedBytes)
	for id, ps := range n.trans.Stats() {
		p := fmt.Sprint(id)
		up := 0.0
		if ps.Connected {
			up = 1
		}
		g(c.peerConnected, up, p)
		g(c.peerQueued, float64(ps.Queued), p)
		cnt(c.peerSent, ps.Sent, p)
		cnt(c.peerDrops, ps.Dropped, p)
	}
	if m, ok := fsyncHistogram(c.fsync, n.eng.FsyncLatency()); ok {
		ch <- m
	}
	store, sd := n.eng.StorageStats(), &c.storage
	cnt(sd.flushes, uint64(store.Flushes))
	cnt(sd.compactions, uint64(store.Compactions))
	cnt(sd.flushedBytes, store.FlushedBytes)
	cnt(sd.compactedBytes, store.CompactedBytes)
	cnt(sd.compactionReadBytes, store.CompactionReadBytes)
	cnt(sd.walBytes, store.WALBytes)
	g(sd.tableBytes, float64(store.TableBytes))
	g(sd.memTableBytes, float64(store.MemTableBytes))
	g(sd.l0Files, float64(store.L0Files))
	g(sd.readAmp, float64(store.ReadAmp))
	g(sd.compactionDebt, float64(store.CompactionDebt))
	cnt(sd.blockCacheHits, uint64(store.BlockCacheHits))
	cnt(sd.blockCacheMisses, uint64(store.BlockCacheMisses))
}

// fsyncBounds are the bucket bounds, in seconds, raftkv_wal_fsync_seconds
// reports out of pebble's finer histogram.
var fsyncBounds = []float64{100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1, 2.5, 5, 10}

// fsyncHistogram re-expresses pebble's fsync histogram (nanoseconds, with
// many buckets) in seconds on fsyncBounds: a cumulative count is exact at
// any of pebble's bounds, so each bound takes the count of the largest of
// pebble's bounds at or below it.
func fsyncHistogram(d *prometheus.Desc, h prometheus.Histogram) (prometheus.Metric, bool) {
	if h == nil {
		return nil, false
	}
	var m dto.Metric
	if err := h.Write(&m); err != nil || m.Histogram == nil {
		return nil, false
	}
	src := m.Histogram
	buckets := make(map[float64]uint64, len(fsyncBounds))
	for _, b := range fsyncBounds {
		var count uint64
		for _, sb := range src.Bucket {
			if sb.GetUpperBound()/1e9 <= b {
				count = sb.GetCumulativeCount()
			}
		}
		buckets[b] = count
	}
	hm, err := prometheus.NewConstHistogram(d, src.GetSampleCount(), src.GetSampleSum()/1e9, buckets)
	return hm, err == nil
}

// serveMetrics serves /metrics on addr until ctx ends, and returns the
// address it listens on.
func serveMetrics(ctx context.Context, addr string, reg *prometheus.Registry, logger hclog.Logger) (string, error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: logger.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server stopped", "error", err)
		}
	}()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	return ln.Addr().String(), nil
}

// registry gathers every raftkv metric, with the Go runtime's and the
// process's.
func (n *node) registry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newNodeCollector(n),
		n.srv,
		n.backend.proposals.total, n.backend.proposals.failed, n.backend.proposals.latency,
	)
	return reg
}
