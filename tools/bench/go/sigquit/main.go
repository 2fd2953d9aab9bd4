// SPDX-License-Identifier: MIT
// Command sigquit is the Go counterpart of goro-bench's "sigquit-10k"
// figure (tools/bench/bench_gdump.c): a process whose 10k goroutines are
// parked in time.Sleep gets SIGQUIT; the time runs from the signal until
// its whole dump has been read from its stderr and it has exited.
//
// The program runs itself as the child that is signalled.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

func child(n int) {
	for i := 0; i < n; i++ {
		go func() { time.Sleep(time.Hour) }()
	}
	time.Sleep(20 * time.Millisecond) // the last ones reach their park
	fmt.Println("ready")
	time.Sleep(time.Hour)
}

func measure(n int) float64 {
	cmd := exec.Command(os.Args[0], "-child", strconv.Itoa(n))
	out, err := cmd.StdoutPipe()
	if err != nil {
		panic(err)
	}
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		panic(err)
	}
	if err := cmd.Start(); err != nil {
		panic(err)
	}
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		panic(err)
	}
	t0 := time.Now()
	cmd.Process.Signal(syscall.SIGQUIT)
	var dump bytes.Buffer
	io.Copy(&dump, errPipe)
	cmd.Wait()
	ms := float64(time.Since(t0).Nanoseconds()) / 1e6
	if bytes.Count(dump.Bytes(), []byte("\n")) < 2*n {
		panic("short dump")
	}
	return ms
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "-child" {
		n, _ := strconv.Atoi(os.Args[2])
		child(n)
		return
	}
	if len(os.Args) == 2 && os.Args[1] == "-quick" {
		fmt.Printf("sigquit-1k %.2f ms\n", measure(1000))
		return
	}
	fmt.Printf("sigquit-10k %.2f ms\n", measure(10000))
}
