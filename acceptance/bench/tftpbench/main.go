// Command tftpbench serves a directory with Strata's TFTP server for
// acceptance/bench/tftp.sh. It runs until SIGINT or SIGTERM, then prints
// one line of totals on stdout: transfers, failures and the largest number
// of transfers that were running at the same moment, so the script can
// tell that its concurrent clients really overlapped.
//
//	tftpbench -root DIR [-addr 127.0.0.1:69] [-window 16] [-max-block 0]
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/stratastack/strata/provisioners/baremetal/tftp"
)

func main() {
	root := flag.String("root", "", "directory to serve")
	addr := flag.String("addr", "127.0.0.1:69", "UDP address to listen on")
	window := flag.Int("window", tftp.DefaultWindowSize, "largest windowsize (RFC 7440) granted")
	maxBlock := flag.Int("max-block", 0, "largest blksize granted (0: the interface MTU)")
	flag.Parse()
	if err := run(*root, *addr, *window, *maxBlock); err != nil {
		log.Fatal(err)
	}
}

// stats collects every finished transfer's span and outcome.
type stats struct {
	mu       sync.Mutex
	spans    [][2]time.Time
	failures int
}

func (s *stats) add(t tftp.Transfer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.spans = append(s.spans, [2]time.Time{t.Start, t.Start.Add(t.Duration)})
	if t.Err != nil {
		s.failures++
		log.Printf("transfer %s from %s failed after %d bytes: %v", t.Filename, t.Remote, t.Bytes, t.Err)
	}
}

// peak is the largest number of transfers running at one instant.
func (s *stats) peak() int {
	type event struct {
		at    time.Time
		delta int
	}
	var evs []event
	for _, sp := range s.spans {
		evs = append(evs, event{sp[0], 1}, event{sp[1], -1})
	}
	// Ends sort before starts at the same instant: touching spans do not
	// overlap.
	slices.SortFunc(evs, func(a, b event) int {
		return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.delta, b.delta))
	})
	cur, best := 0, 0
	for _, e := range evs {
		cur += e.delta
		best = max(best, cur)
	}
	return best
}

func run(root, addr string, window, maxBlock int) error {
	st := &stats{}
	srv, err := tftp.New(root, tftp.Options{WindowSize: window, MaxBlockSize: maxBlock, OnTransfer: st.add})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log.Printf("serving %s on %s (window %d)", srv.Root(), addr, window)
	if err := srv.ListenAndServe(ctx, addr); err != nil {
		return err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	fmt.Printf("transfers=%d failures=%d peak_concurrent=%d\n", len(st.spans), st.failures, st.peak())
	return nil
}
