package client

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/provisioners/baremetal/api"
)

// How answers map to errors: 4xx is an *Error naming the field the server
// blamed, 401 says to check the token, 5xx and 429 are transient.
func TestAnswers(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		body      string
		transient bool
		field     string
		in        string // in the error
	}{
		{"ok", http.StatusOK, `{"name":"m1","mac":"52:54:00:00:00:01","profile":"p","state":"ready","history":[]}`, false, "", ""},
		{"refused field", http.StatusBadRequest, `{"error":"mac is not a MAC","field":"mac"}`, false, "mac", "400 Bad Request: mac is not a MAC"},
		{"not found", http.StatusNotFound, `{"error":"no machine m1"}`, false, "", "404"},
		{"bad token", http.StatusUnauthorized, `{"error":"unauthorized"}`, false, "", "refused the API token"},
		{"busy", http.StatusServiceUnavailable, `{"error":"busy"}`, true, "", "503"},
		{"throttled", http.StatusTooManyRequests, `slow down`, true, "", "slow down"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var gotAuth, gotPath string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotAuth, gotPath = r.Header.Get("Authorization"), r.URL.Path
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c := New(srv.URL+"/", "tok-0123456789", srv.Client())
			v, err := c.Machine(t.Context(), "m 1")
			if gotAuth != "Bearer tok-0123456789" || gotPath != "/api/v1/machines/m 1" {
				t.Errorf("request: auth %q path %q", gotAuth, gotPath)
			}
			if tc.status == http.StatusOK {
				if err != nil || v.Name != "m1" || v.State != api.StateReady {
					t.Fatalf("Machine = %+v, %v", v, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.in) {
				t.Fatalf("err = %v, want one saying %q", err, tc.in)
			}
			if provisioners.IsTransient(err) != tc.transient {
				t.Errorf("transient = %v, want %v", provisioners.IsTransient(err), tc.transient)
			}
			if status, field := Status(err); status != tc.status || field != tc.field || !IsStatus(err, tc.status) {
				t.Errorf("Status = %d %q, want %d %q", status, field, tc.status, tc.field)
			}
		})
	}
}

// A server that cannot be reached is transient; Status says 0.
func TestUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	err := New(url, "tok", http.DefaultClient).Ping(t.Context())
	if err == nil || !provisioners.IsTransient(err) {
		t.Fatalf("Ping of a closed server: %v", err)
	}
	if status, _ := Status(err); status != 0 {
		t.Errorf("Status = %d, want 0", status)
	}
}

func TestMachinesQuery(t *testing.T) {
	var q string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q = r.URL.RawQuery
		_, _ = w.Write([]byte(`[]`))
	}))
	defer srv.Close()
	if _, err := New(srv.URL, "tok", srv.Client()).Machines(t.Context(), map[string]string{"strata:stack": "s", "a": "b c"}); err != nil {
		t.Fatal(err)
	}
	if q != "tag=a%3Db+c&tag=strata%3Astack%3Ds" {
		t.Errorf("query %q: want the tags sorted, each tag=KEY=VALUE", q)
	}
}
