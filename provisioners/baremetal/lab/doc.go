// Package lab is `strata lab`: a bare-metal lab on one Linux host, for
// users trying the bare-metal substrate and for its acceptance tests.
//
// A lab is a network namespace of its own holding a bridge (the boot
// network, 192.168.77.0/24 by default) with one tap per VM, and a veth
// link to the host (169.254.77.1 on the host, .2 in the lab). In it run:
//
//   - the boot server (`strata boot serve`): full DHCP and IPv6 router
//     advertisements on the bridge only, TFTP, and HTTP, whose API the
//     host reaches over the link at http://169.254.77.2:8080;
//   - one QEMU VM per tap (TCG, 256 MiB, virtio-net with Debian's iPXE
//     ROM), started only when its BMC powers it on.
//
// On the host's 127.0.0.1, each VM has a BMC: OpenIPMI's ipmi_sim
// speaking real IPMI v2.0 lanplus (127.0.0.1:9001, 9002, ...), whose
// chassis control runs `strata lab chassis`, which asks this package's
// supervisor to start or stop that VM and to boot it from the network.
//
// The VMs boot Debian's cloud kernel with an initramfs this package
// builds: busybox, the virtio modules, and an init that takes a DHCP
// lease, fetches the machine's user-data from the NoCloud seed URL the
// boot server puts on the kernel command line, and phones home with the
// user-data's SHA-256, which the boot server compares with what it holds.
// The lab thus shows the whole chain (IPMI power and boot device, DHCP,
// iPXE, per-machine scripts, kernel and initrd over HTTP, user-data,
// phone-home) without running a full OS.
//
// `strata lab up` prepares Dir (kernel cache, initramfs, BMC
// configurations, lab.env with the boot token and the BMC password) and
// starts the supervisor, `strata lab run`, in the background. The
// supervisor is the parent of every process of the lab: it reaps them,
// restarts the boot server and the BMCs when they die, and records every
// PID in Dir/lab.json. `strata lab down` stops it, which powers the VMs
// off and removes the namespace; after a crash of the supervisor (its
// children die with it: they get SIGKILL as their parent dies) down ends
// whatever lab.json still lists and removes the namespace itself.
//
// Everything needs root. Packages: qemu-system-x86, ipxe-qemu, ipxe,
// openipmi, busybox-static, iproute2 (make lab-deps installs them).
package lab
