// Command osdirect is the baseline of acceptance/bench/openstack50.sh: a
// minimal gophercloud loop that creates N servers at a given concurrency
// and waits for each to be ACTIVE, then deletes them and waits until they
// are gone, polling as strata's provisioner does. It prints the seconds
// each phase took.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
)

func main() {
	n := flag.Int("n", 50, "servers")
	par := flag.Int("parallelism", 10, "concurrent calls")
	flavor := flag.String("flavor", "1", "flavor id")
	image := flag.String("image", "", "image id")
	flag.Parse()
	ctx := context.Background()
	opts, err := openstack.AuthOptionsFromEnv()
	if err != nil {
		fail(err)
	}
	pc, err := openstack.AuthenticatedClient(ctx, opts)
	if err != nil {
		fail(err)
	}
	c, err := openstack.NewComputeV2(pc, gophercloud.EndpointOpts{Region: os.Getenv("OS_REGION_NAME")})
	if err != nil {
		fail(err)
	}
	c.Microversion = "2.93" // what strata pins on this cloud (its highest, up to 2.93)
	start := time.Now()
	sem := make(chan struct{}, *par)
	call := func(f func() error) error {
		sem <- struct{}{}
		defer func() { <-sem }()
		return f()
	}
	// Two phases, as `strata up` then `strata down`: every server created
	// and ACTIVE, then every one deleted and gone.
	ids := make([]string, *n)
	each(*n, func(i int) error { return up(ctx, c, call, fmt.Sprintf("direct-%d", i), *flavor, *image, &ids[i]) })
	up := time.Since(start)
	each(*n, func(i int) error { return down(ctx, c, call, ids[i]) })
	fmt.Printf("%.2f %.2f\n", up.Seconds(), time.Since(start).Seconds()-up.Seconds())
}

// each runs f(0..n-1) concurrently and fails the program on an error.
func each(n int, f func(int) error) {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- f(i) }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			fail(err)
		}
	}
}

// up creates one server and waits for ACTIVE; each API call (the wait
// counts as one, as the provisioner's Ready does) holds a slot of call's
// bound, as strata's engine holds one per provisioner call.
func up(ctx context.Context, c *gophercloud.ServiceClient, call func(func() error) error, name, flavor, image string, id *string) error {
	if err := call(func() error {
		s, err := servers.Create(ctx, c, servers.CreateOpts{Name: name, FlavorRef: flavor, ImageRef: image, Networks: "none",
			Metadata: map[string]string{"bench": "direct"}}, nil).Extract()
		if err == nil {
			*id = s.ID
		}
		return err
	}); err != nil {
		return err
	}
	return call(func() error {
		return poll(ctx, func() (bool, error) {
			s, err := servers.Get(ctx, c, *id).Extract()
			if err != nil {
				return false, err
			}
			if s.Status == "ERROR" {
				return false, fmt.Errorf("%s: ERROR", name)
			}
			return s.Status == "ACTIVE", nil
		})
	})
}

// down deletes one server and waits until it is gone, in one call.
func down(ctx context.Context, c *gophercloud.ServiceClient, call func(func() error) error, id string) error {
	return call(func() error {
		if err := servers.Delete(ctx, c, id).ExtractErr(); err != nil {
			return err
		}
		return poll(ctx, func() (bool, error) {
			_, err := servers.Get(ctx, c, id).Extract()
			if gophercloud.ResponseCodeIs(err, 404) {
				return true, nil
			}
			return false, err
		})
	})
}

// poll is the provisioner's schedule: at once, then after 250 ms,
// doubling to 1 s.
func poll(ctx context.Context, f func() (bool, error)) error {
	delay := 250 * time.Millisecond
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); {
		done, err := f()
		if err != nil || done {
			return err
		}
		time.Sleep(delay)
		delay = min(2*delay, time.Second)
	}
	return errors.New("timed out")
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "osdirect:", err)
	os.Exit(1)
}
