package openstack

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// cloudEntry is one entry of clouds.yaml, the fields strata uses.
type cloudEntry struct {
	AuthType           string      `json:"auth_type"`
	Auth               cloudAuth   `json:"auth"`
	RegionName         string      `json:"region_name"`
	Regions            []cloudName `json:"regions"`
	Interface          string      `json:"interface"`
	EndpointType       string      `json:"endpoint_type"`
	IdentityAPIVersion string      `json:"identity_api_version"`
	Verify             *bool       `json:"verify"`
	CACert             string      `json:"cacert"`
	Cert               string      `json:"cert"`
	Key                string      `json:"key"`
}

type cloudAuth struct {
	AuthURL                     string `json:"auth_url"`
	Username                    string `json:"username"`
	UserID                      string `json:"user_id"`
	Password                    string `json:"password"`
	ProjectName                 string `json:"project_name"`
	ProjectID                   string `json:"project_id"`
	TenantName                  string `json:"tenant_name"`
	TenantID                    string `json:"tenant_id"`
	UserDomainName              string `json:"user_domain_name"`
	UserDomainID                string `json:"user_domain_id"`
	ProjectDomainName           string `json:"project_domain_name"`
	ProjectDomainID             string `json:"project_domain_id"`
	DomainName                  string `json:"domain_name"`
	DomainID                    string `json:"domain_id"`
	ApplicationCredentialID     string `json:"application_credential_id"`
	ApplicationCredentialName   string `json:"application_credential_name"`
	ApplicationCredentialSecret string `json:"application_credential_secret"`
}

// cloudName is an entry of `regions`, which openstacksdk takes as a plain
// name or as {name: ...}.
type cloudName string

func (n *cloudName) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*n = cloudName(s)
		return nil
	}
	var o struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return fmt.Errorf("a region is a name or {name: ...}: %w", err)
	}
	*n = cloudName(o.Name)
	return nil
}

// region is the entry's region: region_name, else the first of regions.
func (e cloudEntry) region() string {
	if e.RegionName != "" || len(e.Regions) == 0 {
		return e.RegionName
	}
	return string(e.Regions[0])
}

// searchPaths are the clouds.yaml candidates in the OpenStack CLI's
// order: the current directory, the user's config directory, then
// /etc/openstack. An explicit file replaces the search.
func searchPaths(c Config) []string {
	if c.CloudsFile != "" {
		return []string{c.CloudsFile}
	}
	dirs := []string{"."}
	switch {
	case c.ConfigHome != "":
		dirs = append(dirs, filepath.Join(c.ConfigHome, "openstack"))
	case c.HomeDir != "":
		dirs = append(dirs, filepath.Join(c.HomeDir, ".config", "openstack"))
	}
	dirs = append(dirs, "/etc/openstack")
	var out []string
	for _, d := range dirs {
		out = append(out, filepath.Join(d, "clouds.yaml"), filepath.Join(d, "clouds.yml"))
	}
	return out
}

// findCloud reads the first clouds.yaml found, merges the secure.yaml
// beside it (its values win, as in the OpenStack CLI), and returns the
// named entry and the file it came from.
func findCloud(c Config, name string) (cloudEntry, string, error) {
	paths := searchPaths(c)
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return cloudEntry{}, p, fmt.Errorf("openstack: read %s: %w", p, err)
		}
		clouds, err := parseClouds(raw)
		if err != nil {
			return cloudEntry{}, p, fmt.Errorf("openstack: %s: %w", p, err)
		}
		secure, securePath, err := readSecure(p)
		if err != nil {
			return cloudEntry{}, p, err
		}
		entry, ok := clouds[name]
		if !ok {
			have := slices.Sorted(maps.Keys(clouds))
			msg := fmt.Sprintf("openstack: cloud %q is not in %s", name, p)
			if len(have) == 0 {
				return cloudEntry{}, p, errors.New(msg + " (it has no clouds)")
			}
			return cloudEntry{}, p, fmt.Errorf("%s; its clouds: %s", msg, strings.Join(have, ", "))
		}
		if s, ok := secure[name]; ok {
			entry = merge(entry, s).(map[string]any)
		}
		e, err := decodeEntry(entry)
		if err != nil {
			return cloudEntry{}, p, fmt.Errorf("openstack: cloud %q in %s (with %s): %w", name, p, cmp.Or(securePath, "no secure.yaml"), err)
		}
		return e, p, nil
	}
	if c.CloudsFile != "" {
		return cloudEntry{}, "", fmt.Errorf("openstack: cloud %q: clouds file %s (OS_CLIENT_CONFIG_FILE) does not exist", name, c.CloudsFile)
	}
	return cloudEntry{}, "", fmt.Errorf("openstack: cloud %q: no clouds.yaml found (looked for %s)", name, strings.Join(paths, ", "))
}

// readSecure reads the secure.yaml (or secure.yml) beside a clouds file;
// none is not an error.
func readSecure(cloudsPath string) (map[string]map[string]any, string, error) {
	dir := filepath.Dir(cloudsPath)
	for _, n := range []string{"secure.yaml", "secure.yml"} {
		p := filepath.Join(dir, n)
		raw, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, p, fmt.Errorf("openstack: read %s: %w", p, err)
		}
		s, err := parseClouds(raw)
		if err != nil {
			return nil, p, fmt.Errorf("openstack: %s: %w", p, err)
		}
		return s, p, nil
	}
	return nil, "", nil
}

// parseClouds splits a clouds.yaml (or secure.yaml) into its entries,
// still untyped so secure.yaml can be merged key by key.
func parseClouds(raw []byte) (map[string]map[string]any, error) {
	var doc struct {
		Clouds map[string]map[string]any `json:"clouds"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("not a clouds.yaml: %w", err)
	}
	return doc.Clouds, nil
}

// merge lays over on base, recursively for maps; over's values win.
func merge(base, over any) any {
	bm, ok1 := base.(map[string]any)
	om, ok2 := over.(map[string]any)
	if !ok1 || !ok2 {
		if over == nil {
			return base
		}
		return over
	}
	out := maps.Clone(bm)
	if out == nil {
		out = map[string]any{}
	}
	for k, v := range om {
		out[k] = merge(bm[k], v)
	}
	return out
}

func decodeEntry(m map[string]any) (cloudEntry, error) {
	// YAML allows numbers and booleans where strings are meant
	// (identity_api_version: 3); make every scalar a string but verify.
	b, err := json.Marshal(stringify(m, ""))
	if err != nil {
		return cloudEntry{}, err
	}
	var e cloudEntry
	if err := json.Unmarshal(b, &e); err != nil {
		return cloudEntry{}, err
	}
	return e, nil
}

func stringify(v any, key string) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = stringify(x, k)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = stringify(x, key)
		}
		return out
	case bool:
		if key == "verify" {
			return t
		}
		return fmt.Sprint(t)
	case float64, int, int64:
		return fmt.Sprint(t)
	case string:
		if key == "verify" {
			switch strings.ToLower(t) {
			case "false", "no", "0":
				return false
			}
			return true
		}
	}
	return v
}
