// Package mesos is the "mesos" layer kind: an Apache Mesos cluster with a
// ZooKeeper ensemble and Marathon.
//
// Roles, in bring-up order:
//
//   - master: ZooKeeper + mesos-master + Marathon. Masters form one ZooKeeper
//     ensemble (myid = member index + 1); mesos-master uses
//     --zk=zk://h1:2181,.../mesos with --quorum = floor(masters/2)+1, and
//     Marathon uses the same ensemble under /marathon.
//   - agent: mesos-agent pointed at the masters' ZooKeeper URL.
//
// Either role goes on a pool (a #cloud-config for Ubuntu 24.04) or on a
// kubernetes layer (a StatefulSet per role in namespace <stack>-<layer>).
// Mesos cannot host itself.
//
// Where Mesos comes from. Apache Mesos was retired to the Apache Attic in
// 2025; 1.11.0 (the default version) is its last release and upstream
// publishes no packages. The `artifact` setting says what to run:
//
//   - a container image reference (the default is mesos/mesos-centos:<version>,
//     i.e. mesos/mesos-centos:1.11.0, the image the Mesos project pushed to
//     Docker Hub). Images of a retired project can vanish: mirror it into a
//     registry you control and set artifact to that reference, ideally with
//     artifact_sha256 set so the image is pinned by digest. On a pool the
//     image runs under systemd through `docker run --net=host` (privileged
//     for agents);
//   - an https URL of a .deb (downloaded, checked against artifact_sha256
//     when set, then `apt-get install ./pkg.deb`, which resolves its
//     dependencies), or of a .tar.gz that is a self-contained install prefix
//     (sbin/mesos-master, sbin/mesos-agent, lib/) unpacked into /opt/mesos.
//     Packages only serve pools; hosted roles need an image.
//
// Other pinned artifacts: Marathon runs from mesosphere/marathon:v1.11.24
// (setting marathon_image); ZooKeeper is Ubuntu's zookeeperd package on
// pools and the official zookeeper:3.9.3 image on kubernetes (setting
// zookeeper_image). Agents on pools run the Docker and Mesos containerizers
// against the node's docker.io; an image-run agent gets the static Docker
// CLI 27.5.1 from download.docker.com because the CentOS 7 based image has
// none. Agents hosted on kubernetes run the Mesos containerizer only.
//
// Security: agents authenticate to the masters (CRAM-MD5) with a per-layer
// principal and secret derived from the stack's secrets, and Marathon
// authenticates as a framework with its own secret, which only masters
// carry. Credential files are 0600 on pools and Secret objects on
// kubernetes. ZooKeeper itself is unauthenticated: keep 2181/2888/3888 on a
// private network.
//
// Members are reached at Member.Host(): when an address is unknown, machine
// names must resolve between nodes. Agents hosted on kubernetes reach masters
// hosted on kubernetes through the masters' headless Service, so both roles
// must then sit on the same kubernetes layer.
//
// A running mesos layer hosts roles of other layers (layers.Hosting): Strata
// reaches its Marathon at marathon_endpoint, or at the first master on port
// 8080, once /v2/info and /v2/leader answer with a leader; each hosted role
// is a Marathon group or app, followed through its deployments until its
// tasks run (and are healthy, where it has health checks), listed by the
// stack's labels and removed with its empty parent groups.
package mesos
