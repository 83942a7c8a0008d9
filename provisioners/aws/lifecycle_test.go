package aws

import (
	"math/rand/v2"
	"strings"
	"testing"

	sdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/provisioners/aws/mototest"
	"github.com/stratastack/strata/provisioners/provtest"
)

// TestLifecycle makes a quorum of three over three subnets, one with
// user-data too large for EC2 unzipped, and checks what EC2 holds: tags
// on instance and volume, user-data, IMDSv2, the root volume's size;
// then lists, reads, deletes, and deletes again.
func TestLifecycle(t *testing.T) {
	w := mototest.NewWorld(t)
	ctx := t.Context()
	p := open(t, testConfig(w.URL), substrate(w, nil))

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
	// A TTL extended re-tags: the new expiry replaces the old, the rest stays.
	if err := provtest.Retag(ctx, p, got[0].ID, "life"); err != nil {
		t.Error(err)
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

func describe(t testing.TB, w mototest.World, id string) types.Instance {
	t.Helper()
	i, err := w.Instance(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// checkInstance compares what EC2 holds of an instance with the machine.
func checkInstance(t *testing.T, w mototest.World, id, name string, userData []byte, diskGB int) {
	t.Helper()
	if err := w.Check(t.Context(), id, name, userData, diskGB); err != nil {
		t.Error(err)
	}
}

// TestUserDataTooLarge: user-data that does not fit even gzipped fails
// before anything is made.
func TestUserDataTooLarge(t *testing.T) {
	w := mototest.NewWorld(t)
	p := open(t, testConfig(w.URL), substrate(w, nil))
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
	if n := liveCount(t, w); n != 0 {
		t.Errorf("%d instances made", n)
	}
}
