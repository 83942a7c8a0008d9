package cli

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/stratastack/strata/provisioners/baremetal/boot"
)

// BootServe runs the boot server until ctx ends, logging to stderr and
// printing where each part listens.
func BootServe(ctx context.Context, cfg boot.Config, io IO) int {
	if cfg.APIToken == "" {
		fmt.Fprintln(io.Err, "strata boot serve: set STRATA_BOOT_TOKEN (at least 16 characters): the API requires a bearer token")
		return Usage
	}
	cfg.Log = slog.New(slog.NewTextHandler(io.Err, nil))
	cfg.Ready = func(a boot.Addrs) {
		fmt.Fprintf(io.Out, "http %s\npublic %s\n", a.HTTP, a.PublicURL)
		if a.TFTP != "" {
			fmt.Fprintf(io.Out, "tftp %s\n", a.TFTP)
		}
		// After the addresses, which scripts read line by line.
		fmt.Fprintf(io.Out, "status page %s/ (log in with STRATA_BOOT_TOKEN)\n", a.PublicURL)
	}
	if err := boot.Run(ctx, cfg); err != nil {
		fmt.Fprintf(io.Err, "Error: %v\n", err)
		return Invalid
	}
	return OK
}
