// SPDX-License-Identifier: MIT
// Go's counterpart of examples/http_hello: net/http answering "Hello,
// World!" on every path.  With -wrk it also measures itself: it serves on
// a free loopback port, runs wrk with the arguments after "--" against it
// and prints "rps <requests/s>" and "p99 <µs>", the lines goro-bench's
// http suite reads (tools/bench/bench_http.c):
//
//	http -wrk -- -t1 -c64 -d5s --latency
//
// Without -wrk it just serves on -addr.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

func hello(w http.ResponseWriter, r *http.Request) {
	w.Write([]byte("Hello, World!"))
}

// wrk prints durations as "1.23ms", "850.00us", "1.01s".
func micros(s string) (float64, error) {
	for _, u := range []struct {
		suffix string
		scale  float64
	}{{"us", 1}, {"ms", 1e3}, {"s", 1e6}} {
		if strings.HasSuffix(s, u.suffix) {
			v, err := strconv.ParseFloat(strings.TrimSuffix(s, u.suffix), 64)
			return v * u.scale, err
		}
	}
	return 0, fmt.Errorf("unknown duration %q", s)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "listen address (serve mode)")
	measure := flag.Bool("wrk", false, "run wrk (arguments after --) against the server, print figures, exit")
	flag.Parse()
	http.HandleFunc("/", hello)
	if !*measure {
		if err := http.ListenAndServe(*addr, nil); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go http.Serve(l, nil)
	args := append(flag.Args(), "http://"+l.Addr().String()+"/")
	out, err := exec.Command("wrk", args...).Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "wrk:", err)
		os.Exit(1)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			fmt.Println("rps", f[1], "req/s")
		case len(f) == 2 && f[0] == "99%":
			if us, err := micros(f[1]); err == nil {
				fmt.Println("p99", us, "us")
			}
		}
	}
}
