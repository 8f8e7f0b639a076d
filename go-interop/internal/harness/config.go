package harness

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Provider names accepted by -provider.
const (
	ProviderAutomanaged = "automanaged"
	ProviderEtcd        = "etcd"
	ProviderK8s         = "k8s"
)

// Config is the harness node's configuration, one field per flag. Defaults
// are protoactor-go's own defaults where Go has one (gossip interval 300 ms,
// heartbeat expiration 20 s, automanaged refresh 2 s and port 6330, etcd base
// key /protoactor and endpoint 127.0.0.1:2379) and loopback everywhere else.
type Config struct {
	Cluster             string
	Host                string
	Netns               bool
	Port                int
	Provider            string
	AutomanagedPort     int
	AutomanagedHosts    []string
	AutomanagedRefresh  time.Duration
	EtcdEndpoints       []string
	EtcdBaseKey         string
	K8sKubeconfig       string
	K8sNamespace        string
	K8sPodName          string
	HTTPPort            int
	HeartbeatExpiration time.Duration
	GossipInterval      time.Duration
	WatchKeys           []string
	Kinds               []string
	// KindProps, when set, gives the grain actor of a kind (cmd/grainhost);
	// nil keeps the default, a grain that ignores every message.
	KindProps func(kind string) *actor.Props
}

// ConfigError is a bad flag value.
type ConfigError struct {
	Flag   string
	Reason string
}

func (e *ConfigError) Error() string { return fmt.Sprintf("-%s: %s", e.Flag, e.Reason) }

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ParseFlags parses the harness command line. Usage and errors go to output.
func ParseFlags(args []string, output io.Writer) (Config, error) {
	fs := flag.NewFlagSet("harness", flag.ContinueOnError)
	fs.SetOutput(output)
	var c Config
	var amHosts, etcdEndpoints, watchKeys, kinds string
	fs.StringVar(&c.Cluster, "cluster", "protogossip", "cluster name")
	fs.StringVar(&c.Host, "host", "127.0.0.1", "remoting host (also the host advertised to the provider)")
	fs.BoolVar(&c.Netns, "netns", false, "the process runs in a private network namespace (partition tests): -host may be any address of it")
	fs.IntVar(&c.Port, "port", 0, "remoting (gRPC) port; 0 picks a free one")
	fs.StringVar(&c.Provider, "provider", ProviderAutomanaged, "cluster provider: automanaged|etcd|k8s")
	fs.IntVar(&c.AutomanagedPort, "automanaged-port", 6330, "automanaged /_health port (bound on -host); 0 picks a free one")
	fs.StringVar(&amHosts, "automanaged-hosts", "", "comma list of host:port automanaged peers (default: this node only)")
	fs.DurationVar(&c.AutomanagedRefresh, "automanaged-refresh", 2*time.Second, "automanaged poll interval")
	fs.StringVar(&etcdEndpoints, "etcd-endpoints", "127.0.0.1:2379", "comma list of etcd endpoints")
	fs.StringVar(&c.EtcdBaseKey, "etcd-base-key", "/protoactor", "etcd base key")
	fs.StringVar(&c.K8sKubeconfig, "k8s-kubeconfig", "", "k8s: kubeconfig of the API server")
	fs.StringVar(&c.K8sNamespace, "k8s-namespace", "", "k8s: this member's pod namespace")
	fs.StringVar(&c.K8sPodName, "k8s-pod-name", "", "k8s: this member's pod name (the harness runs under unshare with it as host name)")
	fs.IntVar(&c.HTTPPort, "http", 0, "harness HTTP API port on 127.0.0.1; 0 picks a free one")
	fs.DurationVar(&c.HeartbeatExpiration, "heartbeat-expiration", 20*time.Second, "cluster.Config.HeartbeatExpiration")
	fs.DurationVar(&c.GossipInterval, "gossip-interval", 300*time.Millisecond, "cluster.Config.GossipInterval")
	fs.StringVar(&watchKeys, "watch-keys", "", "comma list of extra gossip keys to report in /view")
	fs.StringVar(&kinds, "kinds", "", "comma list of extra cluster kinds (Go adds prototopic itself)")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() != 0 {
		return Config{}, &ConfigError{Flag: fs.Arg(0), Reason: "unexpected positional argument"}
	}
	c.AutomanagedHosts = splitList(amHosts)
	c.EtcdEndpoints = splitList(etcdEndpoints)
	c.WatchKeys = splitList(watchKeys)
	c.Kinds = splitList(kinds)
	return c, c.Validate()
}

