//go:build unix && !linux

package embeddedpg

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// maxSocketPath: sun_path is 104 bytes on macOS and the BSDs.
const maxSocketPath = 103

func sysProcAttr(cred *syscall.Credential, _ syscall.Signal) *syscall.SysProcAttr {
	// No portable parent-death signal here; an orphaned postmaster is
	// handled by the next Start via postmaster.pid.
	return &syscall.SysProcAttr{Setpgid: true, Credential: cred}
}

// inspectProcess classifies the process a postmaster.pid names. Without
// /proc the data directory cannot be checked, so a live postgres counts as
// ours, which errs on the side of not starting twice.
func inspectProcess(pid int, _ string) (procState, string) {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return procGone, "no such process"
	}
	out, err := exec.Command("ps", "-o", "stat=", "-o", "comm=", "-p", strconv.Itoa(pid)).Output()
	if err != nil {
		return procGone, "process vanished"
	}
	fields := strings.Fields(string(out))
	if len(fields) < 2 {
		return procThisCluster, "unreadable ps output"
	}
	if strings.HasPrefix(fields[0], "Z") {
		return procGone, "zombie"
	}
	comm := filepath.Base(fields[1])
	if comm != "postgres" && comm != "postmaster" {
		return procOther, "pid now belongs to " + strconv.Quote(comm)
	}
	return procThisCluster, "postgres process"
}
