package helm_test

import (
	"io"
	"log"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// Helm's linter logs each template fail it tolerates through the standard
	// logger; in make test's output those lines would read as failures.
	log.SetOutput(io.Discard)
	goleak.VerifyTestMain(m)
}
