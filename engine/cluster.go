package engine

import (
	"errors"

	"github.com/cockroachdb/pebble/v2"
)

// ClusterID returns the cluster ID recorded at the node's first start, or
// "" if none was.
func (e *Engine) ClusterID() (string, error) {
	if err := e.rlock(); err != nil {
		return "", err
	}
	defer e.closeMu.RUnlock()
	v, closer, err := e.db.Get(keyCluster)
	if errors.Is(err, pebble.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer closer.Close()
	return string(v), nil
}

// SetClusterID records id, durably, as the cluster this node belongs to.
func (e *Engine) SetClusterID(id string) error {
	if err := e.rlock(); err != nil {
		return err
	}
	defer e.closeMu.RUnlock()
	return e.db.Set(keyCluster, []byte(id), pebble.Sync)
}
