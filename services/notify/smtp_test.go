package notify_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// mailServer is a real SMTP server in-process that keeps what it receives.
type mailServer struct {
	addr string
	tls  *tls.Config // the server's; clients trust it with clientTLS

	mu       sync.Mutex
	received []received
	attempts []received // every message offered, accepted or not
	fail     []error    // answers to the next DATA commands; nil accepts
	changed  chan struct{}
	user     string
	password string
}

type received struct {
	From    string
	To      []string
	Data    string
	Message *mail.Message
	Authed  string
}

type mailOptions struct {
	implicitTLS    bool
	user, password string
	// dropQuit closes a session's connection when the client says QUIT,
	// instead of answering it: the session's end is lost after the
	// message was accepted.
	dropQuit bool
}

// quitDropper is a listener whose connections close when the client sends
// QUIT, before the server reads it.
type quitDropper struct{ net.Listener }

func (l quitDropper) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return quitDropperConn{c}, nil
}

type quitDropperConn struct{ net.Conn }

func (c quitDropperConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if strings.HasPrefix(strings.ToUpper(string(b[:n])), "QUIT") {
		_ = c.Conn.Close()
		return 0, io.EOF
	}
	return n, err
}

func startMailServer(t *testing.T, o mailOptions) *mailServer {
	t.Helper()
	ms := &mailServer{tls: selfSigned(t), changed: make(chan struct{}), user: o.user, password: o.password}
	s := smtp.NewServer(ms)
	s.Domain = "localhost"
	s.AllowInsecureAuth = true
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	s.TLSConfig = ms.tls
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if o.dropQuit {
		l = quitDropper{l}
	}
	if o.implicitTLS {
		l = tls.NewListener(l, ms.tls)
	}
	ms.addr = l.Addr().String()
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() { _ = s.Close() })
	return ms
}

// clientTLS trusts the server's certificate.
func (ms *mailServer) clientTLS() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(ms.tls.Certificates[0].Leaf)
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}

func (ms *mailServer) failNext(errs ...error) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	ms.fail = append(ms.fail, errs...)
}

func (ms *mailServer) messages() []received {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return append([]received(nil), ms.received...)
}

// offered returns every message offered so far, including those refused.
func (ms *mailServer) offered() []received {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return append([]received(nil), ms.attempts...)
}

// wait returns once n messages arrived, or after timeout.
func (ms *mailServer) wait(n int, timeout time.Duration) []received {
	deadline := time.After(timeout)
	for {
		ms.mu.Lock()
		got, ch := len(ms.received), ms.changed
		ms.mu.Unlock()
		if got >= n {
			return ms.messages()
		}
		select {
		case <-ch:
		case <-deadline:
			return ms.messages()
		}
	}
}

func (ms *mailServer) NewSession(*smtp.Conn) (smtp.Session, error) { return &mailSession{ms: ms}, nil }

type mailSession struct {
	ms     *mailServer
	cur    received
	authed string
}

func (s *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *mailSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.ms.user || pass != s.ms.password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "authentication failed"}
		}
		s.authed = user
		return nil
	}), nil
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.ms.user != "" && s.authed == "" {
		return smtp.ErrAuthRequired
	}
	s.cur = received{From: from, Authed: s.authed}
	return nil
}

func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.ms.mu.Lock()
	defer s.ms.mu.Unlock()
	s.cur.Data = string(b)
	if s.cur.Message, err = mail.ReadMessage(strings.NewReader(s.cur.Data)); err != nil {
		return errors.New("unparsable message")
	}
	s.ms.attempts = append(s.ms.attempts, s.cur)
	if len(s.ms.fail) > 0 {
		err := s.ms.fail[0]
		s.ms.fail = s.ms.fail[1:]
		if err != nil {
			return err
		}
	}
	s.ms.received = append(s.ms.received, s.cur)
	close(s.ms.changed)
	s.ms.changed = make(chan struct{})
	return nil
}

func (s *mailSession) Reset()        { s.cur = received{} }
func (s *mailSession) Logout() error { return nil }

func selfSigned(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}}}
}
