// Package benche2e owns the measurements of `make bench-e2e`: the open-loop
// and closed-loop load generators, the streaming and slow-stream runs, CPU and
// RSS read from /proc for a child process, the PostgreSQL round-trip counts,
// and the table with each figure's ratio to the bare proxy. cmd/aigate-bench
// starts the processes and calls it; docs/performance.md explains the method.
//
//	aigate-bench (load generator + mock upstream, one process)
//	   │  A B C A B C … (each measurement on each target in turn)
//	   ├──▶ bare proxy   (child: httputil.ReverseProxy, aigate's transport)
//	   ├──▶ aigate       (child: aigate server, its own database)
//	   └──▶ aigate --record-prompts (child, another database)
//	                         │
//	              private PostgreSQL cluster ◀── round trips read from
//	                                             pg_stat_database and the
//	                                             pool's acquire counter
package benche2e
