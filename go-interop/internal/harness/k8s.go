package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"syscall"

	"github.com/asynkron/protoactor-go/cluster/clusterproviders/k8s"
	"k8s.io/client-go/tools/clientcmd"
)

// protoactor-go's Kubernetes provider takes no pod name or namespace: it
// uses os.Hostname() as the pod name and reads the namespace from the
// service account's file. To give a harness member its own Pod object on a
// test API server, the harness runs in private UTS and mount namespaces,
// sets the host name to the pod name and mounts a tmpfs over /run with the
// namespace file in it (/var/run is /run on Debian). Nothing outside the
// process changes.
const (
	serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"
	// hostNsEnv holds the UTS and mount namespaces the harness was started
	// in, for the re-executed harness to check that unshare(1) gave it
	// others (and not to loop).
	hostNsEnv = "PROTOGOSSIP_HARNESS_HOST_NS"
)

// EnterPod makes this process look like it runs in pod cfg.K8sPodName of
// namespace cfg.K8sNamespace, the two ways Go's provider looks. Outside
// private UTS and mount namespaces it re-executes the harness (same pid)
// under `unshare --uts --mount` with args; needs root.
func EnterPod(cfg Config, args []string) error {
	current, err := utsAndMountNs()
	if err != nil {
		return err
	}
	host := os.Getenv(hostNsEnv)
	if host == current {
		return fmt.Errorf("-provider k8s: still in the starting UTS or mount namespace after unshare")
	}
	if host == "" {
		unshare, err := exec.LookPath("unshare")
		if err != nil {
			return fmt.Errorf("-provider k8s needs unshare(1) (util-linux): %w", err)
		}
		self, err := os.Executable()
		if err != nil {
			return err
		}
		argv := append([]string{"unshare", "--uts", "--mount", "--propagation", "private", "--", self}, args...)
		env := append(os.Environ(), hostNsEnv+"="+current)
		// Only returns on failure.
		return fmt.Errorf("re-executing under unshare (root needed): %w", syscall.Exec(unshare, argv, env))
	}
	if err := syscall.Sethostname([]byte(cfg.K8sPodName)); err != nil {
		return fmt.Errorf("sethostname %q: %w", cfg.K8sPodName, err)
	}
	run, err := filepath.EvalSymlinks("/var/run")
	if err != nil {
		return err
	}
	if err := syscall.Mount("tmpfs", run, "tmpfs", 0, "size=1m"); err != nil {
		return fmt.Errorf("mount a tmpfs on %s: %w", run, err)
	}
	if err := os.MkdirAll(serviceAccountDir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(serviceAccountDir, "namespace"), []byte(cfg.K8sNamespace), 0o644)
}

// utsAndMountNs names this process's UTS and mount namespaces.
func utsAndMountNs() (string, error) {
	var out string
	for _, ns := range []string{"uts", "mnt"} {
		var st syscall.Stat_t
		if err := syscall.Stat("/proc/self/ns/"+ns, &st); err != nil {
			return "", fmt.Errorf("cannot tell the %s namespace: %w", ns, err)
		}
		out += fmt.Sprintf("%s:%d:%d,", ns, st.Dev, st.Ino)
	}
	return out, nil
}

// newK8sProvider is protoactor-go's own provider with a client for the
// kubeconfig (Go's k8s.New only knows the in-cluster configuration).
func newK8sProvider(kubeconfig string) (*k8s.Provider, error) {
	restConfig, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, &StartError{"k8s config", err}
	}
	p, err := k8s.NewWithConfig(restConfig)
	if err != nil {
		return nil, &StartError{"k8s client", err}
	}
	return p, nil
}

// k8sMemberID is the member id Go's provider labels its pod with: a random
// UUID it keeps in an unexported field, not the system id (read, not set,
// through reflection; it exists once StartMember ran).
func k8sMemberID(p *k8s.Provider) string {
	return reflect.ValueOf(p).Elem().FieldByName("id").String()
}
