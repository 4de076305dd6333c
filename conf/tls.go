package conf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// validateTLS checks that the TLS settings come in working sets and that
// their files load.
func (c *Config) validateTLS() error {
	switch c.TLSAuthClients {
	case "yes", "optional", "no":
	default:
		return fmt.Errorf("invalid --tls-auth-clients %q: must be yes, optional or no", c.TLSAuthClients)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return errors.New("invalid TLS settings: --tls-cert-file and --tls-key-file go together")
	}
	if c.TLSCertFile != "" && c.TLSAuthClients != "no" && c.TLSCACertFile == "" {
		return fmt.Errorf("missing --tls-ca-cert-file: --tls-auth-clients %s verifies clients' certificates against it (or set --tls-auth-clients no)", c.TLSAuthClients)
	}
	if c.TLSCertFile != "" {
		if _, err := c.RespTLS(); err != nil {
			return err
		}
	}
	set := 0
	for _, f := range []string{c.PeerTLSCertFile, c.PeerTLSKeyFile, c.PeerTLSCACertFile} {
		if f != "" {
			set++
		}
	}
	if set != 0 && set != 3 {
		return errors.New("invalid peer TLS settings: --peer-tls-cert-file, --peer-tls-key-file and --peer-tls-ca-cert-file go together")
	}
	if set == 3 {
		if _, err := c.PeerTLS(); err != nil {
			return err
		}
	}
	return nil
}

// RespTLS is the RESP port's TLS configuration, or nil when TLS is off.
func (c *Config) RespTLS() (*tls.Config, error) {
	cfg, pool, err := c.respCert()
	if cfg == nil || err != nil {
		return nil, err
	}
	cfg.ClientCAs = pool
	switch c.TLSAuthClients {
	case "yes":
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	case "optional":
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

// ClientTLS is how this node connects to another's RESP port (to join):
// the CA verifies the other node and the certificate identifies this one.
// Nil when TLS is off.
func (c *Config) ClientTLS() (*tls.Config, error) {
	cfg, pool, err := c.respCert()
	if cfg == nil || err != nil {
		return nil, err
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// respCert is a TLS configuration holding the RESP certificate, and the
// pool of --tls-ca-cert-file (nil if unset); nil when TLS is off.
func (c *Config) respCert() (*tls.Config, *x509.CertPool, error) {
	if c.TLSCertFile == "" {
		return nil, nil, nil
	}
	cert, err := LoadKeyPair("--tls-cert-file", c.TLSCertFile, "--tls-key-file", c.TLSKeyFile)
	if err != nil {
		return nil, nil, err
	}
	var pool *x509.CertPool
	if c.TLSCACertFile != "" {
		if pool, err = LoadCertPool("--tls-ca-cert-file", c.TLSCACertFile); err != nil {
			return nil, nil, err
		}
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, pool, nil
}

// PeerTLS is the mutual TLS configuration between peers, both ends, or nil
// when peer TLS is off: each side presents its certificate and accepts the
// other's only if the cluster CA signed it.
func (c *Config) PeerTLS() (*tls.Config, error) {
	if c.PeerTLSCertFile == "" {
		return nil, nil
	}
	cert, err := LoadKeyPair("--peer-tls-cert-file", c.PeerTLSCertFile, "--peer-tls-key-file", c.PeerTLSKeyFile)
	if err != nil {
		return nil, err
	}
	pool, err := LoadCertPool("--peer-tls-ca-cert-file", c.PeerTLSCACertFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// LoadKeyPair loads a certificate and its key, naming the settings they
// came from in its error.
func LoadKeyPair(certFlag, certFile, keyFlag, keyFile string) (tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return cert, fmt.Errorf("invalid %s %s or %s %s: %w", certFlag, certFile, keyFlag, keyFile, err)
	}
	return cert, nil
}

// LoadCertPool loads the PEM certificates of file, naming the setting it
// came from in its error.
func LoadCertPool(flag, file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("invalid %s: %w", flag, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("invalid %s %s: no PEM certificate in it", flag, file)
	}
	return pool, nil
}
