//go:build unix

package recommend

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time the process has used (user + system), so that a
// benchmark can report its cost apart from how loaded the machine is.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
