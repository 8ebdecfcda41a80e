package ingest

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"
)

// certificate serves the key pair in certFile and keyFile, loading it again
// when either file changes, so that a renewed certificate is served without
// a restart. A pair that fails to load (a renewal half written, say) leaves
// the one loaded before in service.
type certificate struct {
	certFile, keyFile string

	mu   sync.Mutex
	cert *tls.Certificate
	mod  time.Time // the files' newest modification when cert was loaded
}

// newCertificate loads the pair once, reporting why it cannot be.
func newCertificate(certFile, keyFile string) (*certificate, error) {
	c := &certificate{certFile: certFile, keyFile: keyFile}
	if _, err := c.get(nil); err != nil {
		return nil, err
	}
	return c, nil
}

// get is tls.Config.GetCertificate. It reads the files only when they
// changed since the pair in service was loaded.
func (c *certificate) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	mod, err := newestModification(c.certFile, c.keyFile)
	if err == nil && (c.cert == nil || mod.After(c.mod)) {
		var pair tls.Certificate
		if pair, err = tls.LoadX509KeyPair(c.certFile, c.keyFile); err == nil {
			c.cert, c.mod = &pair, mod
		}
	}
	if c.cert == nil {
		return nil, fmt.Errorf("tls_cert_file and tls_key_file: %w", err)
	}
	return c.cert, nil
}

func newestModification(files ...string) (time.Time, error) {
	var newest time.Time
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return time.Time{}, err
		}
		if st.ModTime().After(newest) {
			newest = st.ModTime()
		}
	}
	return newest, nil
}

// tlsConfig serves HTTPS with c: TLS 1.2 or later, HTTP/2 offered.
func tlsConfig(c *certificate) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.get, NextProtos: []string{"h2", "http/1.1"}}
}
