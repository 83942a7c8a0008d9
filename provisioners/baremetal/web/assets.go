package web

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/stratastack/strata/provisioners/baremetal/api"
)

// errRefusedPath marks an asset name refused before the file system is
// touched.
var errRefusedPath = fmt.Errorf("refused asset path: %w", fs.ErrPermission)

// cleanAssetPath maps a request or profile path to a name relative to the
// assets directory, by string rules only: no NUL, no ".." segment (refused
// even when it would stay inside, since nothing legitimate needs it), and a
// local result. Symbolic links are os.Root's job in openAsset.
func cleanAssetPath(p string) (string, error) {
	if strings.IndexByte(p, 0) >= 0 {
		return "", fmt.Errorf("%w: NUL byte", errRefusedPath)
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == ".." {
			return "", fmt.Errorf("%w: %q segment", errRefusedPath, "..")
		}
	}
	rel := path.Clean(strings.TrimLeft(p, "/"))
	if rel == "." || rel == "" {
		return "", fmt.Errorf("%w: no file name", errRefusedPath)
	}
	if !filepath.IsLocal(rel) {
		return "", fmt.Errorf("%w: not a local path", errRefusedPath)
	}
	return rel, nil
}

// profileAsset reports whether a profile's kernel or initrd reference names
// a file in the assets directory, and which. A reference with a URL scheme
// (http://, https://, tftp://) is fetched from there as written; anything
// else is an asset path, where a leading "/assets/" or "/" is dropped, so
// "vmlinuz", "/vmlinuz" and "/assets/vmlinuz" all name <AssetsDir>/vmlinuz.
func profileAsset(ref string) (rel string, ok bool) {
	u, err := url.Parse(ref)
	if err != nil || u.Scheme != "" {
		return "", false
	}
	p := u.Path
	if after, found := strings.CutPrefix(p, "/assets/"); found {
		p = after
	}
	rel, err = cleanAssetPath(p)
	return rel, err == nil
}

