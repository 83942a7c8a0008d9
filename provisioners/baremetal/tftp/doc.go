// Package tftp is the TFTP part of the bare-metal boot server: a read-only
// TFTP server, built on github.com/pin/tftp/v3, that hands PXE firmware the
// iPXE binaries it chainloads (undionly.kpxe for BIOS, ipxe.efi for UEFI).
// Everything after iPXE (scripts, kernels, initrds) goes over HTTP, so this
// server only has to be small, safe and fast enough for a few hundred
// kilobytes per machine.
//
// # What it serves
//
// Files come from one root directory that the caller passes to [New].
// [DefaultRoot] is where Debian's ipxe package installs those binaries. A
// request's name is mapped into the root like this:
//
//   - a leading "/" means "the root" (PXE ROMs and iPXE often send one), and
//     an absolute name that starts with the root directory itself is mapped
//     to the file below it;
//   - "\" is read as "/" (Windows-style PXE clients send it);
//   - a name containing a ".." segment or a NUL byte is refused, whatever it
//     would resolve to;
//   - the file is opened through an [os.Root], so a symbolic link inside the
//     root that points outside it is refused by the kernel-backed lookup, not
//     by string checks;
//   - only regular files are served: directories, FIFOs and devices are
//     refused (opening a FIFO would otherwise block a transfer forever).
//
// A missing file is answered with TFTP error 1 (file not found); a refused
// name, a non-regular file and every write request with error 2 (access
// violation).
//
// # Options (RFC 2347)
//
//   - blksize (RFC 2348): honoured up to [Options.MaxBlockSize] and the MTU
//     of the interface the request came in on.
//   - tsize (RFC 2349): answered with the file's size.
//   - windowsize (RFC 7440): NOT negotiated. pin/tftp (v3.1.0 and v3.2.0)
//     drops the option from its OACK, which RFC 7440 clients read as "window
//     of 1"; they still download correctly. [Options.WindowSize] instead turns
//     on pin/tftp's experimental send-ahead: the server sends that many blocks
//     before it waits for their ACKs. Clients cope because each still ACKs
//     every block, but the gain is smaller than a real RFC 7440 window (where
//     the client ACKs once per window), and one lost packet makes the
//     transfer fail, with every client tested, because pin/tftp then waits
//     for ACKs that never come. Keep it off (the default) on real networks.
//   - timeout (RFC 2349) is not negotiated either; [Options.Timeout] and
//     [Options.Retries] set the server's own retransmission.
//
// # Progress
//
// [Options.OnTransfer] is called once per request, with the peer, the file,
// the bytes sent, the time it took and the error if any, so the boot server
// can record "kernel fetched"-style progress for a machine.
package tftp
