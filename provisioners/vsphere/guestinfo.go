package vsphere

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/stratastack/strata/provisioners"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// ExtraConfig keys; see the package documentation.
const (
	strataTagPrefix = "strata:"
	tagKeyPrefix    = "guestinfo.strata.tags."
	userTagPrefix   = "guestinfo.strata.usertags."
)

// tagKey is the ExtraConfig key that holds tag.
func tagKey(tag string) (string, error) {
	key := userTagPrefix + tag
	name, ok := strings.CutPrefix(tag, strataTagPrefix)
	if ok {
		key = tagKeyPrefix + name
	}
	if name == "" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != "" {
		return "", fmt.Errorf("vsphere: tag %q cannot be an ExtraConfig key: use only letters, digits, '.', '_' and '-' (after the %q prefix)", tag, strataTagPrefix)
	}
	return key, nil
}

// tagOf is the tag an ExtraConfig key holds, if it holds one.
func tagOf(key string) (string, bool) {
	if name, ok := strings.CutPrefix(key, tagKeyPrefix); ok && name != "" {
		return strataTagPrefix + name, true
	}
	if name, ok := strings.CutPrefix(key, userTagPrefix); ok && name != "" {
		return name, true
	}
	return "", false
}

// extraConfig is the clone's ExtraConfig: cloud-init's guestinfo and the tags.
func extraConfig(m provisioners.Machine) ([]types.BaseOptionValue, error) {
	meta, err := json.Marshal(map[string]string{"instance-id": m.Name, "local-hostname": m.Name})
	if err != nil {
		return nil, err
	}
	b64 := base64.StdEncoding.EncodeToString
	ec := []types.BaseOptionValue{
		&types.OptionValue{Key: "guestinfo.metadata", Value: b64(meta)},
		&types.OptionValue{Key: "guestinfo.metadata.encoding", Value: "base64"},
	}
	if len(m.UserData) > 0 {
		ec = append(ec,
			&types.OptionValue{Key: "guestinfo.userdata", Value: b64(m.UserData)},
			&types.OptionValue{Key: "guestinfo.userdata.encoding", Value: "base64"})
	}
	tagged, err := tagOptions(m.Tags)
	return append(ec, tagged...), err
}

// tagOptions are the ExtraConfig values that hold tags.
func tagOptions(tags map[string]string) ([]types.BaseOptionValue, error) {
	var ec []types.BaseOptionValue
	for _, tag := range slices.Sorted(maps.Keys(tags)) {
		key, err := tagKey(tag)
		if err != nil {
			return nil, err
		}
		ec = append(ec, &types.OptionValue{Key: key, Value: tags[tag]})
	}
	return ec, nil
}

// tags reads the tags back from a VM's ExtraConfig.
func tags(ec []types.BaseOptionValue) map[string]string {
	out := map[string]string{}
	for _, o := range ec {
		v := o.GetOptionValue()
		if tag, ok := tagOf(v.Key); ok {
			s, _ := v.Value.(string)
			out[tag] = s
		}
	}
	return out
}

// matches reports whether have carries every tag in want.
func matches(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// vmProps are the properties an Instance is made from.
func vmProps() []string {
	return []string{"name", "config.template", "config.extraConfig", "runtime.powerState",
		"runtime.connectionState", "guest.ipAddress", "guest.net"}
}

func instance(vm mo.VirtualMachine) provisioners.Instance {
	in := provisioners.Instance{ID: vm.Self.Value, Name: vm.Name, Tags: map[string]string{}}
	if vm.Config != nil {
		in.Tags = tags(vm.Config.ExtraConfig)
	}
	in.Addresses = addresses(vm.Guest)
	switch vm.Runtime.PowerState {
	case types.VirtualMachinePowerStatePoweredOn:
		in.State = provisioners.StatePending
		if len(in.Addresses) > 0 {
			in.State = provisioners.StateRunning
		}
	case types.VirtualMachinePowerStatePoweredOff, types.VirtualMachinePowerStateSuspended:
		in.State = provisioners.StateStopped
	default:
		in.State = provisioners.StatePending
	}
	if cs := vm.Runtime.ConnectionState; cs != "" && cs != types.VirtualMachineConnectionStateConnected {
		in.State = provisioners.StateError
	}
	return in
}

// addresses lists the guest's usable addresses, the primary one first.
// Link-local and loopback addresses are left out: nobody can reach the
// machine on them.
func addresses(g *types.GuestInfo) []string {
	if g == nil {
		return nil
	}
	var out []string
	add := func(s string) {
		a, err := netip.ParseAddr(s)
		if err != nil || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsUnspecified() || slices.Contains(out, a.String()) {
			return
		}
		out = append(out, a.String())
	}
	add(g.IpAddress)
	for _, nic := range g.Net {
		for _, ip := range nic.IpAddress {
			add(ip)
		}
	}
	return out
}
