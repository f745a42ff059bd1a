package browsertest

// Hooks for the external tests.
var (
	ArtifactPath = artifactPath
	FindChromium = findChromium
)

// SameProcess reports whether two Browsers are tabs of one Chromium.
func SameProcess(a, b *Browser) bool { return a.proc == b.proc }
