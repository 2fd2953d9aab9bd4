// SPDX-License-Identifier: MIT
// Command timer is the Go counterpart of goro-bench's "timer" suite
// (tools/bench/bench_timer.c): the same workloads, run by Go's runtime, each
// printed as a "figure value unit" line for goro-bench to put beside goro's.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"sort"
	"sync"
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

// createStop: ns per NewTimer(1h) + Stop on 1 P (second pass timed).
func createStop(n int) float64 {
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	var ns float64
	for pass := 0; pass < 2; pass++ {
		t0 := time.Now()
		for i := 0; i < n; i++ {
			t := time.NewTimer(time.Hour)
			if !t.Stop() {
				fail("create-stop: Stop returned false")
			}
		}
		ns = float64(time.Since(t0).Nanoseconds()) / float64(n)
	}
	return ns
}

// live: heap bytes per live timer (HeapAlloc), n timers armed for an hour.
func live(n int) float64 {
	ts := make([]*time.Timer, n)
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for i := range ts {
		ts[i] = time.NewTimer(time.Hour)
	}
	runtime.ReadMemStats(&m1)
	b := float64(m1.HeapAlloc-m0.HeapAlloc) / float64(n)
	for _, t := range ts {
		t.Stop()
	}
	return b
}

// fire: workers*1000 timers, deadlines over 20-120 ms, each worker
// receiving its own in deadline order; CPU ns per timer and p99 lateness.
func fire(workers int) (float64, float64) {
	const per = 1000
	prev := runtime.GOMAXPROCS(2)
	defer runtime.GOMAXPROCS(prev)
	late := make([]time.Duration, workers*per)
	var wg sync.WaitGroup
	cpu0 := processCPU()
	wg.Add(workers)
	for k := 0; k < workers; k++ {
		go func(k int) {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(k)*2654435761 + 1))
			ts := make([]*time.Timer, per)
			due := make([]time.Time, per)
			for i := range ts {
				d := 20*time.Millisecond + time.Duration(r.Intn(100000))*time.Microsecond
				due[i] = time.Now().Add(d)
				ts[i] = time.NewTimer(d)
			}
			order := make([]int, per)
			for i := range order {
				order[i] = i
			}
			sort.Slice(order, func(a, b int) bool { return due[order[a]].Before(due[order[b]]) })
			for n, i := range order {
				<-ts[i].C
				late[k*per+n] = time.Since(due[i])
			}
		}(k)
	}
	wg.Wait()
	cpu := float64((processCPU() - cpu0).Nanoseconds()) / float64(workers*per)
	sort.Slice(late, func(a, b int) bool { return late[a] < late[b] })
	p99 := float64(late[len(late)*99/100].Nanoseconds()) / 1000
	return cpu, p99
}

// tickerDrift: a 1 ms ticker received n times; µs past n periods.
func tickerDrift(n int) float64 {
	prev := runtime.GOMAXPROCS(2)
	defer runtime.GOMAXPROCS(prev)
	tk := time.NewTicker(time.Millisecond)
	defer tk.Stop()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		<-tk.C
	}
	return float64((time.Since(t0) - time.Duration(n)*time.Millisecond).Nanoseconds()) / 1000
}

// fanout: µs from cancel to the last of 10,000 waiters woken, on 2 Ps.
func fanout() float64 {
	const waiters = 10000
	prev := runtime.GOMAXPROCS(2)
	defer runtime.GOMAXPROCS(prev)
	var us float64
	for pass := 0; pass < 2; pass++ {
		ctx, cancel := context.WithCancel(context.Background())
		var ready, woken sync.WaitGroup
		ready.Add(waiters)
		woken.Add(waiters)
		for i := 0; i < waiters; i++ {
			go func() {
				done := ctx.Done()
				ready.Done()
				<-done
				woken.Done()
			}()
		}
		ready.Wait()
		time.Sleep(time.Millisecond)
		t0 := time.Now()
		cancel()
		woken.Wait()
		us = float64(time.Since(t0).Nanoseconds()) / 1000
	}
	return us
}

func main() {
	quick := flag.Bool("quick", false, "small workloads")
	flag.Parse()
	n, workers, ticks := 1000000, 100, 1000
	if *quick {
		n, workers, ticks = 10000, 10, 100
	}
	liveN := 100000
	if *quick {
		liveN = 10000
	}
	fmt.Printf("live-100k-bytes %.1f B\n", live(liveN))
	fmt.Printf("create-stop %.2f ns\n", createStop(n))
	cpu, p99 := fire(workers)
	fmt.Printf("fire-100k-cpu %.2f ns\n", cpu)
	fmt.Printf("fire-100k-p99 %.2f us\n", p99)
	fmt.Printf("ticker-drift %.2f us\n", tickerDrift(ticks))
	fmt.Printf("ctx-fanout-10k %.2f us\n", fanout())
}
