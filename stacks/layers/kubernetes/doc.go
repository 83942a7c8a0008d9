// Package kubernetes is the kubernetes layer kind: a kubeadm-built
// Kubernetes cluster with two roles, control-plane and worker.
//
// On the machines of a pool each node gets a #cloud-config for Ubuntu 24.04
// that installs containerd from Ubuntu's archive (systemd cgroups), and
// kubelet, kubeadm and kubectl from pkgs.k8s.io (the v1.MINOR stream of the
// layer version, pinned to VERSION-1.1 and held), then runs kubeadm from
// kubeadm.k8s.io/v1beta4 config files: control plane 0 runs `kubeadm init
// --upload-certs`, the other control planes join with --control-plane and
// the certificate key, workers join with the bootstrap token.
//
// Trust is bootstrapped without skipping CA verification: the cluster CA
// key is a P-256 scalar derived from the stack's secrets, so the discovery
// hash every joiner pins (sha256 of the CA's SubjectPublicKeyInfo) is known
// at render time. Only control plane 0 receives the CA key, with the CA
// certificate Strata self-signs deterministically from it (the one every
// node and Strata's own admin client trust); kubeadm init keeps both. The bootstrap token (TTL 0, so
// pools can grow later) and the certificate key are derived too; a timer on
// control plane 0 re-uploads the encrypted control-plane certificates every
// hour so that control planes added later can still join.
//
// Placed on a mesos layer, every node (control plane or worker) is a
// privileged kind-style node container (kindest/node, default
// kindest/node:v1.37.0 pinned by digest for the 1.37 stream, else
// kindest/node:vVERSION) run by Marathon with host networking, one per
// agent; systemd inside it runs the same kubeadm init/join, which pulls the
// control-plane images (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler) from registry.k8s.io at the layer version and runs them as
// static pods. The control plane is the Marathon group
// /STACK/LAYER/control-plane with an app "init" (one instance, the only one
// given the CA key) and an app "join" (the rest); workers are the app
// /STACK/LAYER/worker. Without control_plane_endpoint the API endpoint is the
// Mesos-DNS name of the init app.
//
// The pod network is flannel (kube-flannel.yml of a pinned release, its
// network rewritten to pod_cidr), applied by the first control plane, or
// none (cni = "none") for clusters that bring their own.
package kubernetes
