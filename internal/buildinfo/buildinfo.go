// Package buildinfo reports which aigate build is running.
package buildinfo

import "runtime/debug"

// version is set at link time: -ldflags "-X github.com/aigate/aigate/internal/buildinfo.version=v1.2.3".
var version = ""

// Version is the release version, or the VCS revision of a development build.
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return "dev"
}
