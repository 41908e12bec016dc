//go:build unix

// Package cputime reads the CPU time of this process, for benchmarks that
// report what an operation costs in CPU rather than in wall time (which other
// work on the machine stretches).
package cputime

import (
	"syscall"
	"time"
)

// Process is the CPU time (user and system) the process has spent so far.
func Process() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
