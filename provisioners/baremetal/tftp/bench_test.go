package tftp

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkDownload30MB measures throughput on loopback for one 30 MB file
// (the size of an initrd) fetched at blksize 1468 in lock-step (window=1,
// pin/tftp's client) and with an RFC 7440 window of 16 blocks (our test
// client), by 1 and by 50 concurrent clients. MB/s is the total over all
// clients. acceptance/bench/tftp.sh compares with dnsmasq using atftp.
//
//	go test -run '^$' -bench Download30MB -benchtime 1x ./provisioners/baremetal/tftp
//
// Loopback has next to no latency, so these numbers are CPU-bound and say
// little about a LAN, where lock-step costs one round trip per block.
func BenchmarkDownload30MB(b *testing.B) {
	const size = 30 << 20
	dir := b.TempDir()
	writeRandomFile(b, dir, "initrd.img", size, 3)
	for _, window := range []int{1, 16} {
		for _, clients := range []int{1, 50} {
			b.Run(fmt.Sprintf("blksize=1468/window=%d/clients=%d", window, clients), func(b *testing.B) {
				ts := startServer(b, dir, Options{}, "")
				b.SetBytes(int64(clients) * size)
				var failures atomic.Int64
				start := time.Now()
				iters := 0
				for b.Loop() {
					iters++
					var wg sync.WaitGroup
					for range clients {
						wg.Go(func() {
							var n int64
							var err error
							if window == 1 {
								n, _, err = pinFetch(ts.addr, "initrd.img", 1468, true, io.Discard)
							} else {
								n, _, err = windowGet(ts.addr, "initrd.img", getOpts{blksize: 1468, window: window, timeout: 2 * time.Second}, io.Discard)
							}
							if err != nil || n != size {
								failures.Add(1)
								b.Errorf("download: %d bytes, %v", n, err)
							}
						})
					}
					wg.Wait()
				}
				el := time.Since(start).Seconds()
				b.ReportMetric(float64(iters*clients*size)/1e6/el/float64(clients), "MB/s/client")
				b.ReportMetric(float64(failures.Load()), "failures")
			})
		}
	}
}
