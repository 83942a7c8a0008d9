// Package api is the boot server's HTTP API as it travels on the wire: the
// request and view bodies of /api/v1, the error body, the boot states a
// machine moves through and the canonical form of a MAC address. The
// server (web), its store (inventory) and every client import it, so a
// client needs neither the handler nor the store.
package api
