//go:build linux

package tftp

import (
	"encoding/binary"
	"syscall"
	"unsafe"
)

// udpSegment is UDP_SEGMENT from <linux/udp.h> (Linux 4.18+), which the
// syscall package lacks.
const udpSegment = 103

// gsoControl returns the control message that makes one sendmsg of a
// buffer go out as datagrams of segment bytes each (UDP generic
// segmentation offload), the last one possibly shorter.
func gsoControl(segment int) []byte {
	oob := make([]byte, syscall.CmsgSpace(2))
	h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level = syscall.IPPROTO_UDP
	h.Type = udpSegment
	h.SetLen(syscall.CmsgLen(2))
	binary.NativeEndian.PutUint16(oob[syscall.CmsgLen(0):], uint16(segment))
	return oob
}
