package web

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// ShutdownGrace is how long Serve lets requests in flight finish once ctx
// ends, before it cuts them off. Long enough for a kernel or initrd over a
// LAN to complete; a machine cut off mid-download retries on its own.
const ShutdownGrace = 10 * time.Second

// Serve serves h on ln until ctx ends, then shuts down gracefully: it stops
// accepting, closes idle connections, waits up to ShutdownGrace for requests
// in flight, and returns nil (or an error saying requests were cut off).
// With a non-nil tlsConfig, which must carry a certificate, it serves HTTPS
// (and HTTP/2) instead of HTTP. Serve closes ln.
//
// Requests do not see ctx: a shutdown lets them finish rather than cancel
// their inventory writes halfway through a boot.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, tlsConfig *tls.Config) error {
	if tlsConfig != nil && len(tlsConfig.Certificates) == 0 && tlsConfig.GetCertificate == nil && tlsConfig.GetConfigForClient == nil {
		ln.Close()
		return errors.New("web: the TLS config has no certificate; load one with LoadTLSConfig")
	}
	srv := &http.Server{
		Handler: h,
		// Slow-header clients (slowloris) must not hold connections forever;
		// bodies are small (MaxAPIBodyBytes), so a minute is plenty.
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		// No WriteTimeout: a 30 MB initrd to a slow machine may take long,
		// and a write timeout would break it at a fixed size/speed ratio.
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		TLSConfig:      tlsConfig,
	}
	if hh, ok := h.(*Handler); ok {
		// TLS handshake failures and the like otherwise go to the standard
		// logger, beside rather than in the server's log.
		srv.ErrorLog = slog.NewLogLogger(hh.log.Handler(), slog.LevelWarn)
		// Status page event streams never end on their own.
		srv.RegisterOnShutdown(hh.stopStreams)
	}
	errc := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		// Only Shutdown makes Serve return ErrServerClosed, so this is a
		// real failure, such as the listener being closed under us.
		return fmt.Errorf("web: serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownGrace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		srv.Close()
	}
	<-errc // ErrServerClosed, now that Shutdown or Close has run
	if err != nil {
		return fmt.Errorf("web: requests still running %s after shutdown began were cut off: %w", ShutdownGrace, err)
	}
	return nil
}

// LoadTLSConfig loads a PEM certificate and key for Serve.
//
// Besides Go's default (forward-secret) suites it enables the
// RSA-key-exchange AES suites, which Go leaves off by default since 1.22:
// iPXE builds from before 2022, such as Debian 12's ipxe
// 1.0.0+git-20190125, speak nothing else, and without them such an iPXE
// cannot fetch its script over https. Go's server still picks an ECDHE
// suite (or TLS 1.3) for every client that offers one, so only those old
// clients get RSA key exchange. The certificate must then be an RSA one,
// and iPXE must trust its issuer (iPXE embeds its trust roots at build
// time).
func LoadTLSConfig(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("web: loading TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		CipherSuites: []uint16{
			// Go's defaults for TLS 1.2 (TLS 1.3 suites are not configurable).
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
			tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
			tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
			// What old iPXE offers.
			tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_RSA_WITH_AES_128_CBC_SHA256,
			tls.TLS_RSA_WITH_AES_128_CBC_SHA,
			tls.TLS_RSA_WITH_AES_256_CBC_SHA,
		},
	}, nil
}
