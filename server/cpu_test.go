//go:build unix

package server_test

import (
	"syscall"
	"testing"
	"time"
)

// reportCPU reports the CPU time (user and system) the test process spent per
// iteration of b's loop so far: a server's cost apart from the waits on its
// database, which runs in another process.
func reportCPU(b *testing.B, start time.Duration, n int) {
	if n > 0 {
		b.ReportMetric(float64((processCPU()-start).Microseconds())/float64(n), "cpu-µs/op")
	}
}

// processCPU is the CPU time the process spent so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
