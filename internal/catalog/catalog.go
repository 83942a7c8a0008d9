package catalog

import (
	"github.com/stratastack/strata/provisioners"
	"github.com/stratastack/strata/provisioners/aws"
	"github.com/stratastack/strata/provisioners/baremetal"
	ossub "github.com/stratastack/strata/provisioners/openstack"
	"github.com/stratastack/strata/provisioners/vsphere"
	"github.com/stratastack/strata/stacks"
	"github.com/stratastack/strata/stacks/layers"
	"github.com/stratastack/strata/stacks/layers/kubernetes"
	"github.com/stratastack/strata/stacks/layers/mesos"
	oslayer "github.com/stratastack/strata/stacks/layers/openstack"
)

// Kinds returns every built-in substrate and layer kind: one line each.
func Kinds() stacks.Kinds {
	set, err := layers.NewSet(
		mesos.New(),
		kubernetes.New(),
		oslayer.New(),
	)
	if err != nil {
		panic(err) // the built-in kinds are distinct; this is a programming error
	}
	subs := map[string]provisioners.Kind{}
	for _, k := range []provisioners.Kind{
		vsphere.Kind(),
		aws.Kind(),
		ossub.Kind(),
		baremetal.Kind(),
	} {
		subs[k.Spec.Kind] = k
	}
	return stacks.Kinds{Layers: set, Substrates: subs}
}
