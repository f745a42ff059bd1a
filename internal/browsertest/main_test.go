package browsertest_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The browser is shared by the tests and stops with the last of them, so
// the leak check also checks that nothing of Chromium or chromedp outlives
// the Browsers.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
