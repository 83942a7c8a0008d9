package secrets

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// SeedSize is the length of a stack's seed in bytes.
const SeedSize = 32

// Seed derives all of one stack's secrets.
type Seed struct{ key []byte }

// New wraps a seed of SeedSize bytes.
func New(seed []byte) (*Seed, error) {
	if len(seed) != SeedSize {
		return nil, fmt.Errorf("secrets: seed is %d bytes, want %d", len(seed), SeedSize)
	}
	return &Seed{key: append([]byte(nil), seed...)}, nil
}

// Generate makes a fresh random seed.
func Generate() (*Seed, error) {
	b := make([]byte, SeedSize)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return New(b)
}

// Hex returns the seed for storage (Terraform state, a 0600 file).
func (s *Seed) Hex() string { return hex.EncodeToString(s.key) }

// Parse reads a seed written by Hex.
func Parse(h string) (*Seed, error) {
	b, err := hex.DecodeString(strings.TrimSpace(h))
	if err != nil {
		return nil, fmt.Errorf("secrets: seed is not hex: %w", err)
	}
	return New(b)
}

// Key returns n bytes for purpose: HMAC-SHA256 in counter mode.
func (s *Seed) Key(purpose string, n int) []byte {
	out := make([]byte, 0, n+sha256.Size)
	var ctr [4]byte
	for i := uint32(0); len(out) < n; i++ {
		binary.BigEndian.PutUint32(ctr[:], i)
		m := hmac.New(sha256.New, s.key)
		m.Write([]byte(purpose))
		m.Write(ctr[:])
		out = m.Sum(out)
	}
	return out[:n]
}

const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// Token returns n characters of [a-z0-9] for purpose. Rejection sampling
// keeps every character equally likely.
func (s *Seed) Token(purpose string, n int) string {
	var b strings.Builder
	for round := 0; b.Len() < n; round++ {
		for _, c := range s.Key(fmt.Sprintf("%s#%d", purpose, round), 2*n) {
			if int(c) < 252 { // 252 = 7*36: no bias
				b.WriteByte(alphabet[int(c)%len(alphabet)])
				if b.Len() == n {
					break
				}
			}
		}
	}
	return b.String()
}

// LoadOrCreate reads the seed kept at path, or makes one and writes it there
// (mode 0600, written to a temporary file and renamed into place).
func LoadOrCreate(path string) (*Seed, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return Parse(string(b))
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	s, err := Generate()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".seed-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(s.Hex() + "\n"); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	// Link, not rename: if another process created the file first, keep theirs.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return LoadOrCreate(path)
		}
		return nil, err
	}
	return s, nil
}
