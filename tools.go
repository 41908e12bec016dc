//go:build tools

// Package tools pins the code generator and the linter that the Makefile runs with
// `go tool`; the go.mod tool directives are the source of truth, this file keeps the
// classic tools.go layout for readers who look for it.
package tools

import (
	_ "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen"
	_ "honnef.co/go/tools/cmd/staticcheck"
)
