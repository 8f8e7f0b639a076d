package main

import (
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/protogossip/go-interop/internal/harness"
)

// startEtcd runs a throw-away single-node etcd on loopback and returns its
// client endpoint. Skips the test when no etcd binary is installed
// (scripts/test.sh installs Debian's etcd-server).
func startEtcd(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Skip("etcd not installed; scripts/test.sh installs etcd-server")
	}
	ports := freePorts(t, 2)
	client := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	cmd := exec.Command(bin,
		"--name", "harness-test",
		"--data-dir", t.TempDir(),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "harness-test="+peer,
		"--log-level", "error")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })

	deadline := time.Now().Add(startDeadline)
	for {
		resp, err := http.Get(client + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return strings.TrimPrefix(client, "http://")
			}
		}
		select {
		case <-done:
			t.Fatalf("etcd exited during startup")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd not healthy within %v: %v", startDeadline, err)
		}
		time.Sleep(pollEvery)
	}
}

// TestEtcdProviderMembers: with Go's etcd provider the member id is
// "<cluster>@<system id>"; both nodes list both, and a graceful shutdown
// deletes the key so the survivor drops the leaver.
func TestEtcdProviderMembers(t *testing.T) {
	endpoint := startEtcd(t)
	bin := harnessBinary(t)
	const clusterName = "harness-etcd"
	var procs []*proc
	for i := 0; i < 2; i++ {
		p, err := startProc(t, bin, fmt.Sprintf("etcd%d", i),
			"-cluster", clusterName, "-provider", "etcd",
			"-etcd-endpoints", endpoint, "-etcd-base-key", "/harness-test",
			"-gossip-interval", "100ms")
		if err != nil {
			t.Fatal(err)
		}
		if want := clusterName + "@" + p.ready.ID; p.ready.MemberID != want {
			t.Fatalf("%s member_id %q, want %q", p.name, p.ready.MemberID, want)
		}
		procs = append(procs, p)
	}
	want := []string{procs[0].ready.MemberID, procs[1].ready.MemberID}
	slices.Sort(want)
	eventually(t, "etcd membership", procs, func(views map[string]harness.View) error {
		for name, v := range views {
			if got := memberIDs(v); !slices.Equal(got, want) {
				return fmt.Errorf("%s members %v, want %v", name, got, want)
			}
		}
		if views["etcd0"].TopologyHash != views["etcd1"].TopologyHash {
			return fmt.Errorf("topology hashes differ")
		}
		return nil
	})

	var sr harness.ShutdownResult
	procs[1].post(t, "/shutdown", url.Values{"graceful": {"true"}}, &sr)
	eventually(t, "etcd leave", procs[:1], func(views map[string]harness.View) error {
		if got := memberIDs(views["etcd0"]); !slices.Equal(got, []string{procs[0].ready.MemberID}) {
			return fmt.Errorf("etcd0 members %v", got)
		}
		return nil
	})
	waitExit(t, procs[1])
}
