package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/stratastack/strata/internal/atomicfile"
)

// KernelPackage is the Debian package whose kernel the lab boots: small,
// and with virtio as modules the initramfs loads.
const KernelPackage = "linux-image-cloud-amd64"

// Kernel is a kernel image and the folder of the modules Modules names.
type Kernel struct {
	Image      string
	ModulesDir string
}

// cachedKernel is the kernel kept in dir, if it is complete.
func cachedKernel(dir string) (Kernel, bool) {
	k := Kernel{Image: filepath.Join(dir, "vmlinuz"), ModulesDir: filepath.Join(dir, "modules")}
	if _, err := os.Stat(k.Image); err != nil {
		return k, false
	}
	for _, m := range Modules() {
		if _, err := os.Stat(filepath.Join(k.ModulesDir, m+".ko")); err != nil {
			return k, false
		}
	}
	return k, true
}

// FetchKernel returns the kernel cached in dir, first downloading Debian's
// cloud kernel into it when it is not there: `apt-get download` of the
// package KernelPackage depends on, unpacked with dpkg-deb. Only the image
// and the modules Modules names are kept.
func FetchKernel(ctx context.Context, dir string) (Kernel, error) {
	if k, ok := cachedKernel(dir); ok {
		return k, nil
	}
	pkg, err := kernelPackage(ctx)
	if err != nil {
		return Kernel{}, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".kernel-")
	if err != nil {
		return Kernel{}, fmt.Errorf("lab: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := run(ctx, tmp, "apt-get", "download", pkg); err != nil {
		return Kernel{}, fmt.Errorf("lab: downloading the kernel: %w", err)
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, pkg+"_*.deb"))
	if len(debs) != 1 {
		return Kernel{}, fmt.Errorf("lab: apt-get download %s left %d packages", pkg, len(debs))
	}
	x := filepath.Join(tmp, "x")
	if err := run(ctx, tmp, "dpkg-deb", "-x", debs[0], x); err != nil {
		return Kernel{}, fmt.Errorf("lab: unpacking the kernel: %w", err)
	}
	imgs, _ := filepath.Glob(filepath.Join(x, "boot", "vmlinuz-*"))
	if len(imgs) != 1 {
		return Kernel{}, fmt.Errorf("lab: %s holds %d kernel images, want 1", debs[0], len(imgs))
	}
	if err := os.MkdirAll(filepath.Join(dir, "modules"), 0o755); err != nil {
		return Kernel{}, fmt.Errorf("lab: %w", err)
	}
	for _, m := range Modules() {
		found, _ := filepath.Glob(filepath.Join(x, "lib", "modules", "*", "kernel", "*", m+".ko"))
		more, _ := filepath.Glob(filepath.Join(x, "lib", "modules", "*", "kernel", "*", "*", m+".ko"))
		found = append(found, more...)
		if len(found) != 1 {
			return Kernel{}, fmt.Errorf("lab: %s has %d copies of module %s.ko, want 1", debs[0], len(found), m)
		}
		if err := copyFile(found[0], filepath.Join(dir, "modules", m+".ko")); err != nil {
			return Kernel{}, err
		}
	}
	// The image last: its presence is what marks the cache complete.
	if err := copyFile(imgs[0], filepath.Join(dir, "vmlinuz")); err != nil {
		return Kernel{}, err
	}
	k, _ := cachedKernel(dir)
	return k, nil
}

// kernelPackage resolves KernelPackage to the versioned package it depends
// on, which holds the files.
func kernelPackage(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "apt-cache", "depends", KernelPackage).Output()
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", fmt.Errorf("lab: no kernel in the cache and no apt-cache to fetch one: pass a kernel image and its modules folder")
		}
		return "", fmt.Errorf("lab: apt-cache depends %s: %w (run apt-get update?)", KernelPackage, err)
	}
	for line := range strings.Lines(string(out)) {
		if dep, ok := strings.CutPrefix(strings.TrimSpace(line), "Depends: "); ok && strings.HasPrefix(dep, "linux-image-") {
			return dep, nil
		}
	}
	return "", fmt.Errorf("lab: apt-cache depends %s names no linux-image package:\n%s", KernelPackage, out)
}

func run(ctx context.Context, dir, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	return atomicfile.Write(to, b, 0o644)
}
