package openstack

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	gos "github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

// looksLikeID reports whether s has the shape of an OpenStack UUID, which
// is tried as an id before it is tried as a name.
func looksLikeID(s string) bool {
	return regexp.MustCompile(`^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$`).MatchString(s)
}

// image is what Create needs of an image.
type image struct {
	ID, Name        string
	MinRAM, MinDisk int // MiB, GiB
}

// lookupImage resolves an image name or id. A name must be unambiguous;
// a missing one is reported with the images the project can use.
func (p *Provisioner) lookupImage(ctx context.Context, ref string) (image, error) {
	return cached(p, "image\x00"+ref, func() (image, error) {
		if looksLikeID(ref) {
			im, err := images.Get(ctx, p.glance, ref).Extract()
			if err == nil {
				return imageOf(*im), nil
			}
			if !gophercloud.ResponseCodeIs(err, 404) {
				return image{}, fail(err, "look up image %s", ref)
			}
		}
		var found []images.Image
		err := images.List(p.glance, images.ListOpts{Name: ref}).EachPage(ctx, func(_ context.Context, page pagination.Page) (bool, error) {
			ims, err := images.ExtractImages(page)
			found = append(found, ims...)
			return true, err
		})
		if err != nil {
			return image{}, fail(err, "look up image %q", ref)
		}
		var active []images.Image
		for _, im := range found {
			if im.Status == images.ImageStatusActive {
				active = append(active, im)
			}
		}
		switch {
		case len(active) == 1:
			return imageOf(active[0]), nil
		case len(active) > 1:
			var ids []string
			for _, im := range active {
				ids = append(ids, im.ID)
			}
			return image{}, fmt.Errorf("openstack: image name %q is ambiguous in %s: %d images have it (%s); name the image by id", ref, p.where, len(active), strings.Join(ids, ", "))
		case len(found) > 0:
			return image{}, fmt.Errorf("openstack: image %q (%s) in %s is %s, not active", ref, found[0].ID, p.where, found[0].Status)
		}
		return image{}, notFound("image", ref, p.where, p.imageNames(ctx))
	})
}

func imageOf(im images.Image) image {
	return image{ID: im.ID, Name: im.Name, MinRAM: im.MinRAMMegabytes, MinDisk: im.MinDiskGigabytes}
}

// imageNames lists the active images the project can use, for messages.
func (p *Provisioner) imageNames(ctx context.Context) []string {
	var names []string
	_ = images.List(p.glance, images.ListOpts{Status: images.ImageStatusActive, Limit: 100}).EachPage(ctx, func(_ context.Context, page pagination.Page) (bool, error) {
		ims, err := images.ExtractImages(page)
		for _, im := range ims {
			names = append(names, cmp.Or(im.Name, im.ID))
		}
		return len(names) < 100, err
	})
	slices.Sort(names)
	return slices.Compact(names)
}

// Networks that are no Neutron network but a Nova instruction (2.37+):
// no NIC at all, or the project's only network (auto-allocated if none).
const (
	networkNone = "none"
	networkAuto = "auto"
)

// lookupNetwork resolves a network name or id to its id; "none" and
// "auto" stand for themselves.
func (p *Provisioner) lookupNetwork(ctx context.Context, ref string) (string, error) {
	if ref == networkNone || ref == networkAuto {
		return ref, nil
	}
	return cached(p, "network\x00"+ref, func() (string, error) {
		nc, err := gos.NewNetworkV2(p.provider, p.eo)
		if err != nil {
			return "", p.endpointError("network", err)
		}
		if looksLikeID(ref) {
			n, err := networks.Get(ctx, nc, ref).Extract()
			if err == nil {
				return n.ID, nil
			}
			if !gophercloud.ResponseCodeIs(err, 404) {
				return "", fail(err, "look up network %s", ref)
			}
		}
		all, err := networks.List(nc, networks.ListOpts{Name: ref}).AllPages(ctx)
		if err != nil {
			return "", fail(err, "look up network %q", ref)
		}
		found, err := networks.ExtractNetworks(all)
		if err != nil {
			return "", fail(err, "look up network %q", ref)
		}
		switch len(found) {
		case 1:
			return found[0].ID, nil
		case 0:
			var names []string
			if all, err := networks.List(nc, networks.ListOpts{}).AllPages(ctx); err == nil {
				ns, _ := networks.ExtractNetworks(all)
				for _, n := range ns {
					names = append(names, cmp.Or(n.Name, n.ID))
				}
			}
			slices.Sort(names)
			err := notFound("network", ref, p.where, names)
			return "", fmt.Errorf("%w; or %q (no network) or %q (the project's only network)", err, networkNone, networkAuto)
		}
		var ids []string
		for _, n := range found {
			ids = append(ids, n.ID)
		}
		return "", fmt.Errorf("openstack: network name %q is ambiguous in %s: %d networks have it (%s); name the network by id", ref, p.where, len(found), strings.Join(ids, ", "))
	})
}

