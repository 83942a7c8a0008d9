//go:build !linux

package main

import (
	"context"
	"fmt"
	"io"

	"github.com/stratastack/strata/internal/cli"
)

// labCmd refuses: the lab is network namespaces, tap devices and QEMU.
func labCmd(_ context.Context, _ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "strata lab: the PXE lab needs Linux (network namespaces, tap devices, QEMU)")
	return cli.Invalid
}
