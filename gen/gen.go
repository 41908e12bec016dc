// Package gen holds the code oapi-codegen generates from openapi.yaml for the
// server: the models, the strict net/http server interface, a client for the
// tests and the embedded spec. Nothing in it is edited by hand; run
// `go generate ./...` after changing the spec. Integrators use package client,
// which has its own generated types and none of this package's dependencies.
package gen

//go:generate go tool oapi-codegen -config models.yaml ../openapi.yaml
//go:generate go tool oapi-codegen -config config.yaml ../openapi.yaml
