// SPDX-License-Identifier: MIT
// Command stack is the Go counterpart of goro-bench's "stack" suite
// (tools/bench/bench_stack.c): the same workloads, run by Go's runtime, each
// printed as a "figure value unit" line for goro-bench to put beside goro's.
//
// Go parks its goroutines on a channel receive (goro, until it has
// channels, in a long sleep); both measure from the first spawn until every
// goroutine has run and parked.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

const (
	growBytes   = 1 << 20
	framePad    = 1000
	growRepeats = 20
)

// memoryNow returns VmRSS and VmPTE in bytes.
func memoryNow() (rss, pte int64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		var kib int64
		line := s.Text()
		if strings.HasPrefix(line, "VmRSS:") {
			fmt.Sscanf(line, "VmRSS: %d kB", &kib)
			rss = kib * 1024
		} else if strings.HasPrefix(line, "VmPTE:") {
			fmt.Sscanf(line, "VmPTE: %d kB", &kib)
			pte = kib * 1024
		}
	}
	return rss, pte
}

// park: n goroutines each run and park on a channel receive; then they are
// released and waited for.
func park(n int) (createNs, resident, pagetables float64) {
	ch := make(chan struct{})
	var parked, exited sync.WaitGroup
	parked.Add(n)
	exited.Add(n)
	rss0, pte0 := memoryNow()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		go func() {
			parked.Done()
			<-ch
			exited.Done()
		}()
	}
	parked.Wait()
	el := time.Since(t0)
	rss1, pte1 := memoryNow()
	close(ch)
	exited.Wait()
	return float64(el.Nanoseconds()) / float64(n),
		float64(rss1-rss0) / float64(n),
		float64(pte1-pte0) / float64(n)
}

//go:noinline
func recurse(depth int) int {
	var pad [framePad]byte
	pad[0] = byte(depth)
	if depth == 0 {
		return int(pad[0])
	}
	return recurse(depth-1) + int(pad[0])
}

func median(v []float64) float64 {
	sort.Float64s(v)
	return v[len(v)/2]
}

// grow: a new goroutine recurses through 1 MiB of stack, then again.
func grow() (first, again float64) {
	var f, a [growRepeats]float64
	for i := 0; i < growRepeats; i++ {
		done := make(chan struct{})
		go func() {
			t0 := time.Now()
			recurse(growBytes / framePad)
			t1 := time.Now()
			recurse(growBytes / framePad)
			t2 := time.Now()
			f[i] = float64(t1.Sub(t0).Nanoseconds()) / 1e3
			a[i] = float64(t2.Sub(t1).Nanoseconds()) / 1e3
			close(done)
		}()
		<-done
	}
	return median(f[:]), median(a[:])
}

func main() {
	quick := flag.Bool("quick", false, "small workloads")
	flag.Parse()
	count := 1000000
	if *quick {
		count = 10000
	}
	c, r, p := park(count)
	fmt.Printf("park-create %.1f ns\n", c)
	// Again, with the dead goroutines' records and stacks to reuse.
	w, _, _ := park(count)
	fmt.Printf("park-create-warm %.1f ns\n", w)
	fmt.Printf("park-resident %.0f bytes\n", r)
	fmt.Printf("park-pagetables %.0f bytes\n", p)
	g, a := grow()
	fmt.Printf("grow-1mib %.1f us\n", g)
	fmt.Printf("rerun-1mib %.1f us\n", a)
}
