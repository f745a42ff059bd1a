package cli

import (
	"context"
	"fmt"
	"runtime"

	"github.com/aigate/aigate/internal/buildinfo"
	"github.com/aigate/aigate/internal/config"
)

func versionCommand() *Command {
	return &Command{
		Name:    "version",
		Summary: "Print the aigate version",
		Run: func(ctx context.Context, io IO, args []string) error {
			set := &config.Set{Command: "aigate version", Usage: "", Summary: "Print the aigate version and the Go version it was built with."}
			if _, err := set.Parse(args, io.Getenv, io.Stdout); err != nil {
				return err
			}
			fmt.Fprintf(io.Stdout, "aigate %s (%s, %s/%s)\n", buildinfo.Version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
