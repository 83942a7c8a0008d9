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
// (the size of an initrd) fetched with pin/tftp's client at blksize 1468,
// with the server in lock-step (window=1) and with send-ahead of 16 blocks,
// by 1 and by 50 concurrent clients. MB/s is the total over all clients.
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
				ts := startServer(b, dir, Options{WindowSize: window}, "")
				b.SetBytes(int64(clients) * size)
				var failures atomic.Int64
				start := time.Now()
				iters := 0
				for b.Loop() {
					iters++
					var wg sync.WaitGroup
					for range clients {
						wg.Go(func() {
							n, _, err := pinFetch(ts.addr, "initrd.img", 1468, true, io.Discard)
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
