// Package chtest helps tests run against a real ClickHouse: the server's
// address from COHORTD_TEST_CLICKHOUSE (failing rather than skipping under
// CI=true), a database of the test's own dropped at the end, literal row
// inserts, and a TCP proxy that stops and starts to simulate an outage
// without touching the shared server. It imports store/clickhouse and the
// standard library.
package chtest

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/cohortd/cohortd/store/clickhouse"
)

// EnvAddr is the environment variable holding the test ClickHouse's
// native-protocol address (.ci/test sets it to 127.0.0.1:9000).
const EnvAddr = "COHORTD_TEST_CLICKHOUSE"

// Addr returns the ClickHouse of the tests. Without EnvAddr the test is
// skipped, except under CI=true where it fails: CI must run these tests.
func Addr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv(EnvAddr)
	if addr == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set but CI=true: run the tests with .ci/test, which starts ClickHouse", EnvAddr)
		}
		t.Skipf("set %s=127.0.0.1:9000 to run the ClickHouse tests", EnvAddr)
	}
	return addr
}

// NewDB creates a database of the test's own (cohortd_test_<time>_<random>,
// dropped when the test ends) and returns a client whose tables live there.
func NewDB(t testing.TB) *clickhouse.Client {
	t.Helper()
	addr := Addr(t)
	admin, err := clickhouse.Open(clickhouse.Config{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	db := fmt.Sprintf("cohortd_test_%d_%04x", time.Now().UnixNano(), rand.IntN(1<<16))
	if err := admin.Exec(context.Background(), "CREATE DATABASE "+clickhouse.Ident(db)); err != nil {
		admin.Close()
		t.Fatalf("cannot create the test database: %v", err)
	}
	c, err := clickhouse.Open(clickhouse.Config{Addr: addr, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		if err := admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+clickhouse.Ident(db)); err != nil {
			t.Errorf("cannot drop the test database %s: %v", db, err)
		}
		admin.Close()
	})
	return c
}

// InsertRows inserts one row per SELECT of literal values, e.g.
// InsertRows(t, c, "users", "user_id, visits", "'u1', 3"). (INSERT ...
// VALUES over the native protocol waits for data blocks on 18.16; INSERT
// ... SELECT converts the literals to the column types.)
func InsertRows(t testing.TB, c *clickhouse.Client, table, cols string, rows ...string) {
	t.Helper()
	for _, r := range rows {
		if err := c.Exec(context.Background(), "INSERT INTO "+clickhouse.Ident(table)+" ("+cols+") SELECT "+r); err != nil {
			t.Fatalf("insert %s: %v", r, err)
		}
	}
}

// Proxy is a TCP proxy in front of ClickHouse that a test stops (refusing
// connections and cutting open ones) and starts again on the same address:
// ClickHouse going away without stopping the shared server. It is safe for
// concurrent use.
type Proxy struct {
	t      testing.TB
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
}

// NewProxy starts a proxy to target on a free loopback port; it is stopped
// when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	p := &Proxy{t: t, target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.Stop)
	return p
}

// Addr is the proxy's address (HOST:PORT).
func (p *Proxy) Addr() string { return p.addr }

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.pipe(c)
		}
	}()
}

func (p *Proxy) pipe(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil { // stopped meanwhile
		p.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		io.Copy(dst, src) //nolint:errcheck // either side closing ends the pipe
		done <- struct{}{}
	}
	go cp(up, c)
	go cp(c, up)
	<-done
	c.Close()
	up.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// Stop refuses new connections and cuts the open ones.
func (p *Proxy) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
}

// Start listens again on the same address.
func (p *Proxy) Start() {
	p.t.Helper()
	var ln net.Listener
	var err error
	for range 100 { // the port may linger briefly
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("cannot restart the proxy on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// Eventually polls cond every 20 ms for up to 20 s, failing the test with
// what when it never holds.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
