// Package provtest holds checks every Provisioner must pass, which each
// substrate's tests run against its real counterpart (vcsim, moto, the
// OpenStack test cloud, the boot server), so the contract is written once.
package provtest
