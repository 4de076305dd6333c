package resp

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tidwall/redcon"
)

// cmdStats are one command's figures on one server: INFO commandstats and
// the Prometheus metrics read the same counters.
type cmdStats struct {
	calls  atomic.Uint64
	failed atomic.Uint64
	nanos  atomic.Uint64
	// lat is the command's latency histogram, made at its first use so
	// that commands never run export nothing.
	latOnce sync.Once
	lat     prometheus.Observer
}

// stats are a server's command figures, indexed by command.idx; the last
// entry counts unknown commands.
type stats struct {
	cmds        []cmdStats
	latency     *prometheus.HistogramVec
	connections atomic.Uint64 // accepted since start
	commandsD   *prometheus.Desc
	errorsD     *prometheus.Desc
	clientsD    *prometheus.Desc
	connsD      *prometheus.Desc
}

// unknownName labels the figures of commands not in the table.
const unknownName = "unknown"

func newStats() *stats {
	st := &stats{
		cmds: make([]cmdStats, len(commandNames)+1),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "raftkv_command_duration_seconds",
			Help:    "Time to serve a command, from its arrival to its reply (writes include replication).",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16), // 50 µs to 1.6 s
		}, []string{"command"}),
		commandsD: prometheus.NewDesc("raftkv_commands_total", "Commands served, by name.", []string{"command"}, nil),
		errorsD:   prometheus.NewDesc("raftkv_command_errors_total", "Commands answered with an error, by name.", []string{"command"}, nil),
		clientsD:  prometheus.NewDesc("raftkv_connected_clients", "Client connections open now.", nil, nil),
		connsD:    prometheus.NewDesc("raftkv_connections_total", "Client connections accepted since start.", nil, nil),
	}
	return st
}

func (st *stats) name(i int) string {
	if i < len(commandNames) {
		return commandNames[i]
	}
	return unknownName
}

// record counts one command: idx is its command.idx, or -1 if unknown.
func (st *stats) record(idx int, took time.Duration, failed bool) {
	if idx < 0 {
		idx = len(st.cmds) - 1
	}
	cs := &st.cmds[idx]
	cs.calls.Add(1)
	cs.nanos.Add(uint64(took))
	if failed {
		cs.failed.Add(1)
	}
	cs.latOnce.Do(func() { cs.lat = st.latency.WithLabelValues(st.name(idx)) })
	cs.lat.Observe(took.Seconds())
}

// Describe and Collect make a Server a prometheus.Collector.
func (s *Server) Describe(ch chan<- *prometheus.Desc) {
	st := s.stats
	ch <- st.commandsD
	ch <- st.errorsD
	ch <- st.clientsD
	ch <- st.connsD
	st.latency.Describe(ch)
}

func (s *Server) Collect(ch chan<- prometheus.Metric) {
	st := s.stats
	for i := range st.cmds {
		cs := &st.cmds[i]
		calls := cs.calls.Load()
		if calls == 0 {
			continue
		}
		ch <- prometheus.MustNewConstMetric(st.commandsD, prometheus.CounterValue, float64(calls), st.name(i))
		ch <- prometheus.MustNewConstMetric(st.errorsD, prometheus.CounterValue, float64(cs.failed.Load()), st.name(i))
	}
	ch <- prometheus.MustNewConstMetric(st.clientsD, prometheus.GaugeValue, float64(s.clients.Load()))
	ch <- prometheus.MustNewConstMetric(st.connsD, prometheus.CounterValue, float64(st.connections.Load()))
	st.latency.Collect(ch)
}

// errConn counts the error replies written to a connection, so that a
// command's figures say whether it failed.
type errConn struct {
	redcon.Conn
	errors atomic.Uint64
}

func (c *errConn) WriteError(msg string) {
	c.errors.Add(1)
	c.Conn.WriteError(msg)
}
