// SPDX-License-Identifier: MIT
// Command preempt is the Go counterpart of goro-bench's "preempt" suite
// (tools/bench/bench_preempt.c): the same three workloads under Go's own
// asynchronous preemption, whose quantum is fixed at 10 ms (sysmon's
// forcePreemptNS), so its figures are printed under goro's @10ms names.
//
//	late-{p50,p99,max}@10ms   a 1 ms sleeper beside a hog on 1 P (µs)
//	late-memmove-*@10ms       the same beside a hog copying 64 MiB
//	                          slices with copy() (runtime memmove)
//	late-memmove-sleeps@10ms  how many of the sleeps ended before that
//	                          hog's time limit (see hogCopy)
//	loss-waiting@10ms         two hogs on 1 P against one hog running
//	                          with GODEBUG=asyncpreemptoff=1 (%)
//	loss-idle@10ms            one hog against the same baseline (%)
//	tail-{p50,p99,p999}@10ms  short-request sojourn under the bimodal
//	                          open-loop load on 2 Ps (µs)
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

var hogStop int32
var hogIters [2]uint64

func hog(i int) {
	for atomic.LoadInt32(&hogStop) == 0 {
		hogIters[i]++
	}
}

func pct(v []int64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return float64(v[int(p*float64(len(v)-1)+0.5)])
}

func sortI64(v []int64) { sort.Slice(v, func(a, b int) bool { return v[a] < v[b] }) }

// The copying hog: two buffers copied into each other, as goro's
// memmove hog does in libc.  Go does not stop a goroutine inside the
// runtime's memmove, so at GOMAXPROCS=1 the sleeper waits until a signal
// happens to land in the few instructions between two copies: seconds.
// Nothing else can run meanwhile, so the hog itself ends the workload
// after copyMaxIters pairs of copies, the time limit's worth (a count: a
// clock read would be a function call, a preemption point Go's loop does
// not otherwise have).  The sleeper stops once the hog has ended, and the
// sleep then cut short counts as it was (the max is a lower bound).
var copyBuf [2][]byte
var copyMaxIters uint64

func hogCopy(int) {
	hogIters[0] = 0
	for atomic.LoadInt32(&hogStop) == 0 && hogIters[0] < copyMaxIters {
		copy(copyBuf[0], copyBuf[1])
		copy(copyBuf[1], copyBuf[0])
		hogIters[0]++
	}
}

// (a) sleeper lateness beside the hog `h`; figures named prefix-*.
// It returns how many sleeps it timed.
func sleeper(n int, prefix string, h func(int), limited bool) int {
	runtime.GOMAXPROCS(1)
	atomic.StoreInt32(&hogStop, 0)
	done := make(chan struct{})
	go func() {
		h(0)
		close(done)
	}()
	if !limited {
		runtime.Gosched()
	}
	// A hog that ends itself: no Gosched first (one never preempted would
	// run out its time before the first sleep; the first sleep starts it
	// instead, and is always timed), and no sleep is timed once it ended.
	late := make([]int64, 0, n)
	for len(late) < n {
		if limited && len(late) > 0 {
			select {
			case <-done:
				n = 0
			default:
			}
			if n == 0 {
				break
			}
		}
		t0 := time.Now()
		time.Sleep(time.Millisecond)
		late = append(late, time.Since(t0).Nanoseconds()-int64(time.Millisecond))
	}
	atomic.StoreInt32(&hogStop, 1)
	<-done
	n = len(late)
	sortI64(late)
	fmt.Printf("%s-p50@10ms %.3f us\n", prefix, pct(late, 0.5)/1e3)
	fmt.Printf("%s-p99@10ms %.3f us\n", prefix, pct(late, 0.99)/1e3)
	fmt.Printf("%s-max@10ms %.3f us\n", prefix, float64(late[n-1])/1e3)
	return n
}

// processCPU: CPU time of the whole process (user + system), ns.
func processCPU() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// (b) combined iterations per CPU-µs of the process, for `hogs` hogs on
// procs Ps over d (as goro's: time given to other processes is not loss).
func hogRate(hogs, procs int, d time.Duration) float64 {
	runtime.GOMAXPROCS(procs)
	atomic.StoreInt32(&hogStop, 0)
	hogIters[0], hogIters[1] = 0, 0
	for i := 0; i < hogs; i++ {
		go hog(i)
	}
	c0 := processCPU()
	time.Sleep(d)
	n := hogIters[0] + hogIters[1]
	rate := float64(n) / (float64(processCPU()-c0) / 1e3)
	atomic.StoreInt32(&hogStop, 1)
	time.Sleep(time.Millisecond)
	return rate
}

