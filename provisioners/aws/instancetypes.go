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
)

// instanceType is what choosing a type needs to know of one.
type instanceType struct {
	name        string
	vcpus       int
	memoryMiB   int
	burstable   bool
	arches      []string
	current     bool
	accelerated bool // GPUs, FPGAs, inference chips: never chosen for size alone
	onDemand    bool
}

// instanceTypes describes the named type, or lists every type of the
// region to choose from (ten pages or so: once per provisioner).
func (p *Provisioner) instanceTypes(ctx context.Context, named string) ([]instanceType, error) {
	return cached(p, "instance-types\x00"+named, func() ([]instanceType, error) {
		in := &ec2.DescribeInstanceTypesInput{MaxResults: sdk.Int32(100)}
		if named != "" {
			in = &ec2.DescribeInstanceTypesInput{InstanceTypes: []types.InstanceType{types.InstanceType(named)}}
		}
		var out []instanceType
		pg := ec2.NewDescribeInstanceTypesPaginator(p.ec2, in)
		for pg.HasMorePages() {
			page, err := pg.NextPage(ctx)
			if named != "" && strings.HasPrefix(code(err), "InvalidInstanceType") {
				return nil, nil // pickType says it is not in the region
			}
			if err != nil {
				return nil, p.fail(ctx, err, "list instance types")
			}
			for _, t := range page.InstanceTypes {
				out = append(out, typeOf(t))
			}
		}
		return out, nil
	})
}

func typeOf(t types.InstanceTypeInfo) instanceType {
	it := instanceType{
		name: string(t.InstanceType), burstable: sdk.ToBool(t.BurstablePerformanceSupported),
		current:     sdk.ToBool(t.CurrentGeneration),
		accelerated: t.GpuInfo != nil || t.FpgaInfo != nil || t.InferenceAcceleratorInfo != nil || sdk.ToBool(t.BareMetal),
		onDemand:    len(t.SupportedUsageClasses) == 0 || slices.Contains(t.SupportedUsageClasses, types.UsageClassTypeOnDemand),
	}
	if t.VCpuInfo != nil {
		it.vcpus = int(sdk.ToInt32(t.VCpuInfo.DefaultVCpus))
	}
	if t.MemoryInfo != nil {
		it.memoryMiB = int(sdk.ToInt64(t.MemoryInfo.SizeInMiB))
	}
	if t.ProcessorInfo != nil {
		for _, a := range t.ProcessorInfo.SupportedArchitectures {
			it.arches = append(it.arches, string(a))
		}
	}
	return it
}

// pickType is the named type, checked against the AMI's architecture,
// or else the smallest current-generation one with at least cpus vCPUs
// and memoryMB of memory: fewest vCPUs, then least memory, then
// burstable (the cheapest at a size), then by name.
func pickType(all []instanceType, named, from, arch string, cpus, memoryMB int) (string, error) {
	if named != "" {
		i := slices.IndexFunc(all, func(t instanceType) bool { return t.name == named })
		if i < 0 {
			return "", fmt.Errorf("aws: %s = %q: no such instance type in this region", from, named)
		}
		if arch != "" && !slices.Contains(all[i].arches, arch) {
			return "", fmt.Errorf("aws: %s = %q runs %v, but the AMI is %s: choose a %s type or another AMI", from, named, all[i].arches, arch, arch)
		}
		return named, nil
	}
	var fit []instanceType
	for _, t := range all {
		if t.current && t.onDemand && !t.accelerated && t.vcpus >= cpus && t.memoryMiB >= memoryMB && (arch == "" || slices.Contains(t.arches, arch)) {
			fit = append(fit, t)
		}
	}
	if len(fit) == 0 {
		return "", fmt.Errorf("aws: no current-generation %s instance type has %d vCPUs and %d MiB of memory; lower cpus/memory_mb or set instance_type", arch, cpus, memoryMB)
	}
	best := slices.MinFunc(fit, func(a, b instanceType) int {
		return cmp.Or(cmp.Compare(a.vcpus, b.vcpus), cmp.Compare(a.memoryMiB, b.memoryMiB), -cmp.Compare(btoi(a.burstable), btoi(b.burstable)), cmp.Compare(a.name, b.name))
	})
	return best.name, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
