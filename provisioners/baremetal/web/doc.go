// Package web is the HTTP part of the bare-metal boot server (`strata boot
// serve`): the iPXE scripts, kernels, initrds and cloud-init data a machine
// fetches while it boots, the phone-home that marks it ready, and the
// authenticated API the provisioner registers machines and profiles with.
// [New] returns an [http.Handler]; [Serve] runs it on a listener, with TLS
// when given a certificate ([LoadTLSConfig]), until its context ends.
//
// # The boot chain and what each step records
//
// Boot progress goes to the inventory with inventory.Store.SetState, so the
// provisioner can say where a machine got stuck. Of the fetches, only GET
// records (a HEAD probe does not move a machine along).
//
//  1. GET /boot.ipxe?mac=${mac} is the URL DHCP gives iPXE. For a registered
//     MAC it answers a script that chains to the machine's own script,
//     /machines/<name>/boot.ipxe?token=<token>. It records "dhcp" unless
//     that is already the machine's state: iPXE asking by MAC proves it got
//     an address, also when another DHCP server gave it (proxy mode, a
//     lab's DHCP), and our DHCP server has usually recorded it already.
//  2. GET /machines/<name>/boot.ipxe?token=T answers the boot script (shown
//     below) and records "script-fetched".
//  3. GET <prefix>assets/<path> serves the same files as /assets/<path>.
//     Because the token ties the download to the machine, fetching the
//     profile's kernel records "kernel-fetched", once the end of the file
//     has been delivered (a 200 in full, or the 206 that reaches the last
//     byte), so a broken-off download does not count.
//  4. cloud-init's NoCloud datasource fetches <prefix>meta-data
//     (instance-id and local-hostname), <prefix>user-data (the profile's
//     user-data, byte for byte) and <prefix>vendor-data (empty). The
//     instance-id is a hash of the registration, profile name and
//     user-data, so cloud-init runs again when any of them changes.
//  5. POST <prefix>phone-home marks the machine "ready". The body (at most
//     MaxPhoneHomeBytes, else 413) may be empty, JSON {"checksum": "..."},
//     a form checksum=..., or text whose first word is the checksum
//     (sha256sum output). The server keeps the last report per machine
//     (time, peer, checksum, the body's size and SHA-256, and whether a
//     SHA-256 checksum matches the machine's user-data) and shows it in the
//     API. The report is in memory only: the inventory has no field for it,
//     so a restart keeps the "ready" state but not the report.
//
// The machine's boot script, with <prefix> = <PublicURL>/machines/<name>/<token>/:
//
//	#!ipxe
//	kernel <prefix>assets/vmlinuz initrd=initrd0 <cmdline> ds=nocloud-net;s=<prefix>
//	initrd --name initrd0 <prefix>assets/initrd.img
//	boot
//
// The initrds are named and listed as initrd=<name> because UEFI kernels
// (the EFI stub) find them that way; BIOS kernels ignore it. Both are left
// to the profile if its cmdline has its own initrd= or ds=. The datasource
// is spelt nocloud-net because older cloud-init fetches a seed over HTTP
// only under that name; newer releases take it as an alias.
//
// Relative kernel and initrd references in a profile ("vmlinuz",
// "/vmlinuz" and "/assets/vmlinuz" all mean <AssetsDir>/vmlinuz) become
// URLs under the machine's prefix; http(s) and tftp URLs are used as
// written, and then the server cannot see the kernel download, so
// "kernel-fetched" is never recorded for that machine.
//
// # Per-machine isolation
//
// Every /machines/<name>/... route checks the token (in the query for the
// script, in the path below it, because NoCloud appends file names to the
// seed URL) with the inventory's constant-time Machine.TokenMatches. A
// wrong, missing or other machine's token, and an unknown machine name, all
// get the same 403, and no progress is recorded. A booted machine can
// therefore read only its own script, user-data and meta-data.
//
// The trust root of a token is the MAC: /boot.ipxe hands a registered
// MAC's token to whoever asks with that MAC, as PXE itself trusts the MAC
// in a DHCP request. The boot network must therefore be one where MACs are
// not spoofed by untrusted hosts; the token keeps a machine from reading
// another's user-data by guessing names or URLs, not from impersonating its
// MAC. Logs never carry tokens: refused requests log the route pattern, not
// the URL.
//
// # Unknown MACs and discovery
//
// An unknown MAC gets HTTP 200 with a script that echoes why and exits
// ("#!ipxe", "echo ...", "exit"): a 200 because iPXE only prints the output
// of a script it ran (a 404 shows only an error code), and "exit" returns
// to the firmware, which goes on to its next boot device instead of
// looping on PXE. A missing or malformed mac= parameter is answered the
// same way.
//
// With Config.DiscoveryProfile set, an unknown MAC instead boots that
// profile, with kernel and initrds from /assets/ and the NoCloud seed
// /discovery/<mac-with-dashes>/ (user-data, meta-data with instance-id and
// local-hostname "discovery-<mac>", vendor-data). Those routes have no token,
// so the profile must also be marked Discovery in the inventory: whatever it
// holds is given to any unknown machine, and the flag keeps a profile with
// secrets from being handed out by a typo in the server's flags. Without the
// flag (or if the profile is missing) unknown MACs get the message script
// and the server logs why.
//
// # Assets
//
// GET /assets/<path> serves kernels and initrds from Config.AssetsDir with
// http.ServeContent on an *os.File: Range and conditional requests, and
// sendfile(2) on plain TCP. Assets are not secret, so this route needs no
// token. A path with a ".." segment or a NUL is refused (403) before the
// file system is touched; the file is opened through an os.Root, so a
// symbolic link that leads outside the directory is refused (403) by the
// kernel-backed lookup; FIFOs and devices are refused (403), directories
// and missing files are 404.
//
// # API
//
// Everything under /api/v1/ needs "Authorization: Bearer <APIToken>"
// (compared in constant time after hashing, so neither content nor length
// leaks); otherwise 401 with WWW-Authenticate. Errors are JSON
// {"error": "...", "field": "..."} (field when one request field is at
// fault): 400 bad input, 401, 404, 405, 409 for inventory conflicts (a MAC
// owned by another machine, a profile in use), 413 for a body over
// MaxAPIBodyBytes. Request bodies are decoded strictly: unknown fields are
// errors.
//
//	POST   /api/v1/machines              register (upsert): 201 new, 200 re-registered
//	GET    /api/v1/machines?tag=K=V...   list, filtered by tags (any other parameter is a 400)
//	GET    /api/v1/machines/<name>       one, with state, history and the last phone-home
//	DELETE /api/v1/machines/<name>       204
//	PUT    /api/v1/profiles/<name>       create (201) or replace (200)
//	GET    /api/v1/profiles[/<name>]     list or one
//	DELETE /api/v1/profiles/<name>       204; 409 while a machine uses it
//
// Machine tokens are never returned, not even on create: the provisioner
// never needs one (the server builds every URL that carries it), and a token
// in an API answer would end up in Terraform state and client logs, from
// where anyone could read that machine's user-data. Profile user-data is
// write-only: GET shows only its size. A PUT without user_data keeps the
// current user-data (a client that reads, edits and writes back a profile
// cannot see it, so it must not wipe it); "user_data": "" clears it.
//
// # Status page
//
// GET / is a page for people watching machines boot: every machine with
// its MAC, profile, strata:* tags, power state and its boot steps (DHCP,
// script, kernel, phone-home) with times, from the inventory's history
// (the current boot starts at the last "registered" or "dhcp"). It updates
// live through server-sent events on GET /events: every 500 ms the handler
// re-reads the inventory and, when the table changed, sends its rows
// rendered by the page's own template. A machine that is neither ready
// nor known to be powered off and has had no boot step for
// Config.StuckAfter (DefaultStuckAfter) is marked stuck, in words as well
// as in colour. HTML, CSS and a small script are embedded (page/); the page
// loads nothing from elsewhere (its Content-Security-Policy says so).
//
// The page is behind the API token: a login form POSTs it to /login, which
// compares it in constant time as the API does and sets a session cookie
// (HttpOnly, SameSite=Strict, Path=/, Secure over TLS). The cookie holds a
// random session id the server keeps (hashed, for 12 hours, in memory:
// logout and a restart end sessions), never the token, and the token is
// never in a URL. A wrong token gets a message and no data, after a
// one-second delay; five wrong tokens from one address within a minute
// lock it out for the rest of that minute. POST /logout ends the session.
//
// Power states come from Config.Power, which whoever starts the server may
// supply; the server holds no BMC passwords, so without it the page says
// so. BMC answers are kept for 10 s and asked for in the background. The
// page's data is built field by field from the inventory: no machine
// token, no user-data and no BMC password reaches it.
package web