// The baseline: one hog with asynchronous preemption off, in a child
// process (GODEBUG is read at start).  The child has 2 Ps so that its main
// goroutine, sleeping on the other one, gets back in time to read the
// counter: nothing ever interrupts the hog itself.
func baselineRate(d time.Duration) float64 {
	exe, err := os.Executable()
	if err != nil {
		return 0
	}
	cmd := exec.Command(exe, "-child-rate", d.String())
	cmd.Env = append(os.Environ(), "GODEBUG=asyncpreemptoff=1")
	out, err := cmd.Output()
	if err != nil {
		return 0
	}
	v, _ := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	return v
}

// (c) bimodal open-loop load.
const (
	load      = 0.70
	shortUs   = 4
	longUs    = 10000
	longShare = 0.005
)

var itersPerUs float64
var sink uint64

// spin works in registers: requests spinning on both Ps at once must not
// share a cache line (a global counter made them several times slower
// than calibrated, and the load far above 70%).
//
//go:noinline
func spin(n int64) {
	x := uint64(n)
	for i := int64(0); i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	atomic.AddUint64(&sink, x&1)
}

func calibrate() {
	best := 0.0
	for k := 0; k < 5; k++ {
		n := int64(2000000)
		t0 := time.Now()
		spin(n)
		r := float64(n) / (float64(time.Since(t0).Nanoseconds()) / 1e3)
		if r > best {
			best = r
		}
	}
	itersPerUs = best
}

type request struct {
	arrival, sojourn int64
	long             bool
}

func tail(seconds float64) {
	runtime.GOMAXPROCS(2)
	mean := (1-longShare)*shortUs + longShare*longUs
	rate := load * 2 / mean
	n := int(seconds * 1e6 * rate)
	reqs := make([]request, n)
	x := uint64(0x9e3779b97f4a7c15)
	next := func() float64 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		return float64(x>>11) / 9007199254740992.0
	}
	t := 0.0
	for i := range reqs {
		t += -math.Log(1-next()) / rate
		reqs[i].arrival = int64(t * 1e3)
		reqs[i].long = next() < longShare
	}
	var done int64
	t0 := time.Now()
	for i := range reqs {
		r := &reqs[i]
		// Sleep until each arrival, as goro's generator does.
		at := t0.Add(time.Duration(r.arrival))
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		go func() {
			us := int64(shortUs)
			if r.long {
				us = longUs
			}
			spin(int64(itersPerUs * float64(us)))
			r.sojourn = time.Since(t0).Nanoseconds() - r.arrival
			atomic.AddInt64(&done, 1)
		}()
	}
	for atomic.LoadInt64(&done) < int64(n) {
		time.Sleep(time.Millisecond)
	}
	var s []int64
	for i := range reqs {
		if !reqs[i].long {
			s = append(s, reqs[i].sojourn)
		}
	}
	sortI64(s)
	fmt.Printf("tail-p50@10ms %.3f us\n", pct(s, 0.5)/1e3)
	fmt.Printf("tail-p99@10ms %.3f us\n", pct(s, 0.99)/1e3)
	fmt.Printf("tail-p999@10ms %.3f us\n", pct(s, 0.999)/1e3)
}

func main() {
	quick := flag.Bool("quick", false, "small workloads")
	childRate := flag.Duration("child-rate", 0, "internal: print one hog's rate over this long")
	flag.Parse()
	if *childRate > 0 {
		fmt.Printf("%f\n", hogRate(1, 2, *childRate))
		return
	}
	sleeps, hogRun, tailSeconds, copySize := 500, 300*time.Millisecond, 2.0, 64<<20
	if *quick {
		sleeps, hogRun, tailSeconds, copySize = 50, 50*time.Millisecond, 0.2, 16<<20
	}
	sleeper(sleeps, "late", hog, false)
	for i := range copyBuf {
		copyBuf[i] = make([]byte, copySize)
		for j := range copyBuf[i] {
			copyBuf[i][j] = byte(i)
		}
	}
	copyLimit := 5 * time.Second
	if *quick {
		copyLimit = time.Second
	}
	pair := time.Duration(math.MaxInt64)
	for k := 0; k < 3; k++ {
		t0 := time.Now()
		copy(copyBuf[0], copyBuf[1])
		copy(copyBuf[1], copyBuf[0])
		if d := time.Since(t0); d < pair {
			pair = d
		}
	}
	copyMaxIters = uint64(copyLimit/pair) + 1
	n := sleeper(sleeps, "late-memmove", hogCopy, true)
	fmt.Printf("late-memmove-sleeps@10ms %d sleeps\n", n)
	copyBuf[0], copyBuf[1] = nil, nil
	base := baselineRate(hogRun)
	two := hogRate(2, 1, hogRun)
	one := hogRate(1, 1, hogRun)
	if base > 0 {
		fmt.Printf("loss-waiting@10ms %.3f %%\n", 100*(1-two/base))
		fmt.Printf("loss-idle@10ms %.3f %%\n", 100*(1-one/base))
	}
	calibrate()
	tail(tailSeconds)
}
