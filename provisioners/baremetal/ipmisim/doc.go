// Package ipmisim runs OpenIPMI's ipmi_sim as a BMC: a real IPMI v2.0
// (RMCP+) server on a UDP port, whose chassis power and boot device are
// handed to a program of ours (lan.conf's chassis_control). The PXE lab
// gives each VM one, whose program starts and stops that VM; tests give it
// one that keeps the chassis state in files.
//
// ipmi_sim runs `PROG [MC] get power boot` and reads "name:value" lines,
// and `PROG [MC] set NAME VALUE ...` to change them ("power 1", "power 0",
// "reset 1", "shutdown 1", "boot pxe"). A power cycle arrives as "power
// 0" and, a second later, "power 1". It waits for the program's output to
// close, so a program that starts a long-lived process must detach it.
package ipmisim
