package peer

import (
	"context"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// clusterHeader is the gRPC metadata key that carries the sender's cluster
// ID on every stream.
const clusterHeader = "raftkv-cluster-id"

// sendCluster adds this node's cluster ID to every stream it opens.
func (t *Transport) sendCluster(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return streamer(metadata.AppendToOutgoingContext(ctx, clusterHeader, t.cfg.ClusterID), desc, cc, method, opts...)
}

// checkCluster refuses a stream whose sender names another cluster (or
// none) before the handler reads anything from it.
func (t *Transport) checkCluster(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	var got string
	if md, ok := metadata.FromIncomingContext(ss.Context()); ok {
		if v := md.Get(clusterHeader); len(v) == 1 {
			got = v[0]
		}
	}
	if got != t.cfg.ClusterID {
		from := "unknown"
		if p, ok := peer.FromContext(ss.Context()); ok {
			from = p.Addr.String()
		}
		t.refusals.log(t.logger, from, "refused a peer of another cluster", "from", from, "its_cluster_id", got, "cluster_id", t.cfg.ClusterID)
		return status.Errorf(codes.PermissionDenied, "cluster ID mismatch: the receiver belongs to cluster %q, the sender to %q", t.cfg.ClusterID, got)
	}
	// The headers tell the sender it was accepted.
	if err := ss.SendHeader(metadata.Pairs(clusterHeader, t.cfg.ClusterID)); err != nil {
		return err
	}
	return handler(srv, ss)
}

func (t *Transport) clientCreds() credentials.TransportCredentials {
	if t.cfg.TLS == nil {
		return insecure.NewCredentials()
	}
	return credentials.NewTLS(t.cfg.TLS)
}

func (t *Transport) serverCreds() credentials.TransportCredentials {
	if t.cfg.TLS == nil {
		return insecure.NewCredentials()
	}
	return loggedCreds{TransportCredentials: credentials.NewTLS(t.cfg.TLS), t: t}
}

// loggedCreds logs the connections the TLS handshake refuses (a client
// certificate not signed by the cluster CA, or none): gRPC drops them
// silently.
type loggedCreds struct {
	credentials.TransportCredentials
	t *Transport
}

func (c loggedCreds) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	out, info, err := c.TransportCredentials.ServerHandshake(conn)
	if err != nil {
		from := conn.RemoteAddr().String()
		c.t.refusals.log(c.t.logger, from, "refused a peer connection: TLS handshake failed", "from", from, "error", err)
	}
	return out, info, err
}

func (c loggedCreds) Clone() credentials.TransportCredentials {
	return loggedCreds{TransportCredentials: c.TransportCredentials.Clone(), t: c.t}
}

// refusalLog logs each kind of refusal once a minute per remote host,
// since a misconfigured node retries several times a second.
type refusalLog struct {
	mu   sync.Mutex
	last map[string]time.Time
}

const refusalLogEvery = time.Minute

func (r *refusalLog) log(logger hclog.Logger, from, msg string, args ...any) {
	host, _, err := net.SplitHostPort(from)
	if err != nil {
		host = from
	}
	key := msg + " " + host
	r.mu.Lock()
	if r.last == nil {
		r.last = make(map[string]time.Time)
	}
	now := time.Now()
	quiet := now.Sub(r.last[key]) < refusalLogEvery
	if !quiet {
		r.last[key] = now
	}
	r.mu.Unlock()
	if !quiet {
		logger.Warn(msg, args...)
	}
}

// refused reports whether a send failed because the peer refused this
// node (another cluster ID) or TLS failed: a certificate either end does
// not accept, or TLS on one end only.
func refused(err error) bool {
	st, ok := status.FromError(err)
	if !ok {
		return false
	}
	msg := st.Message()
	return st.Code() == codes.PermissionDenied ||
		st.Code() == codes.Unavailable && (strings.Contains(msg, "handshake") || strings.Contains(msg, "tls:") || strings.Contains(msg, "x509:"))
}
