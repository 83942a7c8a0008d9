package version

import (
	"cmp"
	"fmt"
	"runtime"
	"runtime/debug"
)

// Info is what a binary knows of its build.
type Info struct {
	Version  string // the release version (VERSION at build time), or "dev"
	Commit   string // the commit it was built from, "" when unknown
	Modified bool   // the tree had changes the commit does not hold
	Go       string
	Platform string // os/arch
}

// Of is the Info of this binary, linked with version and commit (main's
// -X values; the toolchain's VCS stamp stands in for an empty commit).
func Of(version, commit string) Info {
	i := Info{Version: cmp.Or(version, "dev"), Commit: commit, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok && commit == "" {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				i.Commit = s.Value
			case "vcs.modified":
				i.Modified = s.Value == "true"
			}
		}
	}
	return i
}

// String is one line: "0.13.0 (commit 4f39fb9, go1.26.8, linux/amd64)".
func (i Info) String() string {
	commit := "commit unknown"
	if i.Commit != "" {
		commit = "commit " + i.Commit[:min(len(i.Commit), 12)]
		if i.Modified {
			commit += " with local changes"
		}
	}
	return fmt.Sprintf("%s (%s, %s, %s)", i.Version, commit, i.Go, i.Platform)
}
