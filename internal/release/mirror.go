package release

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/dirhash"
)

// Hash1 is Terraform's "h1:" hash of a provider zip: the hash of the
// files it holds, which terraform init checks and writes to
// .terraform.lock.hcl whether it installed from the zip or unpacked.
func Hash1(zipPath string) (string, error) {
	return dirhash.HashZip(zipPath, dirhash.Hash1)
}

// HashZ is Terraform's "zh:" hash: the zip's own SHA-256.
func HashZ(zipPath string) (string, error) {
	sum, err := fileSHA256(zipPath)
	return "zh:" + sum, err
}

// Mirror adds the release's provider zips to a network mirror rooted at
// dir, in the layout of Terraform's provider network mirror protocol:
// dir/registry.terraform.io/stratastack/strata/{index.json, VERSION.json,
// the zips}. Versions already in the mirror stay listed, so one folder
// serves every version a team pins. Serve dir over HTTPS.
func Mirror(a Artifacts, dir string) error {
	if len(a.Provider) == 0 {
		return errors.New("release: no provider archives to mirror")
	}
	base := filepath.Join(dir, filepath.FromSlash(Source))
	if err := os.MkdirAll(base, 0o755); err != nil {
		return err
	}
	type archive struct {
		URL    string   `json:"url"`
		Hashes []string `json:"hashes"`
	}
	archives := map[string]archive{}
	for p, zip := range a.Provider {
		if err := copyFile(zip, filepath.Join(base, filepath.Base(zip))); err != nil {
			return err
		}
		h1, err := Hash1(zip)
		if err != nil {
			return err
		}
		zh, err := HashZ(zip)
		if err != nil {
			return err
		}
		archives[p.String()] = archive{URL: filepath.Base(zip), Hashes: []string{h1, zh}}
	}
	if err := writeJSON(filepath.Join(base, a.Version+".json"), map[string]any{"archives": archives}); err != nil {
		return err
	}
	index := struct {
		Versions map[string]struct{} `json:"versions"`
	}{Versions: map[string]struct{}{}}
	if b, err := os.ReadFile(filepath.Join(base, "index.json")); err == nil {
		if err := json.Unmarshal(b, &index); err != nil {
			return fmt.Errorf("release: %s: %w", filepath.Join(base, "index.json"), err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if index.Versions == nil {
		index.Versions = map[string]struct{}{}
	}
	index.Versions[a.Version] = struct{}{}
	return writeJSON(filepath.Join(base, "index.json"), index)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// ParseSums reads a SHA256SUMS file into name → hex digest.
func ParseSums(b []byte) (map[string]string, error) {
	out := map[string]string{}
	for i, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if _, err := hex.DecodeString(sum); !ok || err != nil || len(sum) != 64 || name == "" {
			return nil, fmt.Errorf("SHA256SUMS line %d: %q is not \"HEX  NAME\"", i+1, line)
		}
		out[name] = sum
	}
	return out, nil
}
