// SPDX-License-Identifier: MIT
// Command chan is the Go counterpart of goro-bench's "chan" suite
// (tools/bench/bench_chan.c): the same workloads, run by Go's runtime, each
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
	"syscall"
	"time"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fail("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pingpong: ns per round trip over two unbuffered channels on procs Ps, in
// wall time and in CPU time of the whole process.
func pingpong(n, procs int) (float64, float64) {
	prev := runtime.GOMAXPROCS(procs)
	defer runtime.GOMAXPROCS(prev)
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	t0, cpu0 := time.Now(), processCPU()
	for i := 0; i < n; i++ {
		ping <- i
		if v := <-pong; v != i {
			fail("ping-pong got %d, sent %d", v, i)
		}
	}
	ns := float64(time.Since(t0).Nanoseconds()) / float64(n)
	cpu := float64((processCPU() - cpu0).Nanoseconds()) / float64(n)
	close(ping)
	return ns, cpu
}

// buffered: ns per value through a channel of capacity 128, one sender and
// one receiver, on 2 Ps.
func buffered(n int) float64 {
	prev := runtime.GOMAXPROCS(2)
	defer runtime.GOMAXPROCS(prev)
	c := make(chan int, 128)
	t0 := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			c <- i
		}
		close(c)
	}()
	sum, count := 0, 0
	for v := range c {
		sum += v
		count++
	}
	ns := float64(time.Since(t0).Nanoseconds()) / float64(n)
	if count != n || sum != n*(n-1)/2 {
		fail("buffered: %d values, sum %d", count, sum)
	}
	return ns
}

// select4: ns per value; a sender cycles over 4 unbuffered channels, the
// receiver takes each value with a select of the 4 receive cases; on 1 P.
func select4(n int) float64 {
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	var cs [4]chan int
	for i := range cs {
		cs[i] = make(chan int)
	}
	done := make(chan struct{}, 1)
	t0 := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			cs[i&3] <- i
		}
		done <- struct{}{}
	}()
	sum := 0
	for i := 0; i < n; i++ {
		select {
		case v := <-cs[0]:
			sum += v
		case v := <-cs[1]:
			sum += v
		case v := <-cs[2]:
			sum += v
		case v := <-cs[3]:
			sum += v
		}
	}
	ns := float64(time.Since(t0).Nanoseconds()) / float64(n)
	<-done
	if sum != n*(n-1)/2 {
		fail("select4: sum %d", sum)
	}
	return ns
}

func main() {
	quick := flag.Bool("quick", false, "small workloads")
	flag.Parse()
	n := 1000000
	if *quick {
		n = 10000
	}

	pingpong(n, 1)
	wall, cpu := pingpong(n, 1)
	fmt.Printf("pingpong-1p %.2f ns\n", wall)
	fmt.Printf("pingpong-1p-cpu %.2f ns\n", cpu)
	pingpong(n, 2)
	wall, _ = pingpong(n, 2)
	fmt.Printf("pingpong-2p %.2f ns\n", wall)
	buffered(2 * n)
	fmt.Printf("buffered %.2f ns\n", buffered(2*n))
	select4(n)
	fmt.Printf("select4 %.2f ns\n", select4(n))
}
