//go:build !unix

package embeddedpg

import (
	"context"
	"runtime"
)

// Start is not available: the package relies on flock, process groups and
// unix sockets.
func Start(context.Context, Options) (*Server, error) {
	return nil, &Error{
		Reason: "running PostgreSQL as a child process is not supported on " + runtime.GOOS,
		Fix:    "pass --postgres-url to use an existing server",
	}
}

// Stop does nothing; Start never returns a Server on this platform.
func (s *Server) Stop(context.Context) error { return nil }
