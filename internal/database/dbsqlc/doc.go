// Package dbsqlc is the sqlc-generated query layer (see sqlc.yaml). Do not
// edit the generated files: change internal/database/queries/*.sql and run
// `make generate`. This file is the only hand-written one.
package dbsqlc
