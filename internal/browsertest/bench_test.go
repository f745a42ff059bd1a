package browsertest

import "testing"

// BenchmarkProcessStart is what a Chromium of its own would cost each test:
// start the process, wait for its first page, close it.
func BenchmarkProcessStart(b *testing.B) {
	for b.Loop() {
		p, err := startProcess()
		if err != nil {
			b.Fatal(err)
		}
		p.stop()
	}
}

// BenchmarkNew is what each test pays with the shared process: a fresh
// incognito context and tab, then closing them. A Browser held across the
// loop keeps the process up, as the other tests running at the time do.
func BenchmarkNew(b *testing.B) {
	New(b)
	for b.Loop() {
		tab, err := open(config{})
		if err != nil {
			b.Fatal(err)
		}
		tab.shut()
	}
}
