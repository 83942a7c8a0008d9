package tftp

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// errRefused marks a request name that is refused before the file system is
// touched. It wraps fs.ErrPermission so that callers (and the TFTP error
// code mapping) can use errors.Is without knowing this package's errors.
var errRefused = fmt.Errorf("refused file name: %w", fs.ErrPermission)

// cleanName maps a file name from a TFTP request to a path relative to the
// root, using only string operations. prefixes are the root's absolute
// spellings (as given and with symlinks resolved): an absolute name starting
// with one of them names the file below it, because some PXE configurations
// send full server-side paths.
//
// The result is always local (filepath.IsLocal): it cannot name anything
// above the root lexically. Symbolic links are the job of os.Root in
// openFile; this function is the cheap first gate and the fuzzing target.
func cleanName(prefixes []string, name string) (string, error) {
	if strings.IndexByte(name, 0) >= 0 {
		// A NUL ends a name on the wire, so one can only come from a caller
		// that passes odd strings; C code below us would truncate there.
		return "", fmt.Errorf("%w: NUL byte", errRefused)
	}
	// Windows-style PXE clients use backslashes. On Linux a backslash would
	// be an ordinary file name byte, so reading it as a separator changes
	// nothing about safety; it only makes those clients work and makes
	// "..\.." hit the ".." rule below.
	name = strings.ReplaceAll(name, `\`, "/")
	for seg := range strings.SplitSeq(name, "/") {
		if seg == ".." {
			// Refuse even ".." that would stay inside the root: no boot
			// firmware needs it, and refusing is easier to reason about.
			return "", fmt.Errorf("%w: %q segment", errRefused, "..")
		}
	}
	if strings.HasPrefix(name, "/") {
		for _, p := range prefixes {
			if p == "/" {
				break // every absolute name is below "/"; trimming "/" is enough
			}
			if name == p || strings.HasPrefix(name, p+"/") {
				name = name[len(p):]
				break
			}
		}
	}
	rel := path.Clean(strings.TrimLeft(name, "/"))
	if rel == "." || rel == "" {
		return "", fmt.Errorf("%w: no file name", errRefused)
	}
	rel = filepath.FromSlash(rel)
	if !filepath.IsLocal(rel) {
		// Unreachable after the checks above on Unix; kept so that a future
		// edit (or another OS's reserved names) cannot turn into an escape.
		return "", fmt.Errorf("%w: not a local path", errRefused)
	}
	return rel, nil
}

// openFile opens rel below root for reading. os.Root resolves every path
// component (symlinks included) relative to the root's file descriptor and
// fails if the walk would leave it, so a symlink to /etc/passwd planted in the
// root is refused here even though its name is harmless.
//
// Every error wraps fs.ErrNotExist (answered "file not found") or
// fs.ErrPermission (answered "access violation"); os.Root's "path escapes
// from parent" wraps neither by itself.
func openFile(root *os.Root, rel string) (*os.File, fs.FileInfo, error) {
	f, fi, err := openRegular(root, rel)
	if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrPermission) {
		err = fmt.Errorf("%w: %w", fs.ErrPermission, err)
	}
	return f, fi, err
}

func openRegular(root *os.Root, rel string) (*os.File, fs.FileInfo, error) {
	// Stat first so that FIFOs and devices are refused before open(2), which
	// would block on a FIFO with no writer.
	fi, err := root.Stat(rel)
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s: not a regular file (%s): %w", rel, fi.Mode().Type(), fs.ErrPermission)
	}
	f, err := root.Open(rel)
	if err != nil {
		return nil, nil, err
	}
	// The name may have been swapped between Stat and Open; make sure we
	// opened the file we checked.
	ofi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !ofi.Mode().IsRegular() || !os.SameFile(fi, ofi) {
		f.Close()
		return nil, nil, fmt.Errorf("%s: changed while being opened: %w", rel, fs.ErrPermission)
	}
	return f, ofi, nil
}

// isNotFound reports whether err should be answered with TFTP error 1 (file
// not found) rather than 2 (access violation). Only a plain "does not
// exist" qualifies; os.Root's "path escapes from parent" error and
// everything else is an access violation.
func isNotFound(err error) bool {
	return errors.Is(err, fs.ErrNotExist)
}
