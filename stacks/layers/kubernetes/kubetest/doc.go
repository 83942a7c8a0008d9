// Package kubetest starts a real Kubernetes control plane for tests: etcd,
// kube-apiserver, kube-controller-manager and kube-scheduler v1.37.2, with
// kwok v0.8.0 playing the kubelets, as plain processes on 127.0.0.1 in the
// test's temporary folder.
//
// Workloads behave as on a cluster with real nodes, as far as the API
// shows: the controller manager makes the pods of Deployments, StatefulSets
// and Jobs, the scheduler binds them to the kwok nodes, and kwok's stages
// (the lifecycle kwokctl uses) make the nodes Ready, the pods Running and
// Ready, and Job pods Succeeded. No container ever runs: images are never
// pulled, and logs, exec and port-forward are not served.
//
// The binaries come from acceptance/kube/build.sh (make kube-deps), cached
// by version in $STRATA_KUBE_BIN or $XDG_CACHE_HOME/strata/kube-v1.37.2.
// Without them a test is skipped, or fails when STRATA_REQUIRE_KUBE is set
// (make test sets it), so a run meant to test Kubernetes cannot pass by
// skipping.
//
// Every process runs in its own process group and is stopped, by its PID,
// in t.Cleanup, also when the test fails; the kernel kills them if the test
// binary dies first. Their logs are printed when the test failed.
package kubetest
