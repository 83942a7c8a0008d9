// Package tftp is the TFTP part of the bare-metal boot server: a read-only
// TFTP server that hands PXE firmware the iPXE binaries it chainloads
// (undionly.kpxe for BIOS, ipxe.efi for UEFI). Everything after iPXE
// (scripts, kernels, initrds) usually goes over HTTP, but a window of
// blocks (RFC 7440) makes TFTP fast enough for kernels too, where a
// firmware can only fetch those by TFTP.
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
// # Protocol
//
// The server is this package's own implementation of the read side of RFC
// 1350, with option negotiation (RFC 2347). Every transfer runs on its own
// UDP socket (a new transfer ID), connected to the client and bound to the
// address the request was sent to, so that replies come from the address
// the client talked to on multi-homed and dual-stack hosts. The blocks of
// a window are read with one ReadAt into a buffer laid out as consecutive
// DATA packets, which on Linux leave in one sendmsg with UDP segmentation
// offload (UDP_SEGMENT; one write per packet where the kernel or device
// refuses it). Resends read the file again, so no copy of the window is
// kept, and sending allocates nothing.
// Requests in "netascii" mode are converted (LF to CR LF, CR to CR NUL);
// every other mode is served as raw bytes.
//
// Options are matched case-insensitively and answered in the client's
// spelling and order. Unknown options and out-of-range values are left
// out; an OACK is sent only when at least one option was accepted, and a
// client that answers it with an ERROR (code 8, options refused) ends the
// transfer there.
//
//   - blksize (RFC 2348, 8..65464): capped at [Options.MaxBlockSize] and at
//     the MTU of the interface the request came in on, minus IP, UDP and
//     TFTP headers (1468 on Ethernet). Without the interface (a conn that
//     is not a *net.UDPConn) only 512 is granted.
//   - tsize (RFC 2349): answered with the file's size, whatever value the
//     client sent (atftp sends what the user typed, such as "enable").
//   - timeout (RFC 2349, 1..255 s): acknowledged as sent; the server then
//     retransmits after the smaller of it and [Options.Timeout].
//   - windowsize (RFC 7440, 1..65535): granted up to [Options.WindowSize]
//     (default [DefaultWindowSize]). The server sends a window of blocks,
//     then waits for the ACK of its last block. An ACK for an earlier
//     block of the window means the client lost the block after it, and
//     sending resumes there; a timeout resends from the first block not
//     acknowledged; duplicate and stale ACKs are ignored, which rules out
//     the Sorcerer's Apprentice bug. Clients that do not ask get lock-step.
//
// Block numbers roll over from 65535 to 0, as tftp-hpa, atftp and curl
// expect, so files of any size can be sent (beyond 32 MB at 512-byte
// blocks). A client that stops answering is given up after
// [Options.Retries] retransmissions without progress, so it holds its
// socket for at most (Retries+1)*Timeout; [Options.MaxTransfers] bounds
// how many transfers run at once, and a request retransmitted while its
// transfer runs does not start a second one.
//
// # Progress
//
// [Options.OnTransfer] is called once per request, with the peer, the file,
// the bytes the client acknowledged, the time it took and the error if
// any, so the boot server can record "kernel fetched"-style progress for a
// machine.
package tftp
