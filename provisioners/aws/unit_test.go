package aws

import (
	"errors"
	"strings"
	"testing"

	nethttp "net/http"

	"github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stratastack/strata/provisioners"
)

func TestPickType(t *testing.T) {
	all := []instanceType{
		{name: "t3.micro", vcpus: 2, memoryMiB: 1024, burstable: true, arches: []string{"x86_64"}, current: true, onDemand: true},
		{name: "c5.large", vcpus: 2, memoryMiB: 4096, arches: []string{"x86_64"}, current: true, onDemand: true},
		{name: "t3.medium", vcpus: 2, memoryMiB: 4096, burstable: true, arches: []string{"x86_64"}, current: true, onDemand: true},
		{name: "t4g.medium", vcpus: 2, memoryMiB: 4096, burstable: true, arches: []string{"arm64"}, current: true, onDemand: true},
		{name: "m1.large", vcpus: 2, memoryMiB: 7680, arches: []string{"x86_64"}, onDemand: true},
		{name: "g4dn.xlarge", vcpus: 4, memoryMiB: 16384, arches: []string{"x86_64"}, current: true, accelerated: true, onDemand: true},
		{name: "m5.xlarge", vcpus: 4, memoryMiB: 16384, arches: []string{"x86_64"}, current: true, onDemand: true},
	}
	for _, tc := range []struct {
		named, arch string
		cpus, mem   int
		want, err   string
	}{
		{arch: "x86_64", want: "t3.micro"},
		{arch: "x86_64", cpus: 2, mem: 4096, want: "t3.medium"},
		{arch: "arm64", cpus: 2, mem: 2048, want: "t4g.medium"},
		{arch: "x86_64", cpus: 3, mem: 8000, want: "m5.xlarge"},
		{arch: "x86_64", cpus: 64, err: "no current-generation x86_64 instance type has 64 vCPUs"},
		{named: "c5.large", arch: "x86_64", want: "c5.large"},
		{named: "t4g.medium", arch: "x86_64", err: "the AMI is x86_64"},
		{named: "z9.nano", err: "no such instance type"},
	} {
		got, err := pickType(all, tc.named, "instance_type", tc.arch, tc.cpus, tc.mem)
		if got != tc.want || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("pickType(%q, %s, %d, %d) = %q, %v; want %q, %q", tc.named, tc.arch, tc.cpus, tc.mem, got, err, tc.want, tc.err)
		}
	}
}

func TestToken(t *testing.T) {
	a := token("s", "s-p-0", 0)
	if len(a) > 64 || a != token("s", "s-p-0", 0) {
		t.Errorf("token %q: over 64 characters or not stable", a)
	}
	for _, b := range []string{token("s", "s-p-0", 1), token("s", "s-p-1", 0), token("t", "s-p-0", 0)} {
		if a == b {
			t.Errorf("token collides: %q", a)
		}
	}
}

func TestTags(t *testing.T) {
	m := machine("s", "p", 0)
	m.Group = "g"
	tags, err := tagsOf(m)
	if err != nil || len(tags) != 5 {
		t.Fatalf("tagsOf = %v, %v", tags, err)
	}
	m.Tags["aws:x"] = "y"
	if _, err := tagsOf(m); err == nil {
		t.Error("an aws: tag was accepted")
	}
	delete(m.Tags, "aws:x")
	m.Tags["k"] = strings.Repeat("v", 257)
	if _, err := tagsOf(m); err == nil {
		t.Error("a 257-character value was accepted")
	}
}

func TestLostAnswerClassification(t *testing.T) {
	sent := &http.ResponseError{ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &nethttp.Response{}}, Err: errors.New(`Post "x": EOF`)}}
	refused := &smithy.GenericAPIError{Code: "RequestLimitExceeded"}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{sent, true},
		{refused, false},
		{errors.New("dial tcp: connection refused"), false},
		{nil, false},
	} {
		if got := lostAnswer(tc.err); got != tc.want {
			t.Errorf("lostAnswer(%v) = %v", tc.err, got)
		}
	}
	p := &Provisioner{region: "r"}
	if err := p.fail(t.Context(), refused, "x"); !provisioners.IsTransient(err) {
		t.Errorf("throttling that outlasted the retryer is not transient: %v", err)
	}
	if err := p.fail(t.Context(), &smithy.GenericAPIError{Code: "VcpuLimitExceeded"}, "x"); provisioners.IsTransient(err) || !strings.Contains(err.Error(), "Service Quotas") {
		t.Errorf("quota: %v", err)
	}
}
