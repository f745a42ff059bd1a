package httpserver

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certificate serves the TLS certificate from --tls-cert-file and
// --tls-key-file, and picks up new files without a restart: each handshake
// compares the files' size and modification time with those of the pair it
// holds (two stats, small beside a handshake) and loads the pair again when
// either changed. A pair that does not load (a renewal caught half-written,
// a key that does not match) is logged once and the previous one is kept;
// the next handshake after the files change again tries once more.
type certificate struct {
	certFile, keyFile string
	logger            *slog.Logger

	mu     sync.Mutex
	cert   *tls.Certificate // guarded by mu
	loaded stamp            // guarded by mu: the files cert was loaded from
	failed *stamp           // guarded by mu: the files that last failed to load
	warned string           // guarded by mu: the last failure logged
}

// stamp identifies a version of the two files.
type stamp struct {
	certSize, keySize int64
	certMod, keyMod   time.Time
}

// loadCertificate reads the pair once, at startup, where a mistake must
// stop the server.
func loadCertificate(certFile, keyFile string, logger *slog.Logger) (*certificate, error) {
	switch {
	case certFile == "" && keyFile == "":
		return nil, nil
	case keyFile == "":
		return nil, errors.New("--tls-cert-file (AIGATE_TLS_CERT_FILE) is set but --tls-key-file (AIGATE_TLS_KEY_FILE) is not: give both to serve HTTPS, or neither to serve plain HTTP")
	case certFile == "":
		return nil, errors.New("--tls-key-file (AIGATE_TLS_KEY_FILE) is set but --tls-cert-file (AIGATE_TLS_CERT_FILE) is not: give both to serve HTTPS, or neither to serve plain HTTP")
	}
	c := &certificate{certFile: certFile, keyFile: keyFile, logger: logger}
	st, err := c.stat()
	if err != nil {
		return nil, err
	}
	cert, err := c.load()
	if err != nil {
		return nil, err
	}
	c.cert, c.loaded = cert, st
	logger.Info("TLS certificate loaded", certAttrs(c.certFile, cert)...)
	return c, nil
}

func (c *certificate) stat() (stamp, error) {
	ci, err := os.Stat(c.certFile)
	if err != nil {
		return stamp{}, fmt.Errorf("TLS certificate %s: %w; check --tls-cert-file (AIGATE_TLS_CERT_FILE) and that aigate's user may read the file", c.certFile, err)
	}
	ki, err := os.Stat(c.keyFile)
	if err != nil {
		return stamp{}, fmt.Errorf("TLS key %s: %w; check --tls-key-file (AIGATE_TLS_KEY_FILE) and that aigate's user may read the file", c.keyFile, err)
	}
	return stamp{certSize: ci.Size(), keySize: ki.Size(), certMod: ci.ModTime(), keyMod: ki.ModTime()}, nil
}

// load reads and checks the pair. Its errors name the files and never hold
// their contents.
func (c *certificate) load() (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(c.certFile)
	if err != nil {
		return nil, fmt.Errorf("read TLS certificate %s: %w; check --tls-cert-file (AIGATE_TLS_CERT_FILE) and that aigate's user may read the file", c.certFile, err)
	}
	keyPEM, err := os.ReadFile(c.keyFile)
	if err != nil {
		return nil, fmt.Errorf("read TLS key %s: %w; check --tls-key-file (AIGATE_TLS_KEY_FILE) and that aigate's user may read the file", c.keyFile, err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s and key %s: %w; give a PEM certificate chain (server certificate first) and the PEM private key it was issued for", c.certFile, c.keyFile, err)
	}
	return &cert, nil
}

// get is tls.Config.GetCertificate.
func (c *certificate) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	st, err := c.stat()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil && st.same(c.loaded) {
		return c.cert, nil
	}
	if err == nil && c.failed != nil && st.same(*c.failed) {
		return c.cert, nil
	}
	if err == nil {
		cert, loadErr := c.load()
		if loadErr == nil {
			c.cert, c.loaded, c.failed, c.warned = cert, st, nil, ""
			c.logger.Info("TLS certificate reloaded", certAttrs(c.certFile, cert)...)
			return cert, nil
		}
		c.failed, err = &st, loadErr
	}
	// Files being replaced can be missing or half-written for a moment;
	// say so once, not on every handshake.
	if msg := err.Error(); msg != c.warned {
		c.warned = msg
		c.logger.Warn("TLS certificate files changed but do not load; serving the previous certificate until they are fixed", "error", err)
	}
	return c.cert, nil
}

func (s stamp) same(o stamp) bool {
	return s.certSize == o.certSize && s.keySize == o.keySize && s.certMod.Equal(o.certMod) && s.keyMod.Equal(o.keyMod)
}

func certAttrs(file string, cert *tls.Certificate) []any {
	attrs := []any{"file", file}
	if leaf, err := x509.ParseCertificate(cert.Certificate[0]); err == nil {
		attrs = append(attrs, "subject", leaf.Subject.String(), "not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return attrs
}
