// Package peer carries Raft messages between raftkv nodes over gRPC.
//
// Each node keeps one long-lived client stream to every peer. A per-peer
// bounded queue decouples the Raft loop from the network: Send never
// blocks, and a message that finds the queue full is dropped and counted,
// which Raft tolerates. A sender goroutine per peer takes everything queued
// at once and sends it as one Batch; when the stream breaks it logs the
// loss once, drops what was queued, and reconnects with exponential
// backoff, logging once when the peer is reachable again.
//
// The protocol is in peerpb/peer.proto; the generated code beside it is
// committed and rebuilt with go generate.
package peer

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative peerpb/peer.proto
