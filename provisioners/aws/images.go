package aws

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	sdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// image is what a launch needs to know of an AMI.
type image struct {
	id, name, arch string
	rootDevice     string
	rootGB         int // the root snapshot's size; a smaller disk_gb is refused
}

const ssmPrefix = "resolve:ssm:"

// lookupImage finds the AMI that ref names (see amiDoc); attr is the
// setting it came from, for messages.
func (p *Provisioner) lookupImage(ctx context.Context, ref, owner, attr string) (image, error) {
	return cached(p, "image\x00"+ref+"\x00"+owner, func() (image, error) {
		id := ref
		switch {
		case strings.HasPrefix(ref, ssmPrefix):
			name := strings.TrimPrefix(ref, ssmPrefix)
			out, err := p.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: &name})
			if code(err) == "ParameterNotFound" {
				return image{}, fmt.Errorf("aws: %s = %q: SSM has no parameter %s in %s (public AMI parameters are under /aws/service/, e.g. /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64)", attr, ref, name, p.region)
			}
			if err != nil {
				return image{}, p.fail(ctx, err, "read SSM parameter %s (%s)", name, attr)
			}
			id = sdk.ToString(out.Parameter.Value)
		case !strings.HasPrefix(ref, "ami-"):
			return p.imageByName(ctx, ref, cmp.Or(owner, "self"), attr)
		}
		out, err := p.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
		if err == nil && len(out.Images) == 0 || strings.HasPrefix(code(err), "InvalidAMIID.") {
			return image{}, fmt.Errorf("aws: %s = %q: no image %s in %s (AMIs belong to a region: copy it here, or name one of this region)", attr, ref, id, p.region)
		}
		if err != nil {
			return image{}, p.fail(ctx, err, "look up image %s (%s)", id, attr)
		}
		return imageOf(out.Images[0]), nil
	})
}

// imageByName is the newest available AMI of owner matching a name
// pattern. The owner is required: anyone can publish an AMI of any name.
func (p *Provisioner) imageByName(ctx context.Context, pattern, owner, attr string) (image, error) {
	out, err := p.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{
		Owners:  []string{owner},
		Filters: []types.Filter{{Name: sdk.String("name"), Values: []string{pattern}}, {Name: sdk.String("state"), Values: []string{"available"}}},
	})
	if err != nil {
		return image{}, p.fail(ctx, err, "find images named %q of owner %s (%s)", pattern, owner, attr)
	}
	if len(out.Images) == 0 {
		return image{}, fmt.Errorf("aws: %s = %q: no image of that name owned by %s in %s; set ami_owner (amazon, an account id) or give an ami-... id", attr, pattern, owner, p.region)
	}
	newest := slices.MaxFunc(out.Images, func(a, b types.Image) int {
		return cmp.Or(cmp.Compare(sdk.ToString(a.CreationDate), sdk.ToString(b.CreationDate)), cmp.Compare(sdk.ToString(a.ImageId), sdk.ToString(b.ImageId)))
	})
	return imageOf(newest), nil
}

func imageOf(im types.Image) image {
	out := image{id: sdk.ToString(im.ImageId), name: sdk.ToString(im.Name), arch: string(im.Architecture), rootDevice: sdk.ToString(im.RootDeviceName)}
	for _, b := range im.BlockDeviceMappings {
		if sdk.ToString(b.DeviceName) == out.rootDevice && b.Ebs != nil {
			out.rootGB = int(sdk.ToInt32(b.Ebs.VolumeSize))
		}
	}
	return out
}
