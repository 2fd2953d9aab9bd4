// SPDX-License-Identifier: MIT
// Command sched is the Go counterpart of goro-bench's "sched" suite
// (tools/bench/bench_sched.c): the same workloads, run by Go's runtime, each
// printed as a "figure value unit" line for goro-bench to put beside goro's.
//
// Each workload runs once untimed first, so that Go, started afresh for
// every sample, is measured warm as goro is.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const fibCutoff = 20

// cpuNow is the CPU time of the whole process (every thread).
func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// spawn: ns per spawn-and-exit of n goroutines (all Ps).
func spawn(n int) float64 {
	var wg sync.WaitGroup
	wg.Add(n)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		go func() { wg.Done() }()
	}
	wg.Wait()
	return float64(time.Since(t0).Nanoseconds()) / float64(n)
}

// yield: ns per switch of two goroutines yielding to each other on 1 P,
// in wall time and in process CPU time.
func yield(n int) (float64, float64) {
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	var partnerDone int32
	go func() {
		for i := 0; i < n; i++ {
			runtime.Gosched()
		}
		atomic.StoreInt32(&partnerDone, 1)
	}()
	t0, cpu0 := time.Now(), cpuNow()
	for i := 0; i < n; i++ {
		runtime.Gosched()
	}
	for atomic.LoadInt32(&partnerDone) == 0 {
		runtime.Gosched()
	}
	switches := float64(2 * n)
	return float64(time.Since(t0).Nanoseconds()) / switches,
		float64((cpuNow() - cpu0).Nanoseconds()) / switches
}

func fibSerial(n int) int64 {
	if n < 2 {
		return int64(n)
	}
	return fibSerial(n-1) + fibSerial(n-2)
}

// fibNode computes fib(n) with a goroutine per node above fibCutoff; a
// parent waits for its children with an atomic counter and Gosched, as in
// the C version.
func fibNode(n int, result *int64, parentPending *int32) {
	if n <= fibCutoff {
		*result = fibSerial(n)
	} else {
		var a, b int64
		pending := int32(2)
		go fibNode(n-1, &a, &pending)
		go fibNode(n-2, &b, &pending)
		for atomic.LoadInt32(&pending) != 0 {
			runtime.Gosched()
		}
		*result = a + b
	}
	atomic.AddInt32(parentPending, -1)
}

// fib: ms for fib(n) on procs Ps, in wall time and in process CPU time.
func fib(n, procs int) (float64, float64) {
	prev := runtime.GOMAXPROCS(procs)
	defer runtime.GOMAXPROCS(prev)
	var result int64
	pending := int32(1)
	t0, cpu0 := time.Now(), cpuNow()
	fibNode(n, &result, &pending)
	ms := float64(time.Since(t0).Nanoseconds()) / 1e6
	cpuMs := float64((cpuNow() - cpu0).Nanoseconds()) / 1e6
	check(n, result)
	return ms, cpuMs
}

func check(n int, result int64) {
	a, b := int64(0), int64(1)
	for i := 0; i < n; i++ {
		a, b = b, a+b
	}
	if result != a {
		fmt.Fprintf(os.Stderr, "fib(%d) computed %d, not %d\n", n, result, a)
		os.Exit(1)
	}
}

// threads: fib(n-2) twice on two Ps at once over twice on one; the best
// fib-2p/1p the machine allows for Go's leaf code at this moment.
func threads(n int) float64 {
	prev := runtime.GOMAXPROCS(2)
	defer runtime.GOMAXPROCS(prev)
	var r [2]int64
	t0 := time.Now()
	r[0], r[1] = fibSerial(n-2), fibSerial(n-2)
	one := time.Since(t0)
	var wg sync.WaitGroup
	wg.Add(2)
	t0 = time.Now()
	for i := range r {
		go func(i int) {
			r[i] = fibSerial(n - 2)
			wg.Done()
		}(i)
	}
	wg.Wait()
	two := time.Since(t0)
	check(n-2, r[0])
	check(n-2, r[1])
	return float64(two) / float64(one)
}

func main() {
	quick := flag.Bool("quick", false, "small workloads")
	flag.Parse()
	count, fibN := 1000000, 35
	if *quick {
		count, fibN = 10000, 27
	}

	spawn(count)
	fmt.Printf("spawn %.2f ns\n", spawn(count))
	yield(count)
	yieldNs, yieldCPU := yield(count)
	fmt.Printf("yield %.2f ns\n", yieldNs)
	fmt.Printf("yield-cpu %.2f ns\n", yieldCPU)
	fib(fibN, 1)
	fib1, fib1CPU := fib(fibN, 1)
	fib(fibN, 2)
	fib2, fib2CPU := fib(fibN, 2)
	fmt.Printf("fib-1p %.3f ms\n", fib1)
	fmt.Printf("fib-2p %.3f ms\n", fib2)
	fmt.Printf("fib-2p/1p %.4f x\n", fib2/fib1)
	fmt.Printf("fib-cpu-2p/1p %.4f x\n", fib2CPU/fib1CPU)
	fmt.Printf("threads-2/1 %.4f x\n", threads(fibN))
}
