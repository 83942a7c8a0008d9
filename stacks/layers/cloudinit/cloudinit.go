package cloudinit

import (
	"sigs.k8s.io/yaml"
)

// Config is a #cloud-config document. Field names follow cloud-init's
// module schema (cc_*), so the YAML is what cloud-init reads.
type Config struct {
	Hostname       string     `json:"hostname,omitempty"`
	FQDN           string     `json:"fqdn,omitempty"`
	ManageEtcHosts bool       `json:"manage_etc_hosts,omitempty"`
	PackageUpdate  bool       `json:"package_update,omitempty"`
	Apt            *Apt       `json:"apt,omitempty"`
	Packages       []string   `json:"packages,omitempty"`
	WriteFiles     []File     `json:"write_files,omitempty"`
	Bootcmd        [][]string `json:"bootcmd,omitempty"`
	Runcmd         [][]string `json:"runcmd,omitempty"`
	PhoneHome      *PhoneHome `json:"phone_home,omitempty"`
	FinalMessage   string     `json:"final_message,omitempty"`
}

// Apt configures package sources (cc_apt_configure).
type Apt struct {
	Sources map[string]AptSource `json:"sources,omitempty"`
}

// AptSource is one extra repository; Key is its ASCII-armoured signing key.
type AptSource struct {
	Source string `json:"source"`
	Key    string `json:"key,omitempty"`
	Keyid  string `json:"keyid,omitempty"`
}

// File is one entry of write_files.
type File struct {
	Path        string `json:"path"`
	Content     string `json:"content"`
	Permissions string `json:"permissions,omitempty"`
	Owner       string `json:"owner,omitempty"`
	Defer       bool   `json:"defer,omitempty"`
}

// PhoneHome posts to a URL when the first boot is done (cc_phone_home).
type PhoneHome struct {
	URL   string   `json:"url"`
	Post  []string `json:"post,omitempty"`
	Tries int      `json:"tries,omitempty"`
}

// Marshal encodes the document with the #cloud-config header.
func (c *Config) Marshal() ([]byte, error) {
	b, err := yaml.Marshal(c)
	if err != nil {
		return nil, err
	}
	return append([]byte("#cloud-config\n"), b...), nil
}

// Sh wraps a shell snippet as a runcmd/bootcmd entry.
func Sh(script string) []string { return []string{"sh", "-c", script} }
