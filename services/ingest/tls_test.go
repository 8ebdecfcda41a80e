package ingest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gtmhub/gtmhub/events/eventstest"
	"github.com/gtmhub/gtmhub/events/service"
)

// writeCert writes a self-signed certificate for 127.0.0.1 with serial
// and its key to dir, dated mod, and returns the certificate.
func writeCert(t *testing.T, dir string, serial int64, mod time.Time) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "ingest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for name, block := range map[string]*pem.Block{"cert.pem": {Type: "CERTIFICATE", Bytes: der},
		"key.pem": {Type: "EC PRIVATE KEY", Bytes: keyDER}} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestServeTLS: with a certificate and key, ingest answers webhooks over
// HTTPS only, and a certificate renewed on disk is served at the next
// handshake without a restart.
func TestServeTLS(t *testing.T) {
	srv := eventstest.RunServer(t)
	dir := t.TempDir()
	first := writeCert(t, dir, 1, time.Now().Add(-time.Minute))
	cfg := testConfig()
	cfg.TLSCertFile, cfg.TLSKeyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, ln, cfg, service.Deps{Conn: srv.Conn, Logger: testLogger(t)}) }()
	t.Cleanup(func() { cancel(); <-served })
	base := "https://" + ln.Addr().String() + "/webhooks/form"

	post := func(trusted *x509.Certificate) (*http.Response, error) {
		pool := x509.NewCertPool()
		pool.AddCert(trusted)
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
		defer client.CloseIdleConnections()
		return client.Post(base, "application/json", strings.NewReader(exampleLead))
	}
	resp, err := post(first)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || resp.ProtoMajor != 2 {
		t.Fatalf("HTTPS: %s over %s, want 202 over HTTP/2", resp.Status, resp.Proto)
	}
	if plain, err := http.Post("http://"+ln.Addr().String()+"/webhooks/form", "application/json",
		strings.NewReader(exampleLead)); err == nil {
		plain.Body.Close()
		if plain.StatusCode == http.StatusAccepted {
			t.Error("plain HTTP accepted a webhook on the HTTPS listener")
		}
	}

	renewed := writeCert(t, dir, 2, time.Now().Add(time.Minute))
	if _, err := post(first); err == nil {
		t.Error("the replaced certificate is still served")
	}
	resp, err = post(renewed)
	if err != nil {
		t.Fatalf("the renewed certificate is not served: %v", err)
	}
	resp.Body.Close()
}

func TestTLSConfigProblems(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir, 1, time.Now())
	tests := []struct {
		name, cert, key, want string
	}{
		{"cert without key", filepath.Join(dir, "cert.pem"), "", "set both or neither"},
		{"key without cert", "", filepath.Join(dir, "key.pem"), "set both or neither"},
		{"missing file", filepath.Join(dir, "nope.pem"), filepath.Join(dir, "key.pem"), "nope.pem"},
		{"key for the cert swapped", filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem"), "tls_cert_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.TLSCertFile, cfg.TLSKeyFile = tt.cert, tt.key
			if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error saying %q", err, tt.want)
			}
		})
	}
}
