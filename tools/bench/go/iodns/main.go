// SPDX-License-Identifier: MIT
// Command io is the Go counterpart of goro-bench's "io" suite
// (tools/bench/bench_io.c) where Go has one: name resolution beside a
// 1 ms sleeper.  1,000 goroutines on 2 Ps each look up "localhost" and the
// machine's own name with net.DefaultResolver while a goroutine sleeps
// 1 ms at a time; the sleeper's lateness is printed as "figure value ms"
// lines for goro-bench to put beside goro's.  (The Redis figures have no
// counterpart: Go's standard library has no Redis client.)
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	quick := flag.Bool("quick", false, "small workload")
	flag.Parse()
	runtime.GOMAXPROCS(2)
	n := 1000
	if *quick {
		n = 100
	}
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	var left int64 = int64(n)
	var failures int64
	var late []float64
	var wg sync.WaitGroup
	done := make(chan struct{})
	go func() {
		for atomic.LoadInt64(&left) > 0 {
			t0 := time.Now()
			time.Sleep(time.Millisecond)
			late = append(late, float64(time.Since(t0)-time.Millisecond)/1e6)
		}
		close(done)
	}()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, name := range []string{"localhost", host} {
				if _, err := net_lookup(name); err != nil {
					atomic.AddInt64(&failures, 1)
				}
			}
			atomic.AddInt64(&left, -1)
		}()
	}
	wg.Wait()
	<-done
	if failures > 0 || len(late) == 0 {
		fmt.Fprintf(os.Stderr, "io: %d lookups failed\n", failures)
		os.Exit(1)
	}
	sort.Float64s(late)
	fmt.Printf("dns-late-p99 %.3f ms\n", late[len(late)*99/100])
	fmt.Printf("dns-late-max %.3f ms\n", late[len(late)-1])
}

func net_lookup(name string) ([]string, error) {
	return net.DefaultResolver.LookupHost(context.Background(), name)
}
