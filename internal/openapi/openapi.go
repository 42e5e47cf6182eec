// Package openapi holds the OpenAPI 3.1 document of the HTTP API, served at
// /openapi.yaml and checked against live responses by tests.
package openapi

import _ "embed"

// Spec is the OpenAPI document.
//
//go:embed openapi.yaml
var Spec []byte
