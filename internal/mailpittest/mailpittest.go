// Package mailpittest runs a real SMTP server (mailpit, a Go tool of this module) on
// loopback for tests, with STARTTLS and authentication required as in production, and reads
// what arrived through its HTTP API.
package mailpittest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is one mailpit process.
type Server struct {
	SMTPPort int
	// API is the base URL of mailpit's HTTP API.
	API string
	// TLSConfig trusts the server's self-signed certificate; CertFile is that certificate
	// as PEM, for configurations that name a CA file.
	TLSConfig *tls.Config
	CertFile  string

	t    testing.TB
	args []string
	cmd  *exec.Cmd
	log  *os.File
}

// Start runs mailpit on two free loopback ports and waits until it answers. The first
// start with a fresh build cache compiles mailpit (about 20 s).
func Start(t testing.TB) *Server {
	t.Helper()
	dir := t.TempDir()
	cert, key, pool := selfSigned(t)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, cert, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	smtpPort, httpPort := freePort(t), freePort(t)
	s := &Server{SMTPPort: smtpPort, API: fmt.Sprintf("http://127.0.0.1:%d", httpPort), t: t,
		TLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}, CertFile: certFile}
	s.args = []string{"--disable-version-check", "--quiet",
		"--smtp", "127.0.0.1:" + strconv.Itoa(smtpPort), "--listen", "127.0.0.1:" + strconv.Itoa(httpPort),
		"--database", filepath.Join(dir, "mailpit.db"), "--smtp-disable-rdns",
		"--smtp-tls-cert", certFile, "--smtp-tls-key", keyFile, "--smtp-require-starttls", "--smtp-auth-accept-any"}
	log, err := os.Create(filepath.Join(dir, "mailpit.log"))
	if err != nil {
		t.Fatal(err)
	}
	s.log = log
	s.start()
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	bin := binary(s.t)
	s.cmd = exec.Command(bin, s.args...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start mailpit: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.API + "/api/v1/info")
		if err == nil {
			resp.Body.Close()
			if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.SMTPPort)); err == nil {
				c.Close()
				return
			}
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(s.log.Name())
			s.t.Fatalf("mailpit did not start: %v\n%s", err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop ends the server (its ports refuse connections until Restart).
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// Restart starts the server again on the same ports, with the messages it had.
func (s *Server) Restart() {
	s.Stop()
	s.start()
}

// Address is one recipient or sender.
type Address struct {
	Name    string `json:"Name"`
	Address string `json:"Address"`
}

// Summary is a message in the list.
type Summary struct {
	ID      string    `json:"ID"`
	From    Address   `json:"From"`
	To      []Address `json:"To"`
	Subject string    `json:"Subject"`
}

// Part is an attachment or inline file.
type Part struct {
	PartID      string `json:"PartID"`
	FileName    string `json:"FileName"`
	ContentType string `json:"ContentType"`
	ContentID   string `json:"ContentID"`
}

// Message is one message in full.
type Message struct {
	Summary
	Text        string `json:"Text"`
	HTML        string `json:"HTML"`
	Attachments []Part `json:"Attachments"`
	Inline      []Part `json:"Inline"`
}

// Messages lists what arrived, newest first.
func (s *Server) Messages() []Summary {
	s.t.Helper()
	var out struct {
		Messages []Summary `json:"messages"`
	}
	s.get("/api/v1/messages?limit=500", &out)
	return out.Messages
}

// Message reads one message.
func (s *Server) Message(id string) Message {
	s.t.Helper()
	var m Message
	s.get("/api/v1/message/"+id, &m)
	return m
}

// PartData reads an attachment's bytes.
func (s *Server) PartData(id, part string) []byte {
	s.t.Helper()
	return s.raw("/api/v1/message/" + id + "/part/" + part)
}

// Source is the raw message as it arrived (headers and MIME parts).
func (s *Server) Source(id string) []byte {
	s.t.Helper()
	return s.raw("/api/v1/message/" + id + "/raw")
}

func (s *Server) get(path string, v any) {
	s.t.Helper()
	if err := json.Unmarshal(s.raw(path), v); err != nil {
		s.t.Fatalf("mailpit %s: %v", path, err)
	}
}

func (s *Server) raw(path string) []byte {
	s.t.Helper()
	resp, err := http.Get(s.API + path)
	if err != nil {
		s.t.Fatalf("mailpit %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		s.t.Fatalf("mailpit %s: %d %v %s", path, resp.StatusCode, err, b)
	}
	return b
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// binary is the mailpit executable that `go tool mailpit` runs, built once (`go tool -n`
// builds it and prints its path), so the test starts and stops the server itself rather
// than the go command wrapped around it.
func binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		out, err := exec.Command("go", "tool", "-n", "mailpit").Output()
		if err != nil {
			binErr = fmt.Errorf("go tool -n mailpit: %w", err)
			return
		}
		binPath = strings.TrimSpace(string(out))
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t testing.TB) (certPEM, keyPEM []byte, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mailpit test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), pool
}
