package mototest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	sdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// Region is the region the tests work in; moto holds a default VPC with
// one default subnet per zone in it.
const Region = "us-east-1"

// Credentials are static keys moto accepts (it checks none).
func Credentials() sdk.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider("AKIATESTTESTTESTTEST", "secret", "")
}

// Client is an SDK client of the EC2 endpoint at url, with the SDK's
// defaults: what a test checks the provisioner's work with.
func Client(url string) *ec2.Client {
	return ec2.New(ec2.Options{Region: Region, BaseEndpoint: sdk.String(url), Credentials: Credentials()})
}

// Live are the states of an instance that is not (being) terminated.
var Live = []string{"pending", "running", "stopping", "stopped"}

// World is what a test finds in a fresh moto: an AMI, the default VPC's
// subnets (three, in distinct zones), and a security group and key pair
// it makes.
type World struct {
	URL     string
	EC2     *ec2.Client // straight to moto, to check what was done
	AMI     string
	Subnets []string
	Zones   []string // Subnets' zones, in order
	Group   string
	Key     string
}

// NewWorld resets moto (see Endpoint) and makes the world in it.
func NewWorld(t testing.TB) World {
	t.Helper()
	w, err := Prepare(t.Context(), Endpoint(t))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// Prepare makes the world in the moto server at url: it finds the AMI and
// the default subnets, and makes the security group and key pair.
func Prepare(ctx context.Context, url string) (World, error) {
	w := World{URL: url, EC2: Client(url)}
	imgs, err := w.EC2.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"amazon"},
		Filters: []types.Filter{{Name: sdk.String("name"), Values: []string{"al2023-ami-2023*-x86_64"}}}})
	if err != nil || len(imgs.Images) == 0 {
		return w, fmt.Errorf("mototest: no al2023 AMI in moto: %v", err)
	}
	w.AMI = *imgs.Images[0].ImageId
	sn, err := w.EC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []types.Filter{{Name: sdk.String("default-for-az"), Values: []string{"true"}}}})
	if err != nil || len(sn.Subnets) < 3 {
		return w, fmt.Errorf("mototest: default subnets: %v (%d)", err, len(sn.Subnets))
	}
	slices.SortFunc(sn.Subnets, func(a, b types.Subnet) int { return strings.Compare(*a.AvailabilityZone, *b.AvailabilityZone) })
	for _, s := range sn.Subnets[:3] {
		w.Subnets = append(w.Subnets, *s.SubnetId)
		w.Zones = append(w.Zones, *s.AvailabilityZone)
	}
	sg, err := w.EC2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: sdk.String("strata"), Description: sdk.String("strata tests"), VpcId: sn.Subnets[0].VpcId})
	if err != nil {
		return w, fmt.Errorf("mototest: security group: %w", err)
	}
	w.Group = *sg.GroupId
	w.Key = "strata-test"
	if _, err := w.EC2.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: &w.Key}); err != nil {
		return w, fmt.Errorf("mototest: key pair: %w", err)
	}
	return w, nil
}

// Instances are the instances matching filters, live or not.
func (w World) Instances(ctx context.Context, filters ...types.Filter) ([]types.Instance, error) {
	var all []types.Instance
	pages := ec2.NewDescribeInstancesPaginator(w.EC2, &ec2.DescribeInstancesInput{Filters: filters})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range out.Reservations {
			all = append(all, r.Instances...)
		}
	}
	return all, nil
}

// LiveFilter selects instances that are not (being) terminated.
func LiveFilter() types.Filter {
	return types.Filter{Name: sdk.String("instance-state-name"), Values: Live}
}

// TagFilter selects instances whose tag key has one of values (which may
// hold * wildcards).
func TagFilter(key string, values ...string) types.Filter {
	return types.Filter{Name: sdk.String("tag:" + key), Values: values}
}

// Instance is the instance with id.
func (w World) Instance(ctx context.Context, id string) (types.Instance, error) {
	out, err := w.EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		return types.Instance{}, err
	}
	if len(out.Reservations) != 1 || len(out.Reservations[0].Instances) != 1 {
		return types.Instance{}, fmt.Errorf("describe %s: %d reservations", id, len(out.Reservations))
	}
	return out.Reservations[0].Instances[0], nil
}

// Tag is the instance's tag key, or "".
func Tag(i types.Instance, key string) string {
	for _, t := range i.Tags {
		if sdk.ToString(t.Key) == key {
			return sdk.ToString(t.Value)
		}
	}
	return ""
}

// maxUserData is EC2's limit on an instance's user-data (before base64).
const maxUserData = 16 << 10

// UserData is the instance's user-data as cloud-init reads it: gunzipped
// when it was sent gzipped. More than EC2 takes is an error.
func (w World) UserData(ctx context.Context, id string) ([]byte, error) {
	attr, err := w.EC2.DescribeInstanceAttribute(ctx, &ec2.DescribeInstanceAttributeInput{InstanceId: &id, Attribute: types.InstanceAttributeNameUserData})
	if err != nil {
		return nil, err
	}
	if attr.UserData == nil || attr.UserData.Value == nil {
		return nil, nil
	}
	raw, err := base64.StdEncoding.DecodeString(*attr.UserData.Value)
	if err != nil {
		return nil, fmt.Errorf("%s: user-data is not base64: %w", id, err)
	}
	if len(raw) > maxUserData {
		return nil, fmt.Errorf("%s: user-data of %d bytes: EC2 takes at most %d", id, len(raw), maxUserData)
	}
	if !bytes.HasPrefix(raw, []byte{0x1f, 0x8b}) {
		return raw, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: user-data: %w", id, err)
	}
	return io.ReadAll(zr)
}

// Check compares what EC2 holds of instance id with what was asked: its
// Name and a strata:stack tag, IMDSv2 required, its user-data, and a root
// volume of diskGB (when not 0) tagged with the name.
func (w World) Check(ctx context.Context, id, name string, userData []byte, diskGB int) error {
	i, err := w.Instance(ctx, id)
	if err != nil {
		return err
	}
	if Tag(i, "Name") != name || Tag(i, "strata:stack") == "" {
		return fmt.Errorf("%s: tags %v", name, tagMap(i.Tags))
	}
	if i.MetadataOptions == nil || i.MetadataOptions.HttpTokens != types.HttpTokensStateRequired {
		return fmt.Errorf("%s: metadata options %+v, want IMDSv2 required", name, i.MetadataOptions)
	}
	got, err := w.UserData(ctx, id)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, userData) {
		return fmt.Errorf("%s: user-data differs:\n--- got\n%s\n--- want\n%s", name, got, userData)
	}
	vols, err := w.EC2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: []types.Filter{{Name: sdk.String("attachment.instance-id"), Values: []string{id}}}})
	if err != nil || len(vols.Volumes) == 0 {
		return fmt.Errorf("%s: volumes: %v (%d)", name, err, len(vols.Volumes))
	}
	v := vols.Volumes[0]
	if diskGB != 0 && int(sdk.ToInt32(v.Size)) != diskGB {
		return fmt.Errorf("%s: root volume of %d GB, want %d", name, sdk.ToInt32(v.Size), diskGB)
	}
	if !slices.ContainsFunc(v.Tags, func(tg types.Tag) bool { return sdk.ToString(tg.Key) == "Name" && sdk.ToString(tg.Value) == name }) {
		return fmt.Errorf("%s: volume tags %v", name, tagMap(v.Tags))
	}
	return nil
}

func tagMap(tags []types.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[sdk.ToString(t.Key)] = sdk.ToString(t.Value)
	}
	return m
}
