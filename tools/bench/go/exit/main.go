// SPDX-License-Identifier: MIT
// Command exit is the Go counterpart of goro-bench's "exit" suite
// (tools/bench/bench_exit.c): how long a program takes to end once main
// returns, with goroutines parked on a channel ("idle") and with one more
// blocked in a read() of a pipe that never gets data ("blocked-read").
//
// Go ends the process when main returns, so the time is taken from
// outside: this program runs itself as a child, which prints the
// CLOCK_MONOTONIC time at which its main returns; the parent reads the
// same clock when it has reaped the child.
package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

func monotonicNs() int64 {
	var ts syscall.Timespec
	// CLOCK_MONOTONIC (1), the clock goro's bench_now reads.
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 1, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Sec*1000000000 + ts.Nsec
}

func child(blocked bool) {
	never := make(chan int)
	for i := 0; i < 4; i++ {
		go func() { <-never }()
	}
	if blocked {
		r, _, err := os.Pipe()
		if err != nil {
			os.Exit(1)
		}
		fd := int(r.Fd()) // blocking mode, as a plain read() in C
		started := make(chan bool)
		go func() {
			b := make([]byte, 1)
			started <- true
			syscall.Read(fd, b)
		}()
		<-started
	}
	time.Sleep(10 * time.Millisecond)
	fmt.Println(monotonicNs())
}

func measure(mode string) float64 {
	cmd := exec.Command(os.Args[0], "-child", mode)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=2")
	out, err := cmd.StdoutPipe()
	if err != nil {
		panic(err)
	}
	if err := cmd.Start(); err != nil {
		panic(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if err := cmd.Wait(); err != nil {
		panic(err)
	}
	end := monotonicNs()
	stamp, err := strconv.ParseInt(line[:len(line)-1], 10, 64)
	if err != nil {
		panic(err)
	}
	return float64(end-stamp) / 1000
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "-child" {
		child(os.Args[2] == "blocked")
		return
	}
	fmt.Printf("idle %.1f us\n", measure("idle"))
	fmt.Printf("blocked-read %.1f us\n", measure("blocked"))
}
