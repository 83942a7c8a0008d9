package openstack

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stratastack/strata/stacks/layers"
	"github.com/stratastack/strata/stacks/layers/layertest"
)

func TestAccess(t *testing.T) {
	sec := layertest.Secrets(t)
	admin := (&plan{c: layers.Cluster{Name: "cloud", Secrets: sec}}).secret(sAdmin)
	noAddr := cluster(sec, layers.Pool, layers.Pool)
	noAddr.Members[RoleController][0].Address = ""
	withCloud := cluster(sec, layers.Pool, layers.Pool)
	withCloud.Settings = settings(map[string]string{"cloud": "tenants", "region": "Edge"})
	public := cluster(sec, layers.Pool, layers.Pool)
	public.Settings = settings(map[string]string{"public_endpoint": "cloud.example.net"})
	hosted := cluster(sec, "kubernetes", "kubernetes")
	tests := []struct {
		name string
		c    layers.Cluster
		want map[string]string
		err  string
	}{
		{"first controller's address", cluster(sec, layers.Pool, layers.Pool), map[string]string{
			"auth_url": "http://10.0.0.10:5000/v3", "region": "RegionOne", "username": "admin", "password": admin,
			"project_name": "admin", "user_domain_name": "Default", "project_domain_name": "Default"}, ""},
		{"public endpoint", public, map[string]string{
			"auth_url": "http://cloud.example.net:5000/v3", "region": "RegionOne", "username": "admin", "password": admin,
			"project_name": "admin", "user_domain_name": "Default", "project_domain_name": "Default"}, ""},
		{"clouds.yaml entry", withCloud, map[string]string{"cloud": "tenants", "region": "Edge"}, ""},
		{"not up", noAddr, nil, "not up yet"},
		{"hosted without public endpoint", hosted, nil, "need public_endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := New().Access(context.Background(), tt.c)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				if tt.name == "not up" && !errors.Is(err, layers.ErrNotUp) {
					t.Errorf("error %v does not wrap ErrNotUp", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}
