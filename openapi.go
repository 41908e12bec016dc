// Package capture is the root of the Capture API module. It holds the contract,
// openapi.yaml, embedded as written so that the server publishes it byte for byte;
// the code generated from it lives in gen/, the server in server/, the Go client in
// client/ and the binary in cmd/capture.
package capture

import _ "embed"

// Package client is a module of its own, so that an integrator's build needs none
// of the tools of this one: its types are generated from here.
//
//go:generate go tool oapi-codegen -config client/models.yaml openapi.yaml

// OpenAPIYAML is openapi.yaml, the one contract every other part is built from.
//
//go:embed openapi.yaml
var OpenAPIYAML []byte
