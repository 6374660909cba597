package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"
)

// loadResult is what one HTTP load run measured.
type loadResult struct {
	requests int
	errors   int
	elapsed  time.Duration
	lat      latencies
}

func (r loadResult) perSecond() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// httpLoad sends GET requests for paths(i) over conns keep-alive
// connections to addr for d, one request in flight per connection, and
// returns throughput and latency. It is a deliberately small HTTP/1.1
// client (no pipelining, no allocation per request beyond the path) so that
// the load generator, which shares the machine's cores with the server,
// costs as little CPU as possible. A response that is not 200 counts as an
// error.
func httpLoad(ctx context.Context, addr string, conns int, d time.Duration, path func(worker, i int) string) (loadResult, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu   sync.Mutex
		all  []time.Duration
		errs int
		wg   sync.WaitGroup
		fail error
	)
	start := time.Now()
	for w := range conns {
		wg.Go(func() {
			lat, nerr, err := worker(ctx, addr, func(i int) string { return path(w, i) })
			mu.Lock()
			defer mu.Unlock()
			all = append(all, lat...)
			errs += nerr
			if err != nil && fail == nil {
				fail = err
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if fail != nil {
		return loadResult{}, fail
	}
	return loadResult{requests: len(all), errors: errs, elapsed: elapsed, lat: summarize(all)}, nil
}

func worker(ctx context.Context, addr string, path func(i int) string) ([]time.Duration, int, error) {
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, 0, fmt.Errorf("cannot connect to %s: %w", addr, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	r := bufio.NewReaderSize(conn, 16<<10)
	req := make([]byte, 0, 256)
	lat := make([]time.Duration, 0, 1<<16)
	nerr := 0
	for i := 0; ctx.Err() == nil; i++ {
		req = append(req[:0], "GET "...)
		req = append(req, path(i)...)
		req = append(req, " HTTP/1.1\r\nHost: bench\r\n\r\n"...)
		t0 := time.Now()
		if _, err := conn.Write(req); err != nil {
			break
		}
		status, err := readResponse(r)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return lat, nerr, err
		}
		lat = append(lat, time.Since(t0))
		if status != 200 {
			nerr++
		}
	}
	return lat, nerr, nil
}

var errBadResponse = errors.New("malformed HTTP response")

// readResponse reads one HTTP/1.1 response with a Content-Length body and
// returns its status code.
func readResponse(r *bufio.Reader) (int, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, fmt.Errorf("%w: status line %q", errBadResponse, line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("%w: status line %q", errBadResponse, line)
	}
	length := -1
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(k, []byte("Content-Length")) {
			length, err = strconv.Atoi(string(bytes.TrimSpace(v)))
			if err != nil {
				return 0, fmt.Errorf("%w: Content-Length %q", errBadResponse, v)
			}
		}
	}
	if length < 0 {
		return 0, fmt.Errorf("%w: no Content-Length", errBadResponse)
	}
	if _, err := r.Discard(length); err != nil {
		return 0, fmt.Errorf("cannot read the response body: %w", err)
	}
	return status, nil
}
