// SPDX-License-Identifier: MIT
// Command net is the Go counterpart of goro-bench's "net" suite
// (tools/bench/bench_net.c): the same loopback workloads, run by Go's
// runtime and net package, each printed as a "figure value unit" line for
// goro-bench to put beside goro's.
//
// Each workload runs once untimed first, so that Go, started afresh for
// every sample, is measured warm as goro is.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"time"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

// udpRTT: ns per round trip of a 64-byte datagram to an echo goroutine,
// on 1 P.
func udpRTT(n int) float64 {
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	s, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		fail("listen udp: %v", err)
	}
	go func() {
		buf := make([]byte, 256)
		for {
			k, from, err := s.ReadFrom(buf)
			if err != nil {
				return
			}
			if _, err := s.WriteTo(buf[:k], from); err != nil {
				return
			}
		}
	}()
	c, err := net.Dial("udp4", s.LocalAddr().String())
	if err != nil {
		fail("dial udp: %v", err)
	}
	out := make([]byte, 64)
	in := make([]byte, 64)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		if _, err := c.Write(out); err != nil {
			fail("udp write: %v", err)
		}
		if k, err := c.Read(in); err != nil || k != len(in) {
			fail("udp read: %d %v", k, err)
		}
	}
	ns := float64(time.Since(t0).Nanoseconds()) / float64(n)
	c.Close()
	s.Close()
	return ns
}

// dialAccept: ns per TCP connection on 127.0.0.1 (dial, accept, one byte
// each way, both closed), on 2 Ps.
func dialAccept(n int) float64 {
	prev := runtime.GOMAXPROCS(2)
	defer runtime.GOMAXPROCS(prev)
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		fail("listen tcp: %v", err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			b := make([]byte, 1)
			if k, _ := c.Read(b); k == 1 {
				c.Write(b)
			}
			c.Close()
		}
	}()
	addr := l.Addr().String()
	b := []byte{'d'}
	t0 := time.Now()
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			fail("dial %d: %v", i, err)
		}
		if _, err := c.Write(b); err != nil {
			fail("write: %v", err)
		}
		if k, err := c.Read(b); err != nil || k != 1 {
			fail("read: %v", err)
		}
		c.Close()
	}
	ns := float64(time.Since(t0).Nanoseconds()) / float64(n)
	l.Close()
	return ns
}

func main() {
	quick := flag.Bool("quick", false, "small workloads")
	flag.Parse()
	udpN, dialN := 50000, 5000
	if *quick {
		udpN, dialN = 1000, 200
	}
	udpRTT(udpN)
	fmt.Printf("udp-rtt %.2f ns\n", udpRTT(udpN))
	dialAccept(dialN)
	fmt.Printf("dial-accept %.2f ns\n", dialAccept(dialN))
}
