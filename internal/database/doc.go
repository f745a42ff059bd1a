// Package database owns aigate's access to PostgreSQL: opening the pool, the
// one transaction helper (Tx, LockedTx, TryLockedTx), and the registry of
// advisory locks that serialise work several replicas could race on.
//
// Runtime SQL lives in queries/*.sql and is compiled by sqlc into dbsqlc; the
// schema lives in migrations/ and is applied by migrate.
package database
