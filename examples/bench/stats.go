package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// latencies summarises repeated timings.
type latencies struct {
	n             int
	median, p99   time.Duration
	min, max, avg time.Duration
}

// summarize returns the order statistics of ds (which it sorts). p99 is the
// nearest-rank 99th percentile.
func summarize(ds []time.Duration) latencies {
	if len(ds) == 0 {
		return latencies{}
	}
	slices.Sort(ds)
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(ds))+0.999999) - 1
		return ds[min(max(i, 0), len(ds)-1)]
	}
	return latencies{
		n: len(ds), median: ds[len(ds)/2], p99: rank(0.99),
		min: ds[0], max: ds[len(ds)-1], avg: sum / time.Duration(len(ds)),
	}
}

// cpuClock, when set (--cpu-time), makes timeReps measure the calling
// thread's CPU time instead of wall time: steadier on a machine busy with
// other work, for comparing optimisations (not for the report).
var cpuClock bool

// threadCPU returns the CPU time the calling OS thread has used.
func threadCPU() time.Duration {
	var ts syscall.Timespec
	const clockThreadCPUTime = 3 // CLOCK_THREAD_CPUTIME_ID (Linux)
	_, _, errno := syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0)
	if errno != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}

// timeReps runs fn warm times untimed, then reps times timed.
func timeReps(warm, reps int, fn func() error) (latencies, error) {
	for range warm {
		if err := fn(); err != nil {
			return latencies{}, err
		}
	}
	if cpuClock {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	ds := make([]time.Duration, 0, reps)
	for range reps {
		var c0 time.Duration
		if cpuClock {
			c0 = threadCPU()
		}
		start := time.Now()
		if err := fn(); err != nil {
			return latencies{}, err
		}
		d := time.Since(start)
		if cpuClock {
			d = threadCPU() - c0
		}
		ds = append(ds, d)
	}
	return summarize(ds), nil
}

// ms formats a duration in milliseconds with 3 significant decimals.
func ms(d time.Duration) string {
	f := float64(d) / 1e6
	switch {
	case f >= 100:
		return strconv.FormatFloat(f, 'f', 0, 64)
	case f >= 10:
		return strconv.FormatFloat(f, 'f', 1, 64)
	case f >= 1:
		return strconv.FormatFloat(f, 'f', 2, 64)
	}
	return strconv.FormatFloat(f, 'f', 3, 64)
}

// us formats a duration in microseconds.
func us(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/1e3, 'f', 2, 64)
}

// procStatus reads VmHWM and VmRSS (bytes) from /proc/self/status.
func procStatus() (hwm, rss int64, err error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0, fmt.Errorf("cannot read memory use: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) != 2 || fields[1] != "kB" {
			continue
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmHWM":
			hwm = n << 10
		case "VmRSS":
			rss = n << 10
		}
	}
	return hwm, rss, sc.Err()
}

func mib(b int64) string { return strconv.FormatFloat(float64(b)/(1<<20), 'f', 0, 64) + " MiB" }
