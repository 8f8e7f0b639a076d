package main

import (
	"bytes"
	"errors"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runToExit runs the harness and returns its exit code, stdout and stderr;
// it fails the test if the process is still running after exitDeadline.
func runToExit(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(harnessBinary(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		switch {
		case err == nil:
			return 0, stdout.String(), stderr.String()
		case errors.As(err, &exit):
			return exit.ExitCode(), stdout.String(), stderr.String()
		default:
			t.Fatal(err)
		}
	case <-time.After(exitDeadline):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("harness %v still running after %v", args, exitDeadline)
	}
	return -1, "", ""
}

// Start failures end the process with a message and no READY line instead
// of a hang or a panic trace.
func TestStartFailuresExitWithoutReady(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)
	refused := freePorts(t, 1)[0] // nothing listens there

	cases := []struct {
		name     string
		args     []string
		code     int
		inStderr string
	}{
		{"bad flag", []string{"-provider", "consul"}, 2, "unknown provider"},
		{"non-loopback host", []string{"-host", "0.0.0.0"}, 2, "not a loopback"},
		{"remoting port taken", []string{"-port", busyPort, "-automanaged-port", "0"}, 1, "address already in use"},
		{"automanaged port taken", []string{"-automanaged-port", busyPort}, 1, "address already in use"},
		{"etcd unreachable", []string{"-provider", "etcd", "-etcd-endpoints", "127.0.0.1:" + strconv.Itoa(refused)}, 1, "etcd preflight"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runToExit(t, tc.args...)
			if code != tc.code || stdout != "" || !strings.Contains(stderr, tc.inStderr) {
				t.Fatalf("exit %d (want %d), stdout %q, stderr tail %q (want %q)",
					code, tc.code, stdout, tail1k(stderr), tc.inStderr)
			}
		})
	}
}

func tail1k(s string) string {
	if len(s) > 1000 {
		return s[len(s)-1000:]
	}
	return s
}
