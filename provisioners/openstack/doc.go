// Package openstack is the OpenStack substrate: the settings a `substrate
// "openstack"` block (or a pool on an openstack layer) accepts (Spec), and
// a gophercloud provisioner (Open) that makes Nova servers.
//
// # Reaching the cloud
//
// Config is what a front end gives: ConfigFromEnv reads the OS_* variables
// the OpenStack CLI reads (main passes os.Getenv; the package never reads
// the environment), the provider lays its openstack block over that, and
// WithAccess lays over it the credentials of a cloud an openstack layer
// became (stacks.Substrate.Access). The more specific setting wins:
//
//  1. the substrate block's cloud, auth_url and region (for a pool on an
//     openstack layer, what the layer's Access gives),
//  2. the Config's fields (the provider block, else OS_*),
//  3. the clouds.yaml entry the block names, else Config.Cloud, merged
//     with the same entry of the secure.yaml beside it (whose values win).
//
// A block that names a cloud is reached as that entry says alone: the
// Config's identity (a sourced openrc for another cloud, say) is dropped
// rather than mixed with it; only its transport settings (CA, TLS,
// timeouts, where clouds.yaml is) stay. A block without a cloud uses the
// Config's credentials, at the block's auth_url and region if it sets
// them. So a stack file that says where it runs runs there, and one that
// does not runs where the environment points. clouds.yaml
// is Config.CloudsFile (OS_CLIENT_CONFIG_FILE) when set, else the first of
// ./clouds.yaml, $XDG_CONFIG_HOME/openstack/clouds.yaml (or
// ~/.config/openstack/clouds.yaml) and /etc/openstack/clouds.yaml (each
// also as clouds.yml). An unknown cloud name is reported with the entries
// of the file that was read.
//
// Keystone v3 only, with a password (user and project by name or id;
// domains default to the one with id "default") or an application
// credential (by id, or by name with its user). Endpoints come from the
// token's catalog for the region and interface (public unless internal or
// admin is asked for). The compute API is pinned to the highest
// microversion the cloud offers up to 2.93 (the highest tested; Zed's);
// below 2.37 (networks "none"/"auto") Open refuses the cloud.
//
// Open also resolves the substrate block's image, network and key pair,
// so a wrong name fails before anything is made; Close drops idle
// connections (tokens simply expire).
//
// # Servers
//
// Create makes one server per machine, named Machine.Name:
//
//   - flavor: the pool's flavor (an id, else a unique name; cpus,
//     memory_mb and disk_gb are then not checked), else the smallest that
//     fits cpus, memory_mb, disk_gb and the image's min_ram/min_disk:
//     fewest vCPUs, then least RAM, then least disk, then by name. Flavors
//     with disk 0 (sized by the image) only fit when no disk is asked for;
//   - image: the pool's image, else the substrate's; an id, else a name
//     that must match exactly one active image;
//   - network: the pool's, else the substrate's, else "auto"; a network
//     name or id, "none" (no NIC) or "auto" (the project's only network,
//     or one Nova allocates);
//   - key pair, security groups and availability zone: the substrate's;
//   - user_data: Machine.UserData, base64 (64 KiB of base64 at most);
//   - metadata: Machine.Tags (strata:stack, strata:pool, strata:index,
//     strata:layer, strata:role), checked against Nova's limits (keys of
//     letters, digits, '-', '_', ':', '.' and spaces; keys and values up
//     to 255 characters; 128 items).
//
// Servers of the quorum roles (master, controller, control-plane: the
// mesos masters, openstack controllers and kubernetes control planes) go
// into one server group per role, strata-<stack>-<layer>-<role>, with the
// pool's server_group_policy (soft-anti-affinity unless set): found or
// made on first use, reused by every later run. A group of that name with
// another policy is an error while it has members (servers cannot change
// group) and replaced when empty. Agents, workers and computes are not
// grouped: they are many and replaceable, and Nova's default
// server_group_members quota (10) would cap their pools. When Delete
// removes the last member of a group, the group goes too, so a destroyed
// stack leaves no group behind.
//
// Before it creates, Create looks for a live server of the same name
// tagged for the same stack (a retried Create whose first attempt timed
// out after Nova accepted it) and adopts it.
//
// Ready waits (Config.ReadyTimeout, 10 minutes by default) until the
// server is ACTIVE, starting it first if it is SHUTOFF, SUSPENDED, PAUSED
// or SHELVED. ACTIVE is ready with or without an address: a server on
// network "none" has none, and its Instance.Addresses is empty (layers
// then name it by its machine name). Addresses list access IPs first,
// then fixed IPv4, fixed IPv6 and floating IPs, networks in name order,
// so the first is the one peers use. ERROR fails with the server's fault
// ("No valid host was found. ..."); a fault of Nova's quota recheck
// (creates racing for the last room are accepted, then failed) deletes
// the server and names the quota, so a later run can make it again.
//
// Delete refuses servers without strata:stack metadata, then deletes and
// waits (Config.DeleteTimeout, 5 minutes by default) until Nova no longer
// has the server; one already gone is no error. List lists the project's
// servers once (paginated: Nova cannot filter by metadata) and keeps those
// carrying all the given tags.
//
// Instance IDs are Nova server ids. States: pending (BUILD, REBUILD,
// UNKNOWN), running (ACTIVE, and transitions of a running server such as
// REBOOT, RESIZE, MIGRATING), stopped (SHUTOFF, SUSPENDED, PAUSED,
// SHELVED), error (ERROR), gone (deleted).
//
// # Errors
//
// Errors say what was being done in which project at which Keystone, and
// what OpenStack answered in its own words (never a password or secret).
// Refused credentials, an unreachable Keystone, a missing region or
// service, and missing images, flavors, networks and key pairs (with what
// there is instead) are reported as such. Quota refusals (HTTP 403 or 413
// "Quota exceeded for instances ...") name the quota and are permanent.
// 409 (a task in progress), 502/503/504, 429 and dropped or refused
// connections are provisioners.Transient, retried by the engine; a 429's
// Retry-After (up to a minute) is first waited out inside the request, up
// to three times.
package openstack
