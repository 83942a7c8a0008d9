// Package openstack is the "openstack" layer kind: an OpenStack cloud with
// Keystone, Glance, Placement, Nova and Neutron (ML2/OVN), which is itself a
// substrate (pools may be placed on it; SubstrateKind returns "openstack").
//
// Roles, in bring-up order:
//
//   - controller: MariaDB, RabbitMQ, memcached, OVN central (northbound and
//     southbound databases, ovn-northd), Keystone (Fernet tokens), Glance
//     (file store), Placement, Nova API/metadata/conductor/scheduler/noVNC
//     proxy, and the Neutron server with the OVN mechanism driver.
//   - compute (after controller): nova-compute on libvirt (KVM, or QEMU
//     where the host has no /dev/kvm), Open vSwitch, ovn-controller as a
//     gateway chassis and the OVN metadata agent. The provider bridge
//     br-provider maps physnet1 (flat) onto the setting
//     provider_network_interface; tenant networks are Geneve.
//
// Versions. The default release is 2025.2 (Flamingo); 2024.1 (Caracal),
// 2024.2 (Dalmatian) and 2025.1 (Epoxy) are accepted, anything else is an
// error. On a pool the packages come from Ubuntu 24.04 and the Ubuntu Cloud
// Archive (deb http://ubuntu-cloud.archive.canonical.com/ubuntu
// noble-updates/<series> main, key 5EDB1B62EC4926EA). Hosted placements run
// the Kolla images quay.io/openstack.kolla/<service>:<release>-ubuntu-noble
// (2025.1 or later: the APIs are served by uWSGI from the <project>.wsgi
// modules that exist from that release on) and the official images
// mariadb:11.4.5, rabbitmq:3.13.7 and memcached:1.6.38.
//
// On a pool every controller gets the same configuration. Controller 0 (the
// member with the lowest index) also runs the backing services (MariaDB,
// RabbitMQ, memcached, OVN central) and does the one-time work: databases
// and users, keystone-manage db_sync and bootstrap, the other db syncs, cell
// mapping, and the registration of service users, services and endpoints
// with the openstack CLI; every step is safe to re-run. The other
// controllers wait for controller 0 and serve the APIs against its
// database. Fernet and credential keys are derived from the stack's secrets,
// so every controller accepts every other's tokens.
//
// On kubernetes the role lives in namespace <stack>-<layer>: StatefulSets
// for MariaDB, RabbitMQ and OVN central, Deployments for memcached and each
// API or worker (replicas = the role's count for the OpenStack services), a
// Service for each, a Job that creates the databases, syncs them and
// registers the catalogue, a ConfigMap holding the config files and a
// Secret holding the passwords and keys. Passwords reach the services as
// oslo.config environment variables (OS_<GROUP>__<OPTION>), so no config
// file holds a secret. Compute is a privileged host-network DaemonSet (one
// pod per schedulable node; the count is not enforced there).
//
// On mesos the role is a Marathon group /<stack>/<layer>/<role> of one app
// per process, on host networking with hostname UNIQUE; one-time steps are
// apps whose health check passes once done, and the apps depending on them
// deploy after. Files and secrets travel in the app environment; the Kolla
// containers run as root to write them. Services find each other by
// Mesos-DNS names (<app>-<role>-<layer>-<stack>.marathon.mesos), so the
// Mesos cluster must run Mesos-DNS. Compute is one app per process, each
// with the role's count and hostname UNIQUE; Marathon cannot tie apps to
// the same agents, so they only line up when the count equals the number of
// agents offering the resources. Guests run inside the nova-libvirt
// container, so on mesos its memory (4 GiB) bounds theirs.
//
// Secrets (admin, per-service database and user passwords, RabbitMQ, the
// metadata proxy secret, Fernet keys) are derived per stack and layer; a
// compute carries only RabbitMQ, its service-user passwords and the metadata
// secret. Every rendered bootstrap is sensitive.
//
// Limits, on purpose: no high availability of the backing services (one
// MariaDB, no Galera; one RabbitMQ; one OVN central), no TLS on the
// endpoints, no Fernet key rotation (the derived keys stay), Glance stores
// images on local disk (an emptyDir when hosted), and no Horizon. When the
// controller is hosted and users or computes sit outside its cluster, set
// public_endpoint to an address that forwards the API ports.
package openstack
