package embeddedpg

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// maxSocketPath: sun_path is 108 bytes on Linux including the NUL, and
// postgres rejects a socket path that does not fit.
const maxSocketPath = 107

func sysProcAttr(cred *syscall.Credential, parentDeath syscall.Signal) *syscall.SysProcAttr {
	// Go sets the parent-death signal after switching credentials, which
	// matters: the kernel clears it on a uid change.
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: parentDeath, Credential: cred}
}

// inspectProcess classifies the process a postmaster.pid names.
func inspectProcess(pid int, clusterDir string) (procState, string) {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return procGone, "no such process"
	}
	proc := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(proc + "/stat")
	if err != nil {
		if _, serr := os.Stat("/proc/self"); serr != nil {
			return procThisCluster, "cannot inspect processes without /proc"
		}
		return procGone, "process vanished"
	}
	// Format: "pid (comm) state ...", where comm may itself contain ')'.
	lp, rp := strings.IndexByte(string(stat), '('), strings.LastIndexByte(string(stat), ')')
	if lp < 0 || rp < lp || len(stat) < rp+3 {
		return procThisCluster, "unreadable /proc stat"
	}
	comm := string(stat[lp+1 : rp])
	if stat[rp+2] == 'Z' {
		return procGone, "zombie"
	}
	if comm != "postgres" && comm != "postmaster" {
		return procOther, "pid now belongs to " + strconv.Quote(comm)
	}
	// The postmaster's working directory is its data directory.
	cwd, err := os.Readlink(proc + "/cwd")
	if err != nil {
		return procThisCluster, "postgres process, data directory unknown"
	}
	want := clusterDir
	if real, err := filepath.EvalSymlinks(clusterDir); err == nil {
		want = real
	}
	if cwd != want {
		return procOtherCluster, "postgres process serving " + cwd
	}
	return procThisCluster, "postgres process serving this cluster"
}
