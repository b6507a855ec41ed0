// Package policies is affwatch's default policy pack: Rego rules, one per package, each with
// its METADATA and unit tests, and the JSON schemas of the documents they read.
package policies

import "embed"

// FS holds the default pack: the rules, their tests, the shared library and the schemas.
//
//go:embed */*.rego schemas/*/*.json
var FS embed.FS
