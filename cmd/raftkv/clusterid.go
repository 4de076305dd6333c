package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"

	"github.com/raftkv/raftkv/conf"
	"github.com/raftkv/raftkv/engine"
)

// settleClusterID returns the cluster this node belongs to, recording it
// at the node's first start: --cluster-id when given; else, for a founding
// member, one derived from --peers (every founding member is started with
// the same list); else, for a node that joins, the cluster's own, asked of
// --join. Later starts use what was recorded, and refuse a --cluster-id
// that differs from it.
func settleClusterID(cfg *conf.Config, eng *engine.Engine, logger hclog.Logger) (string, error) {
	stored, err := eng.ClusterID()
	if err != nil {
		return "", err
	}
	if stored != "" {
		if cfg.ClusterID != "" && cfg.ClusterID != stored {
			return "", fmt.Errorf("--cluster-id %q differs from %q, the cluster the data in %s belongs to", cfg.ClusterID, stored, cfg.DataDir)
		}
		return stored, nil
	}
	id, from := cfg.ClusterID, "--cluster-id"
	if id == "" && cfg.Join != "" {
		from = "the cluster at " + cfg.Join
		if id, err = askClusterID(cfg, logger); err != nil {
			return "", err
		}
	} else if id == "" {
		id, from = derivedClusterID(cfg.Peers), "--peers"
	}
	if err := eng.SetClusterID(id); err != nil {
		return "", fmt.Errorf("record the cluster ID: %w", err)
	}
	logger.Info("cluster ID recorded", "cluster_id", id, "from", from)
	return id, nil
}

// derivedClusterID names the cluster founded by peers: a hash of their IDs
// and peer addresses.
func derivedClusterID(peers []conf.Peer) string {
	parts := make([]string, len(peers))
	for i, p := range peers {
		parts[i] = fmt.Sprintf("%d=%s", p.ID, p.PeerAddr)
	}
	slices.Sort(parts)
	sum := sha256.Sum256([]byte(strings.Join(parts, ",")))
	return hex.EncodeToString(sum[:8])
}

// askClusterIDWait bounds how long a joining node waits for the cluster to
// tell it its ID.
const askClusterIDWait = time.Minute

// askClusterID reads the cluster ID from RAFT.INFO of the node at --join.
func askClusterID(cfg *conf.Config, logger hclog.Logger) (string, error) {
	tlsCfg, err := cfg.ClientTLS()
	if err != nil {
		return "", err
	}
	deadline := time.Now().Add(askClusterIDWait)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		cl := redis.NewClient(&redis.Options{Addr: cfg.Join, Password: cfg.RequirePass, TLSConfig: tlsCfg, MaxRetries: -1, Protocol: 2})
		info, err := cl.Do(ctx, "RAFT.INFO").Text()
		cl.Close()
		cancel()
		if err == nil {
			for _, line := range strings.Split(info, "\r\n") {
				if id, ok := strings.CutPrefix(line, "cluster_id:"); ok && id != "" {
					return id, nil
				}
			}
			err = fmt.Errorf("RAFT.INFO has no cluster_id")
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("learn the cluster ID from --join %s: %w (give --cluster-id to start anyway)", cfg.Join, err)
		}
		logger.Warn("cannot learn the cluster ID yet; retrying", "via", cfg.Join, "error", err)
		time.Sleep(time.Second)
	}
}
