// Package inventory is the boot server's durable inventory: the machines it may
// boot (keyed by name, looked up by MAC through an index), the boot profiles they
// use, and each machine's boot progress with a timestamp per step, so the
// provisioner can say where a machine got stuck (no DHCP, script fetched, kernel
// fetched, no phone-home).
//
// It is an embedded bbolt file. Every write is one bbolt read-write transaction,
// so concurrent writers in the server are serialised by bbolt and a crash or a
// restart never leaves a half-written machine, a stale MAC index entry, or a
// machine pointing at a deleted profile. Records are JSON with a schema version
// field so later versions can migrate them.
//
// Secrets: the store never holds a BMC password (Machine has no such field;
// passwords come from the environment or write-only attributes). Profile
// user-data and machine tokens are stored, because the boot server must serve and
// check them, but they are left out of String, GoString and slog output.
package inventory
