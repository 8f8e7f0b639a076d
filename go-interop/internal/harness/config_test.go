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