func validPort(p int) bool { return p >= 0 && p <= 65535 }

// Validate checks value ranges and that the harness stays on loopback.
func (c Config) Validate() error {
	switch {
	case c.Cluster == "":
		return &ConfigError{"cluster", "must not be empty"}
	case c.Provider != ProviderAutomanaged && c.Provider != ProviderEtcd && c.Provider != ProviderK8s:
		return &ConfigError{"provider", fmt.Sprintf("unknown provider %q (automanaged|etcd|k8s)", c.Provider)}
	case c.Provider == ProviderK8s && (c.K8sKubeconfig == "" || c.K8sNamespace == "" || c.K8sPodName == ""):
		return &ConfigError{"provider", "k8s needs -k8s-kubeconfig, -k8s-namespace and -k8s-pod-name"}
	case !validPort(c.Port):
		return &ConfigError{"port", "out of range"}
	case !validPort(c.AutomanagedPort):
		return &ConfigError{"automanaged-port", "out of range"}
	case !validPort(c.HTTPPort):
		return &ConfigError{"http", "out of range"}
	case c.AutomanagedRefresh <= 0:
		return &ConfigError{"automanaged-refresh", "must be positive"}
	case c.GossipInterval <= 0:
		// time.NewTicker panics on a non-positive interval.
		return &ConfigError{"gossip-interval", "must be positive"}
	case c.HeartbeatExpiration <= 0:
		return &ConfigError{"heartbeat-expiration", "must be positive"}
	}
	ip := net.ParseIP(c.Host)
	switch {
	case c.Netns && (ip == nil || ip.IsUnspecified()):
		return &ConfigError{"host", fmt.Sprintf("%q is not one IP address", c.Host)}
	case c.Netns:
		// A non-loopback host is only safe where nothing outside the test
		// can reach it: a network namespace of the test's own.
		private, err := inPrivateNetns()
		if err != nil {
			return &ConfigError{"netns", err.Error()}
		}
		if !private {
			return &ConfigError{"netns", "this process is not in a named network namespace; run it with `ip netns exec`"}
		}
	case ip == nil || !ip.IsLoopback():
		return &ConfigError{"host", fmt.Sprintf("%q is not a loopback IP address (see -netns)", c.Host)}
	}
	for _, h := range c.AutomanagedHosts {
		if _, _, err := net.SplitHostPort(h); err != nil {
			return &ConfigError{"automanaged-hosts", fmt.Sprintf("%q: %v", h, err)}
		}
	}
	if c.Provider == ProviderEtcd && len(c.EtcdEndpoints) == 0 {
		return &ConfigError{"etcd-endpoints", "at least one endpoint needed"}
	}
	if c.Provider == ProviderEtcd && c.EtcdBaseKey == "" {
		return &ConfigError{"etcd-base-key", "must not be empty"}
	}
	return nil
}

// inPrivateNetns reports whether this process runs in a named network
// namespace, one made by `ip netns add` (its handle is bind-mounted under
// /run/netns) and entered with `ip netns exec`. A variable for tests.
var inPrivateNetns = func() (bool, error) {
	var self syscall.Stat_t
	if err := syscall.Stat("/proc/self/ns/net", &self); err != nil {
		return false, fmt.Errorf("cannot tell the network namespace: %v", err)
	}
	entries, err := os.ReadDir("/run/netns")
	if err != nil {
		return false, nil // no named namespaces at all
	}
	for _, e := range entries {
		var ns syscall.Stat_t
		if syscall.Stat(filepath.Join("/run/netns", e.Name()), &ns) == nil && ns.Dev == self.Dev && ns.Ino == self.Ino {
			return true, nil
		}
	}
	return false, nil
}