// flavorList is every flavor the project may use, listed once per
// Provisioner.
func (p *Provisioner) flavorList(ctx context.Context) ([]flavors.Flavor, error) {
	return cached(p, "flavors", func() ([]flavors.Flavor, error) {
		all, err := flavors.ListDetail(p.compute, flavors.ListOpts{}).AllPages(ctx)
		if err != nil {
			return nil, fail(err, "list flavors in %s", p.where)
		}
		fs, err := flavors.ExtractFlavors(all)
		if err != nil {
			return nil, fail(err, "list flavors in %s", p.where)
		}
		return fs, nil
	})
}

// need is what a machine asks of a flavor; 0 means no constraint.
type need struct {
	CPUs, MemoryMB, DiskGB int
}

// pickFlavor is the flavor named by ref (an id, else a name), or with no
// ref the smallest that fits: fewest vCPUs, then least RAM, then least
// disk, ties broken by name.
func pickFlavor(all []flavors.Flavor, ref string, n need) (flavors.Flavor, error) {
	if ref != "" {
		for _, f := range all {
			if f.ID == ref {
				return f, nil
			}
		}
		var named []flavors.Flavor
		for _, f := range all {
			if f.Name == ref {
				named = append(named, f)
			}
		}
		switch len(named) {
		case 1:
			return named[0], nil
		case 0:
			return flavors.Flavor{}, fmt.Errorf("openstack: flavor %q (the pool's flavor) not found; flavors: %s", ref, describeFlavors(all))
		}
		var ids []string
		for _, f := range named {
			ids = append(ids, f.ID)
		}
		return flavors.Flavor{}, fmt.Errorf("openstack: flavor name %q (the pool's flavor) is ambiguous: %d flavors have it (ids %s); name the flavor by id", ref, len(named), strings.Join(ids, ", "))
	}
	var fits []flavors.Flavor
	for _, f := range all {
		if f.VCPUs >= n.CPUs && f.RAM >= n.MemoryMB && f.Disk >= n.DiskGB {
			fits = append(fits, f)
		}
	}
	if len(fits) == 0 {
		return flavors.Flavor{}, fmt.Errorf("openstack: no flavor has %s; flavors: %s; set the pool's flavor, or lower cpus, memory_mb or disk_gb", n, describeFlavors(all))
	}
	return slices.MinFunc(fits, func(a, b flavors.Flavor) int {
		return cmp.Or(cmp.Compare(a.VCPUs, b.VCPUs), cmp.Compare(a.RAM, b.RAM), cmp.Compare(a.Disk, b.Disk),
			cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	}), nil
}

func (n need) String() string {
	var parts []string
	if n.CPUs > 0 {
		parts = append(parts, fmt.Sprintf("%d vCPUs", n.CPUs))
	}
	if n.MemoryMB > 0 {
		parts = append(parts, fmt.Sprintf("%d MiB RAM", n.MemoryMB))
	}
	if n.DiskGB > 0 {
		parts = append(parts, fmt.Sprintf("%d GiB disk", n.DiskGB))
	}
	if len(parts) == 0 {
		return "no constraint"
	}
	return "at least " + strings.Join(parts, ", ")
}

// describeFlavors lists flavors smallest first, for messages.
func describeFlavors(all []flavors.Flavor) string {
	if len(all) == 0 {
		return "(none)"
	}
	s := slices.Clone(all)
	slices.SortFunc(s, func(a, b flavors.Flavor) int {
		return cmp.Or(cmp.Compare(a.VCPUs, b.VCPUs), cmp.Compare(a.RAM, b.RAM), cmp.Compare(a.Disk, b.Disk), cmp.Compare(a.Name, b.Name))
	})
	var out []string
	for i, f := range s {
		if i == 20 {
			out = append(out, fmt.Sprintf("... (%d in all)", len(s)))
			break
		}
		out = append(out, fmt.Sprintf("%s (%d vCPU, %d MiB, %d GiB)", f.Name, f.VCPUs, f.RAM, f.Disk))
	}
	return strings.Join(out, ", ")
}