// assetURL is the URL a script uses for a profile's kernel or initrd: an
// asset path under base (escaped segment by segment), or the reference as
// written.
func assetURL(base, ref string) string {
	rel, ok := profileAsset(ref)
	if !ok {
		return ref
	}
	segs := strings.Split(rel, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return base + strings.Join(segs, "/")
}

// publicAsset answers GET /assets/<path>. Kernels and initrds are not secret
// (they are the same for every machine of a profile and unknown machines in
// discovery need them), so this route has no token.
func (h *Handler) publicAsset(w http.ResponseWriter, r *http.Request) {
	h.serveAsset(w, r, r.PathValue("path"), nil)
}

// machineAsset answers GET /machines/<name>/<token>/assets/<path>, the URL
// per-machine scripts use. Same files as /assets/; the token ties the
// download to the machine, so fetching the profile's kernel in full records
// kernel-fetched for it.
func (h *Handler) machineAsset(w http.ResponseWriter, r *http.Request) {
	m, ok := h.machine(w, r, r.PathValue("name"), r.PathValue("token"))
	if !ok {
		return
	}
	var onComplete func()
	if r.Method == http.MethodGet {
		p, ok := h.profile(w, r, m)
		if !ok {
			return
		}
		kernel, isAsset := profileAsset(p.Kernel)
		if rel, err := cleanAssetPath(r.PathValue("path")); err == nil && isAsset && rel == kernel {
			onComplete = func() { h.setState(r, m.Name, api.StateKernelFetched) }
		}
	}
	h.serveAsset(w, r, r.PathValue("path"), onComplete)
}

// serveAsset serves one file from the assets directory with
// http.ServeContent, which answers Range and conditional requests, and which
// copies an *os.File with sendfile(2) on plain TCP. onComplete, when set, is
// called after a response that delivered the end of the file (a 200 in
// full, or a 206 whose range reaches the last byte, as a resumed download's
// last request does), so a download that breaks off is not reported done.
func (h *Handler) serveAsset(w http.ResponseWriter, r *http.Request, name string, onComplete func()) {
	if h.assets == nil {
		http.Error(w, "this boot server has no assets directory", http.StatusNotFound)
		return
	}
	rel, err := cleanAssetPath(name)
	if err == nil {
		var f *os.File
		var fi fs.FileInfo
		f, fi, err = openAsset(h.assets, rel)
		if err == nil {
			defer f.Close()
			ct := mime.TypeByExtension(path.Ext(rel))
			if ct == "" {
				// Kernels and initrds have no useful extension; saying so
				// also spares ServeContent sniffing the first 512 bytes.
				ct = "application/octet-stream"
			}
			w.Header().Set("Content-Type", ct)
			if onComplete == nil {
				http.ServeContent(w, r, rel, fi.ModTime(), f)
				return
			}
			cw := &countingWriter{ResponseWriter: w}
			http.ServeContent(cw, r, rel, fi.ModTime(), f)
			if cw.deliveredEnd(fi.Size()) {
				onComplete()
			}
			return
		}
	}
	if errors.Is(err, fs.ErrNotExist) {
		http.Error(w, "no such asset", http.StatusNotFound)
		return
	}
	h.log.Warn("refused an asset request", "path", consoleSafe(name), "err", err, "remote", r.RemoteAddr)
	http.Error(w, "asset path refused", http.StatusForbidden)
}

// openAsset opens rel below root for reading. os.Root resolves every
// component, symbolic links included, relative to the directory's file
// descriptor and fails if the walk would leave it, so a link planted in the
// assets directory that points at /etc/shadow is refused however harmless
// its name looks. Only regular files are served; a directory is "not
// found" rather than a listing.
//
// Errors wrap fs.ErrNotExist (404) or fs.ErrPermission (403).
func openAsset(root *os.Root, rel string) (*os.File, fs.FileInfo, error) {
	// O_NONBLOCK: open(2) on a FIFO without a writer would otherwise block
	// forever; on a regular file it changes nothing. One open and one
	// fstat, no separate path walk for a stat: this runs per request.
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, permissionUnlessMissing(err)
	}
	fi, err := f.Stat()
	switch {
	case err != nil:
		f.Close()
		return nil, nil, permissionUnlessMissing(err)
	case fi.IsDir():
		f.Close()
		return nil, nil, fmt.Errorf("%s is a directory: %w", rel, fs.ErrNotExist)
	case !fi.Mode().IsRegular():
		f.Close()
		return nil, nil, fmt.Errorf("%s is not a regular file (%s): %w", rel, fi.Mode().Type(), fs.ErrPermission)
	}
	return f, fi, nil
}

// permissionUnlessMissing maps os.Root's "path escapes from parent" (which
// wraps neither) and every other failure except a plain missing file to
// fs.ErrPermission.
func permissionUnlessMissing(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return err
	}
	return fmt.Errorf("%w: %w", fs.ErrPermission, err)
}

// countingWriter notes the status and the bytes written so serveAsset can
// tell a complete download from a broken or partial one. It implements
// io.ReaderFrom by delegating, because net/http's ResponseWriter does and
// that is the path to sendfile(2): hiding it would turn every kernel
// download into a user-space copy.
type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
	err    error
}

func (c *countingWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	if err != nil {
		c.err = err
	}
	return n, err
}

func (c *countingWriter) ReadFrom(src io.Reader) (int64, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := c.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(struct{ io.Writer }{c.ResponseWriter}, src)
	}
	c.n += n
	if err != nil {
		c.err = err
	}
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// deliveredEnd reports whether the response carried the file's last byte
// without a write error: a 200 with every byte, or a single-range 206
// (Content-Range "bytes a-b/size") with b the last byte and all of a..b
// written. Multi-range answers are not counted; boot loaders do not send
// them.
func (c *countingWriter) deliveredEnd(size int64) bool {
	if c.err != nil {
		return false
	}
	switch c.status {
	case http.StatusOK:
		return c.n == size
	case http.StatusPartialContent:
		var first, last, total int64
		if _, err := fmt.Sscanf(c.Header().Get("Content-Range"), "bytes %d-%d/%d", &first, &last, &total); err != nil {
			return false
		}
		return total == size && last == size-1 && c.n == last-first+1
	}
	return false
}
