package ipmisim

import (
	"strings"
	"testing"
)

func TestLanConf(t *testing.T) {
	base := Config{Addr: "127.0.0.1:9001", Name: "vm0", ChassisControl: "/lab/bmc/vm0/chassis",
		Users: []User{{Name: "admin", Password: "s3cret"}, {Name: "op", Password: "p", Privilege: "operator"}}}
	conf, err := base.lanConf()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"addr 127.0.0.1 9001\n",
		`chassis_control "/lab/bmc/vm0/chassis"`,
		`user 2 true "admin" "s3cret" admin 10`,
		`user 3 true "op" "p" operator 10`,
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("lan.conf lacks %q:\n%s", want, conf)
		}
	}
	other := base
	other.Name = "vm1"
	if c2, _ := other.lanConf(); guidLine(c2) == guidLine(conf) {
		t.Error("two BMCs share a GUID")
	}

	bad := []struct {
		name string
		edit func(*Config)
	}{
		{"no port", func(c *Config) { c.Addr = "127.0.0.1" }},
		{"quote in program", func(c *Config) { c.ChassisControl = `/a"b` }},
		{"long password", func(c *Config) { c.Users = []User{{Name: "admin", Password: strings.Repeat("x", 21)}} }},
		{"space in name", func(c *Config) { c.Users = []User{{Name: "ad min", Password: "x"}} }},
	}
	for _, tt := range bad {
		c := base
		tt.edit(&c)
		if _, err := c.lanConf(); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
}

func guidLine(conf string) string {
	for l := range strings.Lines(conf) {
		if strings.Contains(l, "guid ") {
			return l
		}
	}
	return ""
}
