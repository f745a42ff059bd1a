// Package poolertest proves aigate works through a connection pooler in
// transaction mode: it starts a real PgBouncer in front of the test
// database and runs replicas, the gateway, rollups and advisory locks
// through it. The package holds only tests and the PgBouncer they start.
package poolertest
