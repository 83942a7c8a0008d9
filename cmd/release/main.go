// Command release builds a release of Strata into a folder: the
// provider's zips for every platform, its registry manifest, SHA256SUMS
// signed with GPG when -sign names a key, and the strata CLI's zips; with
// -mirror it also adds the provider to a network mirror folder.
//
//	go run ./cmd/release -out dist [-version $(cat VERSION)] [-sign KEY] [-mirror DIR] [-platforms linux_amd64,...]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"

	"github.com/stratastack/strata/internal/release"
)

func main() {
	out := flag.String("out", "dist", "the folder the artifacts go to (emptied first)")
	version := flag.String("version", "", "the version (default: the VERSION file)")
	sign := flag.String("sign", os.Getenv("GPG_FINGERPRINT"), "GPG key signing SHA256SUMS (default $GPG_FINGERPRINT; empty: unsigned)")
	mirror := flag.String("mirror", "", "also add the provider zips to the network mirror rooted here")
	platforms := flag.String("platforms", "", "comma-separated OS_ARCH list (default: linux, darwin, windows on amd64 and arm64)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *out, *version, *sign, *mirror, *platforms); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out, version, sign, mirror, platforms string) error {
	if version == "" {
		b, err := os.ReadFile("VERSION")
		if err != nil {
			return fmt.Errorf("no -version and no VERSION file here: %w", err)
		}
		version = strings.TrimSpace(string(b))
	}
	ps := release.Platforms()
	if platforms != "" {
		ps = nil
		for _, s := range strings.Split(platforms, ",") {
			p, err := release.ParsePlatform(strings.TrimSpace(s))
			if err != nil {
				return err
			}
			ps = append(ps, p)
		}
	}
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	commit, err := exec.CommandContext(ctx, "git", "rev-parse", "HEAD").Output()
	if err != nil {
		return fmt.Errorf("git rev-parse HEAD (the commit the binaries report): %w", err)
	}
	a, err := release.Build(ctx, release.Options{
		Root: root, Out: out, Version: version, Commit: strings.TrimSpace(string(commit)), Platforms: ps, SignKey: sign, Env: os.Environ(),
		Logf: func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) },
	})
	if err != nil {
		return err
	}
	fmt.Printf("release %s in %s: %d provider and %d CLI archives, %s", version, out, len(a.Provider), len(a.CLI), a.Sums)
	if a.Sig != "" {
		fmt.Printf(", signed (%s)", a.Sig)
	}
	fmt.Println()
	if mirror != "" {
		if err := release.Mirror(a, mirror); err != nil {
			return err
		}
		fmt.Printf("network mirror: %s (serve it over HTTPS)\n", mirror)
	}
	return nil
}
