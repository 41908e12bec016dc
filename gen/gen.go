// Package gen holds the code oapi-codegen generates from openapi.yaml: the models,
// the strict net/http server interface, the client and the embedded spec.
// Nothing in it is edited by hand; run `go generate ./...` after changing the spec.
package gen

//go:generate go tool oapi-codegen -config config.yaml ../openapi.yaml
