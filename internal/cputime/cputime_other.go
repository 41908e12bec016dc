//go:build !unix

// Package cputime reads the CPU time of this process, for benchmarks that
// report what an operation costs in CPU rather than in wall time (which other
// work on the machine stretches).
package cputime

import "time"

// Process is not measured here: it is always 0, and benchmarks report no CPU time.
func Process() time.Duration { return 0 }
