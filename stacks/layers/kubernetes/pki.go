package kubernetes

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	"github.com/stratastack/strata/stacks/layers"
)

// keys are the cluster's bootstrap secrets, all derived from the stack's
// seed so every render of a stack agrees on them.
type keys struct {
	ca       *ecdsa.PrivateKey
	caKeyPEM string // only ever written to control plane 0
	// caHash pins the CA for joiners: sha256 of its SubjectPublicKeyInfo,
	// the form kubeadm's --discovery-token-ca-cert-hash takes.
	caHash string
	// token is a kubeadm bootstrap token, [a-z0-9]{6}.[a-z0-9]{16}.
	token string
	// certKey encrypts the control-plane certificates kubeadm uploads
	// (kubeadm-certs Secret): 32 bytes as 64 hex characters.
	certKey string
}

// purpose scopes a secret to one layer, so two kubernetes layers of a
// stack get different CAs and tokens.
func purpose(layer, what string) string { return "kubernetes/" + layer + "/" + what }

func deriveKeys(sec layers.Secrets, layer string) (*keys, error) {
	if sec == nil {
		return nil, fmt.Errorf("kubernetes: no secrets to derive the cluster CA and tokens from")
	}
	k := &keys{
		token:   sec.Token(purpose(layer, "token-id"), 6) + "." + sec.Token(purpose(layer, "token-secret"), 16),
		certKey: hex.EncodeToString(sec.Key(purpose(layer, "certificate-key"), 32)),
	}
	// A P-256 scalar must be non-zero and below the group order; 32 random
	// bytes miss that with probability ~2^-32, so retrying a few counters
	// always lands.
	for i := 0; i < 8 && k.ca == nil; i++ {
		p := purpose(layer, "ca")
		if i > 0 {
			p = fmt.Sprintf("%s#%d", p, i)
		}
		k.ca, _ = ecdsa.ParseRawPrivateKey(elliptic.P256(), sec.Key(p, 32))
	}
	if k.ca == nil {
		return nil, fmt.Errorf("kubernetes: could not derive a P-256 CA key")
	}
	der, err := x509.MarshalECPrivateKey(k.ca)
	if err != nil {
		return nil, err
	}
	k.caKeyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	spki, err := x509.MarshalPKIXPublicKey(&k.ca.PublicKey)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(spki)
	k.caHash = "sha256:" + hex.EncodeToString(sum[:])
	return k, nil
}

// caCertPEM self-signs the CA certificate in Go, for every control plane 0
// (the kind node image has no openssl) and for Strata's admin client; the
// signature is RFC 6979 deterministic (nil rand) and the validity window
// fixed, so every render of a stack yields the same certificate.
func (k *keys) caCertPEM(sec layers.Secrets, layer string) (string, error) {
	serial := new(big.Int).SetBytes(sec.Key(purpose(layer, "ca-serial"), 16))
	serial.SetBit(serial, 127, 0) // positive and at most 16 bytes
	serial.SetBit(serial, 126, 1) // never zero
	notBefore := time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "kubernetes"},
		NotBefore:             notBefore,
		NotAfter:              notBefore.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, &k.ca.PublicKey, k.ca)
	if err != nil {
		return "", fmt.Errorf("kubernetes: self-signing the CA: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), nil
}

// CA returns the certificate and key of the cluster CA of the kubernetes
// layer named layer, as every render of the stack derives them: what a
// test serves an API server with, so that Strata's admin client is
// trusted by it and trusts it.
func CA(sec layers.Secrets, layer string) (certPEM, keyPEM []byte, err error) {
	k, err := deriveKeys(sec, layer)
	if err != nil {
		return nil, nil, err
	}
	cert, err := k.caCertPEM(sec, layer)
	if err != nil {
		return nil, nil, err
	}
	return []byte(cert), []byte(k.caKeyPEM), nil
}

// adminName is the user Strata acts as on a cluster it reaches as a host;
// its group system:masters is bound to cluster-admin by every kubeadm
// cluster.
const adminName = "strata:admin"

// adminCert makes a short-lived client certificate for adminName, signed by
// the cluster CA. The key is fresh each time: it never leaves the process.
func (k *keys) adminCert(sec layers.Secrets, layer string, now time.Time) (certPEM, keyPEM []byte, err error) {
	caPEM, err := k.caCertPEM(sec, layer)
	if err != nil {
		return nil, nil, err
	}
	block, _ := pem.Decode([]byte(caPEM))
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial.Add(serial, big.NewInt(1)),
		Subject:      pkix.Name{CommonName: adminName, Organization: []string{"system:masters"}},
		NotBefore:    now.Add(-5 * time.Minute), // tolerate a server clock a little behind
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, k.ca)
	if err != nil {
		return nil, nil, fmt.Errorf("kubernetes: signing the admin client certificate: %w", err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}
