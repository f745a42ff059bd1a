// Package migrations holds aigate's schema as numbered SQL files embedded in
// the binary, and the Go steps (Steps) of the few migrations SQL cannot
// express. Files are named NNNN_description.sql, applied in order, never
// edited once released: a change to the schema is a new file.
package migrations

import "embed"

// FS holds the migration files.
//
//go:embed *.sql
var FS embed.FS
