package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// report writes the Markdown report.
func (b *bench) report(out io.Writer) error {
	w := bufio.NewWriter(out)
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	hwm, rss, err := procStatus()
	if err != nil {
		return err
	}
	p("## cohortd vs ClickHouse, %s users\n\n", thousands(uint64(b.cfg.users)))
	p("Machine: %s. %s.\n\n", machine(), runtime.Version())
	p("Population: store/gen, seed %d, as of %s; cohorts evaluated at that instant.\n", b.cfg.seed, b.cfg.now.Format(time.RFC3339))
	p("cohortd: uncached plan evaluation (a fresh Evaluator per repetition), %d timed repetitions after 3 warm-up runs.\n", b.cfg.reps)
	if b.table != nil {
		p("ClickHouse %s on the same machine: `SELECT count() FROM %s WHERE <compiled SQL>` over the same rows "+
			"(a plain MergeTree ordered by the key, no FINAL), %d timed repetitions after 2 warm-up runs; "+
			"the counts of both engines are checked equal.\n", b.chVersion, b.table.From(), b.cfg.chReps)
	}
	p("\n")
	if b.table != nil {
		p("| cohort | shape | members | cohortd count median / p99 (ms) | cohortd members median / p99 (ms) | ClickHouse count median / p99 (ms) | ratio (CH / cohortd count) |\n")
		p("|---|---|--:|--:|--:|--:|--:|\n")
	} else {
		p("| cohort | shape | members | cohortd count median / p99 (ms) | cohortd members median / p99 (ms) |\n")
		p("|---|---|--:|--:|--:|\n")
	}
	for _, r := range b.cohorts {
		p("| `%s` | %s | %s | %s / %s | %s / %s |", r.name, r.kind, thousands(r.members),
			ms(r.count.median), ms(r.count.p99), ms(r.eval.median), ms(r.eval.p99))
		if r.hasCH {
			ratio := float64(r.ch.median) / float64(max(r.count.median, 1))
			p(" %s / %s | %s× |", ms(r.ch.median), ms(r.ch.p99), ratioString(ratio))
		}
		p("\n")
	}
	p("\nComplex cohorts:\n\n")
	for _, c := range complexCohorts {
		p("- `%s`: `%s`\n", c.name, c.expr)
	}
	p("\n| measurement | value |\n|---|--:|\n")
	n := float64(b.cfg.users)
	if b.snapshotRead > 0 {
		p("| index read from a snapshot (--index-cache) | %s s |\n", secs(b.snapshotRead))
	} else {
		p("| generate + stage (Builder.Add) %s users | %s s |\n", thousands(uint64(b.cfg.users)), secs(b.genAdd))
		p("| index build (Builder.Build) | %s s |\n", secs(b.buildTook))
	}
	p("| index size (Stats) | %s, %.1f bytes/user |\n", mib(int64(b.stats.TotalBytes)), b.stats.BytesPerUser)
	p("| RSS after build (VmRSS, after GC) | %s, %.1f bytes/user |\n", mib(b.rssAfter), float64(b.rssAfter)/n)
	p("| peak RSS during build (VmHWM) | %s |\n", mib(b.hwmBuild))
	if b.rssServing > 0 {
		p("| RSS while serving HTTP (VmRSS after a GC: index, cached cohorts, memberships) | %s |\n", mib(b.rssServing))
	}
	p("| RSS at the end (VmRSS / VmHWM of the whole run) | %s / %s |\n", mib(rss), mib(hwm))
	if b.table != nil {
		if b.chReused {
			p("| ClickHouse load | reused an existing table |\n")
		} else {
			p("| ClickHouse: write NDJSON / Load / copy to MergeTree | %s s / %s s / %s s |\n", secs(b.chGenerate), secs(b.chLoad), secs(b.chCopy))
		}
		if b.chBytes > 0 {
			p("| ClickHouse table on disk (compressed) | %s, %.1f bytes/user |\n", mib(b.chBytes), float64(b.chBytes)/n)
		}
	}
	p("| one user's cohorts, %d cohorts (Evaluator.UserCohorts, cached bitmaps) median / p99 | %s / %s µs |\n",
		b.userAllCohorts, us(b.userAll.median), us(b.userAll.p99))
	p("| one user's cohorts, %d cohorts median / p99 | %s / %s µs |\n",
		b.user100Cohorts, us(b.user100.median), us(b.user100.p99))
	if b.exportTook > 0 {
		p("| export: Iterate `%s` in user_id order (%s ids) | %s ids/s |\n", b.exportCohort, thousands(b.exportIDs),
			thousands(uint64(float64(b.exportIDs)/b.exportTook.Seconds())))
	}
	for _, h := range []struct {
		r       loadResult
		cohorts int
		clock   string
	}{
		{b.httpMain, b.httpMainCohorts, "clock pinned (serve --now)"},
		{b.http100, b.http100Cohorts, "clock pinned"},
		{b.httpWall, b.http100Cohorts, "wall clock: time-dependent cohorts re-evaluated every second"},
	} {
		if h.r.requests == 0 {
			continue
		}
		p("| HTTP GET /api/v1/users/{id}/cohorts, %d cohorts, %s, %d connections | %s req/s, p50 %s ms, p99 %s ms |\n",
			h.cohorts, h.clock, b.cfg.httpConns, thousands(uint64(h.r.perSecond())), ms(h.r.lat.median), ms(h.r.lat.p99))
	}
	p("\nCommand: `go run ./examples/bench %s`\n", strings.Join(os.Args[1:], " "))
	return w.Flush()
}

func ratioString(r float64) string {
	if r >= 100 {
		return strconv.FormatFloat(r, 'f', 0, 64)
	}
	return strconv.FormatFloat(r, 'f', 1, 64)
}

func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) }

// thousands formats n with thin separators: 10,000,000.
func thousands(n uint64) string {
	s := strconv.FormatUint(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// machine describes the CPU and memory from /proc.
func machine() string {
	model := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && k == "MemTotal" {
				if kb, err := strconv.ParseInt(strings.Fields(v)[0], 10, 64); err == nil {
					mem = fmt.Sprintf(", %.0f GiB RAM", float64(kb)/(1<<20))
				}
			}
		}
	}
	return fmt.Sprintf("%s, %d logical CPUs (GOMAXPROCS %d)%s", model, runtime.NumCPU(), runtime.GOMAXPROCS(0), mem)
}
