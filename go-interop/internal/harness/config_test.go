package harness

import (
	"errors"
	"io"
	"reflect"
	"testing"
	"time"
)

func TestParseFlagsDefaultsAreGoDefaultsOnLoopback(t *testing.T) {
	c, err := ParseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Cluster: "protogossip", Host: "127.0.0.1", Port: 0, Provider: "automanaged",
		AutomanagedPort: 6330, AutomanagedRefresh: 2 * time.Second,
		EtcdEndpoints: []string{"127.0.0.1:2379"}, EtcdBaseKey: "/protoactor",
		HTTPPort: 0, HeartbeatExpiration: 20 * time.Second, GossipInterval: 300 * time.Millisecond,
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("defaults = %+v\nwant %+v", c, want)
	}
}

func TestParseFlagsLists(t *testing.T) {
	c, err := ParseFlags([]string{
		"-automanaged-hosts", "127.0.0.1:1, 127.0.0.1:2,",
		"-watch-keys", "a,b", "-kinds", "echo", "-provider", "etcd",
		"-etcd-endpoints", "127.0.0.1:2379,127.0.0.1:2380", "-gossip-interval", "100ms",
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.AutomanagedHosts, []string{"127.0.0.1:1", "127.0.0.1:2"}) ||
		!reflect.DeepEqual(c.WatchKeys, []string{"a", "b"}) || !reflect.DeepEqual(c.Kinds, []string{"echo"}) ||
		len(c.EtcdEndpoints) != 2 || c.Provider != ProviderEtcd || c.GossipInterval != 100*time.Millisecond {
		t.Fatalf("parsed %+v", c)
	}
}

func TestParseFlagsRejectsBadValues(t *testing.T) {
	cases := map[string][]string{
		"provider":            {"-provider", "consul"},
		"host":                {"-host", "0.0.0.0"},
		"port":                {"-port", "70000"},
		"gossip-interval":     {"-gossip-interval", "0s"},
		"automanaged-hosts":   {"-automanaged-hosts", "nohostport"},
		"automanaged-refresh": {"-automanaged-refresh", "-1s"},
	}
	for flagName, args := range cases {
		_, err := ParseFlags(args, io.Discard)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Flag != flagName {
			t.Errorf("%v: got %v, want a ConfigError for -%s", args, err, flagName)
		}
	}
	if _, err := ParseFlags([]string{"-nope"}, io.Discard); err == nil {
		t.Errorf("unknown flag accepted")
	}
}

func TestNetnsAllowsAPrivateAddressOnlyInAPrivateNamespace(t *testing.T) {
	defer func(f func() (bool, error)) { inPrivateNetns = f }(inPrivateNetns)
	args := []string{"-netns", "-host", "10.77.0.1"}

	inPrivateNetns = func() (bool, error) { return false, nil }
	var ce *ConfigError
	if _, err := ParseFlags(args, io.Discard); !errors.As(err, &ce) || ce.Flag != "netns" {
		t.Fatalf("initial namespace: got %v, want a ConfigError for -netns", err)
	}
	if _, err := ParseFlags([]string{"-host", "10.77.0.1"}, io.Discard); !errors.As(err, &ce) || ce.Flag != "host" {
		t.Fatalf("without -netns: got %v, want a ConfigError for -host", err)
	}

	inPrivateNetns = func() (bool, error) { return true, nil }
	c, err := ParseFlags(args, io.Discard)
	if err != nil || !c.Netns || c.Host != "10.77.0.1" {
		t.Fatalf("private namespace: got %+v, %v", c, err)
	}
	if _, err := ParseFlags([]string{"-netns", "-host", "0.0.0.0"}, io.Discard); !errors.As(err, &ce) || ce.Flag != "host" {
		t.Fatalf("unspecified host: got %v, want a ConfigError for -host", err)
	}
}

func TestNetnsIsRefusedOutsideANamedNamespace(t *testing.T) {
	// The real check, unmocked: `go test` is not started under `ip netns
	// exec`, so -netns must be refused here.
	private, err := inPrivateNetns()
	if err != nil {
		t.Skipf("no /proc namespace links: %v", err)
	}
	if private {
		t.Skip("go test itself runs in a private network namespace")
	}
	var ce *ConfigError
	if _, err := ParseFlags([]string{"-netns", "-host", "10.77.0.1"}, io.Discard); !errors.As(err, &ce) || ce.Flag != "netns" {
		t.Fatalf("got %v, want a ConfigError for -netns", err)
	}
}

func TestK8sNeedsKubeconfigNamespaceAndPodName(t *testing.T) {
	full := []string{"-provider", "k8s", "-k8s-kubeconfig", "/k", "-k8s-namespace", "ns", "-k8s-pod-name", "p"}
	c, err := ParseFlags(full, io.Discard)
	if err != nil || c.K8sKubeconfig != "/k" || c.K8sNamespace != "ns" || c.K8sPodName != "p" {
		t.Fatalf("got %+v, %v", c, err)
	}
	for i := 2; i < len(full); i += 2 {
		args := append(append([]string{}, full[:i]...), full[i+2:]...)
		var ce *ConfigError
		if _, err := ParseFlags(args, io.Discard); !errors.As(err, &ce) || ce.Flag != "provider" {
			t.Errorf("%v: got %v, want a ConfigError for -provider", args, err)
		}
	}
}
