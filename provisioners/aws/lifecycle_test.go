package aws

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	sdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stratastack/strata/provisioners"
)

// TestLifecycle makes a quorum of three over three subnets, one with
// user-data too large for EC2 unzipped, and checks what EC2 holds: tags
// on instance and volume, user-data, IMDSv2, the root volume's size;
// then lists, reads, deletes, and deletes again.
func TestLifecycle(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	p := open(t, testConfig(w.url), w.substrate(nil))

	big := []byte("#cloud-config\n" + strings.Repeat("write_files: [{path: /etc/x, content: hello}]\n", 600)) // > 16 KiB, compressible
	userData := [][]byte{[]byte("#cloud-config\nhostname: a\n"), big, nil}
	ids := map[string]string{}
	for i, ud := range userData {
		m := machine("life", "masters", i)
		m.UserData, m.DiskGB, m.Group = ud, 20, "life-mesos.m-master"
		m.Tags[provisioners.TagLayer], m.Tags[provisioners.TagRole] = "mesos.m", "master"
		in, err := p.Create(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if in.Name != m.Name || in.Tags[provisioners.TagRole] != "master" {
			t.Errorf("Create = %+v", in)
		}
		ready, err := p.Ready(ctx, in.ID)
		if err != nil {
			t.Fatal(err)
		}
		if ready.State != provisioners.StateRunning || len(ready.Addresses) == 0 || !strings.HasPrefix(ready.Addresses[0], "172.31.") {
			t.Errorf("Ready = %+v, want running with a private address first", ready)
		}
		ids[m.Name] = in.ID
		checkInstance(t, w, in.ID, m.Name, ud, 20)
	}

	got, err := p.List(ctx, map[string]string{provisioners.TagStack: "life"})
	if err != nil {
		t.Fatal(err)
	}
	subnets := map[string]bool{}
	for _, in := range got {
		if ids[in.Name] != in.ID || in.Tags[provisioners.TagGroup] != "life-mesos.m-master" {
			t.Errorf("List has %+v", in)
		}
		i := describe(t, w, in.ID)
		subnets[sdk.ToString(i.SubnetId)] = true
	}
	if len(got) != 3 || len(subnets) != 3 {
		t.Fatalf("List = %d instances in %d subnets, want 3 in 3", len(got), len(subnets))
	}
	if other, _ := p.List(ctx, map[string]string{provisioners.TagStack: "other"}); len(other) != 0 {
		t.Errorf("List of another stack = %+v", other)
	}

	for name, id := range ids {
		if err := p.Delete(ctx, id); err != nil {
			t.Fatalf("Delete %s: %v", name, err)
		}
		if in, err := p.Read(ctx, id); err != nil || in.State != provisioners.StateGone {
			t.Errorf("Read after Delete = %+v, %v", in, err)
		}
		if err := p.Delete(ctx, id); err != nil {
			t.Errorf("Delete of a gone instance: %v", err)
		}
	}
	if got, _ := p.List(ctx, map[string]string{provisioners.TagStack: "life"}); len(got) != 0 {
		t.Errorf("List after Delete = %+v", got)
	}
	if err := p.Delete(ctx, "i-0123456789abcdef0"); err != nil {
		t.Errorf("Delete of an id EC2 never had: %v", err)
	}
}

func describe(t testing.TB, w world, id string) types.Instance {
	t.Helper()
	out, err := w.ec2.DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil || len(out.Reservations) != 1 || len(out.Reservations[0].Instances) != 1 {
		t.Fatalf("describe %s: %v", id, err)
	}
	return out.Reservations[0].Instances[0]
}

// checkInstance compares what EC2 holds of an instance with the machine.
func checkInstance(t *testing.T, w world, id, name string, userData []byte, diskGB int) {
	t.Helper()
	ctx := t.Context()
	i := describe(t, w, id)
	if tag(i, "Name") != name || tag(i, provisioners.TagStack) == "" {
		t.Errorf("%s tags = %v", name, i.Tags)
	}
	if i.MetadataOptions == nil || i.MetadataOptions.HttpTokens != types.HttpTokensStateRequired {
		t.Errorf("%s metadata options = %+v, want IMDSv2 required", name, i.MetadataOptions)
	}
	attr, err := w.ec2.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{InstanceId: &id, Attribute: types.InstanceAttributeNameUserData})
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	if attr.UserData != nil && attr.UserData.Value != nil {
		got, _ = base64.StdEncoding.DecodeString(*attr.UserData.Value)
	}
	if len(userData) > maxUserData {
		if len(got) > maxUserData {
			t.Errorf("%s: user-data of %d bytes sent unzipped", name, len(got))
		}
		zr, err := gzip.NewReader(bytes.NewReader(got))
		if err != nil {
			t.Fatalf("%s: large user-data is not gzip: %v", name, err)
		}
		got, _ = io.ReadAll(zr)
	}
	if !bytes.Equal(got, userData) {
		t.Errorf("%s: user-data = %q..., want %q...", name, head(got), head(userData))
	}
	vols, err := w.ec2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: []types.Filter{{Name: sdk.String("attachment.instance-id"), Values: []string{id}}}})
	if err != nil || len(vols.Volumes) == 0 {
		t.Fatalf("%s volumes: %v", name, err)
	}
	v := vols.Volumes[0]
	if int(sdk.ToInt32(v.Size)) != diskGB {
		t.Errorf("%s root volume is %d GB, want %d", name, sdk.ToInt32(v.Size), diskGB)
	}
	if !slices.ContainsFunc(v.Tags, func(tg types.Tag) bool { return sdk.ToString(tg.Key) == "Name" && sdk.ToString(tg.Value) == name }) {
		t.Errorf("%s volume tags = %v", name, v.Tags)
	}
}

func head(b []byte) []byte { return b[:min(len(b), 40)] }

// TestUserDataTooLarge: user-data that does not fit even gzipped fails
// before anything is made.
func TestUserDataTooLarge(t *testing.T) {
	w := newWorld(t)
	p := open(t, testConfig(w.url), w.substrate(nil))
	noise := make([]byte, 20<<10)
	for i := range noise {
		noise[i] = byte(rand.IntN(256))
	}
	m := machine("big", "p", 0)
	m.UserData = noise
	_, err := p.Create(t.Context(), m)
	if err == nil || !strings.Contains(err.Error(), "EC2 takes at most 16384") {
		t.Fatalf("Create = %v, want the user-data refused", err)
	}
	if n := w.liveCount(t.Context(), t); n != 0 {
		t.Errorf("%d instances made", n)
	}
}
