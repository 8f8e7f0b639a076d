package main

// Process-level tests: real harness processes (real protoactor-go members,
// automanaged provider on loopback) form a cluster; the test only observes
// them through the READY line and the HTTP API, polling with deadlines.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/protogossip/go-interop/internal/harness"
)

const (
	startDeadline = 30 * time.Second
	pollDeadline  = 20 * time.Second
	exitDeadline  = 15 * time.Second
	pollEvery     = 100 * time.Millisecond
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// harnessBinary builds cmd/harness once per test process into a temp dir.
func harnessBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "harness-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "harness")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

type proc struct {
	name   string
	cmd    *exec.Cmd
	ready  harness.ReadyInfo
	stderr string // path of the captured stderr
	exited chan struct{}
	err    error // valid after exited is closed

	mu         sync.Mutex
	extraLines []string // stdout lines after READY (must stay empty)
}

// freePorts reserves n loopback ports by binding and releasing them. The
// automanaged hosts list needs every node's port before any node starts.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// startProc starts the harness binary and waits for its READY line. It is
// safe to call from several goroutines (it reports errors instead of calling
// t.Fatal); the process is killed at test cleanup if still running.
func startProc(t *testing.T, bin, name string, args ...string) (*proc, error) {
	stderr, err := os.CreateTemp(t.TempDir(), name+"-stderr-")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{name: name, cmd: cmd, stderr: stderr.Name(), exited: make(chan struct{})}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		first := true
		for sc.Scan() {
			if first {
				lines <- sc.Text()
				first = false
				continue
			}
			p.mu.Lock()
			p.extraLines = append(p.extraLines, sc.Text())
			p.mu.Unlock()
		}
		if first {
			close(lines)
		}
	}()
	go func() {
		p.err = cmd.Wait()
		stderr.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("---- %s stderr (tail) ----\n%s", name, tail(p.stderr, 40))
		}
	})

	select {
	case line, ok := <-lines:
		if !ok {
			return p, fmt.Errorf("%s exited before READY: %v\n%s", name, waitErr(p), tail(p.stderr, 40))
		}
		payload, found := strings.CutPrefix(line, "READY ")
		if !found {
			return p, fmt.Errorf("%s: first stdout line is not READY: %q", name, line)
		}
		dec := json.NewDecoder(strings.NewReader(payload))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p.ready); err != nil {
			return p, fmt.Errorf("%s: READY payload %q: %v", name, payload, err)
		}
		return p, nil
	case <-time.After(startDeadline):
		return p, fmt.Errorf("%s: no READY within %v\n%s", name, startDeadline, tail(p.stderr, 40))
	}
}

func (p *proc) stdoutAfterReady() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.extraLines...)
}

func waitErr(p *proc) error {
	select {
	case <-p.exited:
		return p.err
	case <-time.After(exitDeadline):
		return fmt.Errorf("still running")
	}
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var client = &http.Client{Timeout: 10 * time.Second}

func (p *proc) view() (harness.View, error) {
	var v harness.View
	resp, err := client.Get("http://" + p.ready.HTTP + "/view")
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return v, fmt.Errorf("/view: %s: %s", resp.Status, body)
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	return v, dec.Decode(&v)
}

func (p *proc) post(t *testing.T, path string, q url.Values, out any) {
	t.Helper()
	resp, err := client.Post("http://"+p.ready.HTTP+path+"?"+q.Encode(), "", nil)
	if err != nil {
		t.Fatalf("%s POST %s: %v", p.name, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s POST %s: %s: %s", p.name, path, resp.Status, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("%s POST %s: %q: %v", p.name, path, body, err)
	}
}

// eventually polls /view on every proc until cond accepts the set of views
// or the deadline passes; on timeout it reports the last reason.
func eventually(t *testing.T, what string, procs []*proc, cond func(views map[string]harness.View) error) map[string]harness.View {
	t.Helper()
	deadline := time.Now().Add(pollDeadline)
	var last error
	for {
		views := map[string]harness.View{}
		last = nil
		for _, p := range procs {
			v, err := p.view()
			if err != nil {
				last = fmt.Errorf("%s: %v", p.name, err)
				break
			}
			views[p.name] = v
		}
		if last == nil {
			if last = cond(views); last == nil {
				return views
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %v: %v", what, pollDeadline, last)
		}
		time.Sleep(pollEvery)
	}
}

func memberIDs(v harness.View) []string {
	var ids []string
	for _, m := range v.Members {
		ids = append(ids, m.ID)
	}
	return ids
}

// startCluster starts n harness nodes whose automanaged hosts list all of them.
func startCluster(t *testing.T, n int, extra ...string) []*proc {
	t.Helper()
	ports := freePorts(t, n)
	var hosts []string
	for _, port := range ports {
		hosts = append(hosts, fmt.Sprintf("127.0.0.1:%d", port))
	}
	bin := harnessBinary(t)
	procs := make([]*proc, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var startErrs []string
	for i := range procs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			args := append([]string{
				"-cluster", "harness-test",
				"-automanaged-port", fmt.Sprint(ports[i]),
				"-automanaged-hosts", strings.Join(hosts, ","),
				"-automanaged-refresh", "250ms",
				"-gossip-interval", "100ms",
			}, extra...)
			// In parallel: each StartMember sleeps 1 s by Go's design.
			p, err := startProc(t, bin, fmt.Sprintf("node%d", i), args...)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				startErrs = append(startErrs, err.Error())
			}
			procs[i] = p
		}(i)
	}
	wg.Wait()
	if len(startErrs) > 0 {
		t.Fatalf("starting cluster: %v", startErrs)
	}
	return procs
}
