package web

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stratastack/strata/provisioners/baremetal/inventory"
)

// selfSigned makes a certificate for 127.0.0.1 and writes it and its key as
// PEM files, for LoadTLSConfig.
func selfSigned(t *testing.T, key crypto.Signer) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "strata boot server test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	must(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	must(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))
	return certFile, keyFile, pool
}

// TestServe runs the handler with Serve over plain HTTP and TLS, does a
// round trip, and checks that cancelling the context shuts it down
// promptly.
func TestServe(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		// key is nil for plain HTTP.
		key crypto.Signer
		// legacyClient restricts the client to the suites of a pre-2022
		// iPXE; tls12 to TLS 1.2 with Go's default suites.
		legacyClient, tls12 bool
		wantSuites          []uint16 // any of these
	}{
		{name: "http"},
		{name: "tls 1.3, ECDSA", key: ecKey, wantSuites: []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_CHACHA20_POLY1305_SHA256}},
		{name: "tls 1.2 RSA key exchange, as old iPXE", key: rsaKey, legacyClient: true, wantSuites: ipxe2019Suites()},
		// Enabling those suites must not downgrade clients that can do better.
		{name: "tls 1.2 modern client still gets ECDHE", key: rsaKey, tls12: true,
			wantSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil) // only for its store
			f.putProfile(inventory.Profile{Name: "p1", Kernel: "vmlinuz"})
			f.register("m1", "52:54:00:00:00:01", "p1")
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			scheme := "http"
			var tlsCfg *tls.Config
			client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
			if tt.key != nil {
				scheme = "https"
				certFile, keyFile, pool := selfSigned(t, tt.key)
				if tlsCfg, err = LoadTLSConfig(certFile, keyFile); err != nil {
					t.Fatal(err)
				}
				ccfg := &tls.Config{RootCAs: pool}
				if tt.tls12 {
					ccfg.MaxVersion = tls.VersionTLS12
				}
				if tt.legacyClient {
					ccfg.MaxVersion = tls.VersionTLS12
					ccfg.CipherSuites = ipxe2019Suites()
				}
				// HTTP/2 forbids RSA key exchange (RFC 9113 9.2.2); iPXE speaks
				// HTTP/1.1 anyway.
				client.Transport = &http.Transport{TLSClientConfig: ccfg, ForceAttemptHTTP2: !tt.legacyClient}
			}
			base := scheme + "://" + ln.Addr().String()
			h, err := New(Config{Store: f.store, APIToken: testAPIToken, PublicURL: base})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- Serve(ctx, ln, h, tlsCfg) }()

			resp, err := client.Get(base + "/boot.ipxe?mac=52:54:00:00:00:01")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), "chain "+base+"/machines/m1/boot.ipxe?token=") {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			if tt.key != nil {
				if resp.TLS == nil || !slices.Contains(tt.wantSuites, resp.TLS.CipherSuite) {
					t.Errorf("TLS state %+v, want one of suites %v", resp.TLS, tt.wantSuites)
				}
			}

			// The client keeps an idle connection open; shutdown must not wait
			// for it (beyond HTTP/2's 1 s for its GOAWAY to be read).
			start := time.Now()
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Serve after cancel: %v", err)
				}
			case <-time.After(3 * time.Second):
				t.Fatal("Serve did not return within 3 s of cancel")
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("shutdown took %s", d)
			}
			if _, err := client.Get(base + "/boot.ipxe"); err == nil {
				t.Error("server still answering after shutdown")
			}
		})
	}
}

// ipxe2019Suites is what Debian 12's iPXE (1.0.0+git-20190125) offers, as
// far as Go implements it: RSA key exchange with AES-CBC.
func ipxe2019Suites() []uint16 {
	return []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA256, tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_256_CBC_SHA}
}

// TestServeErrors: a TLS config without a certificate and a closed listener
// are errors, not hangs.
func TestServeErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := Serve(t.Context(), ln, http.NotFoundHandler(), &tls.Config{}); err == nil || !strings.Contains(err.Error(), "no certificate") {
		t.Errorf("TLS without certificate: %v", err)
	}
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	errc := make(chan error, 1)
	go func() { errc <- Serve(t.Context(), ln, http.NotFoundHandler(), nil) }()
	select {
	case err := <-errc:
		if err == nil {
			t.Error("Serve on a closed listener returned nil")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Serve on a closed listener hangs")
	}
	if _, err := LoadTLSConfig("/nonexistent/cert.pem", "/nonexistent/key.pem"); err == nil {
		t.Error("LoadTLSConfig of missing files succeeded")
	}
}
