// SPDX-License-Identifier: MIT
// Command io is the Go counterpart of goro-bench's "io" suite
// (tools/bench/bench_io.c): 64 goroutines read a file in 64 KiB ReadAt
// calls, taking chunks from a shared counter, at GOMAXPROCS 2, beside a
// goroutine sleeping 1 ms in a loop.  It prints "figure value unit" lines
// for goro-bench to put beside goro's: file-mbs (MB/s, 10^6 bytes) and
// file-late-{p50,p99,max} (how late the sleeper woke, µs).
//
// goro-bench writes the file (each 4 KiB block starts with its offset,
// little-endian) and passes its path; every block read is checked.
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

const (
	readers = 64
	chunk   = 64 * 1024
	block   = 4096
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	path := flag.String("file", "", "the file goro-bench wrote")
	passes := flag.Int("passes", 1, "times the file is read")
	flag.Parse()
	runtime.GOMAXPROCS(2)
	f, err := os.Open(*path)
	if err != nil {
		fail("open: %v", err)
	}
	st, err := f.Stat()
	if err != nil {
		fail("stat: %v", err)
	}
	perPass := uint64(st.Size()) / chunk
	total := perPass * uint64(*passes)
	var next uint64
	var reading atomic.Bool
	reading.Store(true)
	var late []time.Duration
	sleeperDone := make(chan struct{})
	go func() {
		for reading.Load() {
			t0 := time.Now()
			time.Sleep(time.Millisecond)
			late = append(late, time.Since(t0)-time.Millisecond)
		}
		close(sleeperDone)
	}()
	time.Sleep(2 * time.Millisecond)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < readers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, chunk)
			for {
				c := atomic.AddUint64(&next, 1) - 1
				if c >= total {
					return
				}
				off := (c % perPass) * chunk
				if n, err := f.ReadAt(buf, int64(off)); n != chunk {
					fail("ReadAt %d: %d %v", off, n, err)
				}
				for b := uint64(0); b < chunk; b += block {
					if binary.LittleEndian.Uint64(buf[b:]) != off+b {
						fail("read at %d: wrong bytes", off+b)
					}
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	reading.Store(false)
	<-sleeperDone
	fmt.Printf("file-mbs %.1f MB/s\n",
		float64(uint64(st.Size())*uint64(*passes))/elapsed.Seconds()/1e6)
	if len(late) > 0 {
		sort.Slice(late, func(i, j int) bool { return late[i] < late[j] })
		us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
		fmt.Printf("file-late-p50 %.1f us\n", us(late[len(late)/2]))
		fmt.Printf("file-late-p99 %.1f us\n", us(late[len(late)*99/100]))
		fmt.Printf("file-late-max %.1f us\n", us(late[len(late)-1]))
	}
}
