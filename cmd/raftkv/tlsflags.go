package main

import (
	"crypto/tls"
	"flag"
	"fmt"

	"github.com/raftkv/raftkv/conf"
)

// tlsFlags are redis-cli's TLS flags, for the commands that talk to a
// node's RESP port.
type tlsFlags struct {
	on, insecure      *bool
	cacert, cert, key *string
}

func addTLSFlags(fs *flag.FlagSet) *tlsFlags {
	return &tlsFlags{
		on:       fs.Bool("tls", false, "connect with TLS (implied by --cacert, --cert and --key)"),
		cacert:   fs.String("cacert", "", "CA certificate (PEM) that signs the node's certificate; default: the system's"),
		cert:     fs.String("cert", "", "client certificate (PEM), for a node with --tls-auth-clients yes"),
		key:      fs.String("key", "", "private key (PEM) of --cert"),
		insecure: fs.Bool("insecure", false, "do not verify the node's certificate"),
	}
}

// config is the TLS configuration the flags ask for, or nil for none.
func (f *tlsFlags) config() (*tls.Config, error) {
	if !*f.on && *f.cacert == "" && *f.cert == "" && *f.key == "" && !*f.insecure {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: *f.insecure}
	var err error
	if *f.cacert != "" {
		if cfg.RootCAs, err = conf.LoadCertPool("--cacert", *f.cacert); err != nil {
			return nil, err
		}
	}
	if (*f.cert == "") != (*f.key == "") {
		return nil, fmt.Errorf("--cert and --key go together")
	}
	if *f.cert != "" {
		c, err := conf.LoadKeyPair("--cert", *f.cert, "--key", *f.key)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return cfg, nil
}
