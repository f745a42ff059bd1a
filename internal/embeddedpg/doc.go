// Package embeddedpg runs a private PostgreSQL cluster as a child process,
// using the PostgreSQL server binaries installed on the machine.
//
// aigate uses it when no --postgres-url is given, and the test-database
// helper uses it to start a throwaway cluster for a test run. Nothing is
// downloaded: the package finds an installed postgres/initdb pair (see
// FindBinDir), initialises a cluster under the aigate data dir on first use,
// and afterwards only reuses it. A data dir is never deleted, re-initialised
// or upgraded behind the operator's back.
//
// Layout inside Options.DataDir:
//
//	postgres/                      the cluster (PGDATA), 0700, owned by the user postgres runs as
//	run/                           private unix socket directory, 0700
//	embedded-postgres.lock         flock held by the owning aigate process; contains its pid
//	embedded-postgres.password     superuser password, 0600, only needed for the TCP fallback
//
// PostgreSQL refuses to run as root, so when the caller is root the server
// and initdb run as the unprivileged "postgres" system user; otherwise they
// run as the calling user. Clients connect over the unix socket with trust
// authentication; the socket directory and the socket itself are 0700, so
// only that user (and root) can reach it. If the socket path would exceed the
// kernel's sun_path limit the server listens on a random loopback TCP port
// instead and clients authenticate with the generated password.
//
// The postmaster is started directly (not through pg_ctl) so that its
// lifetime is tied to ours: it gets SIGINT if aigate dies, and Stop performs
// a fast shutdown and waits for it to exit.
//
// Its waits and polls (for the server to accept connections, for an orphan
// to exit, for a shutdown) use the real clock, not an injected
// internal/clock: they wait on a real process, which a test clock cannot
// hurry.
package embeddedpg
