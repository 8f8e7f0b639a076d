package harness

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/automanaged"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/etcd"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/k8s"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/labstack/echo"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// consensusTimeout bounds MemberList.TopologyConsensus. The pinned version
// returns immediately anyway (it never waits), but the API takes a context.
const consensusTimeout = 100 * time.Millisecond

// etcdPreflightTimeout bounds the check that etcd answers before the member
// starts.
const etcdPreflightTimeout = 5 * time.Second

// StartError says which step of starting the member failed.
type StartError struct {
	Step string
	Err  error
}

func (e *StartError) Error() string { return fmt.Sprintf("start %s: %v", e.Step, e.Err) }
func (e *StartError) Unwrap() error { return e.Err }

// Node is one running protoactor-go cluster member.
type Node struct {
	cfg      Config
	system   *actor.ActorSystem
	cluster  *cluster.Cluster
	keys     *KeySet
	memberID string

	shutdownOnce sync.Once
}

// ReadyInfo is the JSON object printed after "READY ".
type ReadyInfo struct {
	ID           string `json:"id"`
	MemberID     string `json:"member_id"`
	Address      string `json:"address"`
	HTTP         string `json:"http"`
	ProtoactorGo string `json:"protoactor_go"`
}

// StartNode builds the actor system, remote, provider and cluster from cfg and
// runs cluster.StartMember (which returns about 1 s after the provider started,
// by Go's own design). Logs go to logOut.
func StartNode(cfg Config, logOut io.Writer) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(s *actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelInfo})).
			With("lib", "Proto.Actor", "system", s.ID)
	}))
	n := &Node{cfg: cfg, system: system, keys: NewKeySet(cfg.WatchKeys...), memberID: system.ID}

	// Every entry the gossip actor accepts from a peer is published as a
	// GossipUpdate; recording its key lets /view cover keys nobody told us about.
	system.EventStream.Subscribe(func(evt interface{}) {
		if u, ok := evt.(*cluster.GossipUpdate); ok {
			n.keys.Add(u.Key)
		}
	})

	var provider cluster.ClusterProvider
	switch cfg.Provider {
	case ProviderAutomanaged:
		p, err := n.newAutomanaged(logOut)
		if err != nil {
			return nil, err
		}
		provider = p
	case ProviderEtcd:
		etcdConfig := clientv3.Config{Endpoints: cfg.EtcdEndpoints, DialTimeout: 5 * time.Second}
		if err := etcdPreflight(etcdConfig); err != nil {
			return nil, err
		}
		p, err := etcd.NewWithConfig(cfg.EtcdBaseKey, etcdConfig)
		if err != nil {
			return nil, &StartError{"etcd client", err}
		}
		provider = p
		// The etcd provider registers "<cluster>@<system id>" (provider's init).
		n.memberID = fmt.Sprintf("%s@%s", cfg.Cluster, system.ID)
	case ProviderK8s:
		p, err := newK8sProvider(cfg.K8sKubeconfig)
		if err != nil {
			return nil, err
		}
		provider = p
	}

	kinds := make([]*cluster.Kind, 0, len(cfg.Kinds))
	for _, k := range cfg.Kinds {
		// Extra kinds only make the member advertise them; the grain ignores
		// every message (no test needs activations yet).
		props := actor.PropsFromFunc(func(actor.Context) {})
		if cfg.KindProps != nil {
			props = cfg.KindProps(k)
		}
		kinds = append(kinds, cluster.NewKind(k, props))
	}
	clusterConfig := cluster.Configure(cfg.Cluster, provider, disthash.New(),
		remote.Configure(cfg.Host, cfg.Port),
		cluster.WithKinds(kinds...),
		cluster.WithHeartbeatExpiration(cfg.HeartbeatExpiration))
	clusterConfig.GossipInterval = cfg.GossipInterval
	n.cluster = cluster.New(system, clusterConfig)

	if err := startMember(n.cluster); err != nil {
		return nil, err
	}
	if p, ok := provider.(*k8s.Provider); ok {
		// Go's k8s provider labels a random id, not the system id.
		n.memberID = k8sMemberID(p)
	}
	return n, nil
}

// etcdPreflight fails fast when etcd does not answer: Go's etcd provider
// reads the member list with context.TODO() in StartMember, so with etcd down
// StartMember would block forever instead of failing.
func etcdPreflight(config clientv3.Config) error {
	client, err := clientv3.New(config)
	if err != nil {
		return &StartError{"etcd client", err}
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), etcdPreflightTimeout)
	defer cancel()
	if _, err := client.Get(ctx, "/", clientv3.WithCountOnly()); err != nil {
		return &StartError{"etcd preflight", err}
	}
	return nil
}

// startMember turns StartMember's panics (listen failure, provider error) into
// an error so the harness exits with a message instead of a stack trace.
func startMember(c *cluster.Cluster) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &StartError{"cluster member", fmt.Errorf("%v", r)}
		}
	}()
	c.StartMember()
	return nil
}

// newAutomanaged builds Go's automanaged provider around an echo server that
// WE create, through the provider's own NewWithTesting hook, for two reasons:
// Go's default server binds 0.0.0.0 (the harness must stay on loopback) and
// prints "http server started on …" to stdout (the harness's stdout carries
// only the READY line). The /_health body is built with Go's automanaged.NewNode
// exactly as the provider's own handler does (kinds captured once, like Go).
func (n *Node) newAutomanaged(logOut io.Writer) (*automanaged.AutoManagedProvider, error) {
	lis, err := net.Listen("tcp", net.JoinHostPort(n.cfg.Host, strconv.Itoa(n.cfg.AutomanagedPort)))
	if err != nil {
		return nil, &StartError{"automanaged listener", err}
	}
	amPort := lis.Addr().(*net.TCPAddr).Port
	hosts := n.cfg.AutomanagedHosts
	if len(hosts) == 0 {
		hosts = []string{net.JoinHostPort(n.cfg.Host, strconv.Itoa(amPort))}
	}

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.Logger.SetOutput(logOut)
	e.Listener = lis
	var kindsOnce sync.Once
	var kinds []string
	e.GET("/_health", func(ctx echo.Context) error {
		kindsOnce.Do(func() { kinds = n.cluster.GetClusterKinds() })
		host, port, err := n.system.GetHostPort()
		if err != nil {
			return ctx.JSON(http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		}
		return ctx.JSON(http.StatusOK, automanaged.NewNode(n.cfg.Cluster, n.system.ID, host, port, amPort, kinds))
	})
	return automanaged.NewWithTesting(n.cfg.AutomanagedRefresh, amPort, e, hosts...), nil
}

// Cluster is the member's protoactor-go cluster (cmd/grainhost calls grains
// through it).
func (n *Node) Cluster() *cluster.Cluster { return n.cluster }

// Ready returns the READY line payload for an HTTP API listening on httpAddr.
func (n *Node) Ready(httpAddr string) ReadyInfo {
	return ReadyInfo{
		ID:           n.system.ID,
		MemberID:     n.memberID,
		Address:      n.system.Address(),
		HTTP:         httpAddr,
		ProtoactorGo: ProtoactorVersion(),
	}
}

// Snapshot reads the member's view of the cluster through protoactor-go's
// exported APIs.
func (n *Node) Snapshot(ctx context.Context) (Snapshot, error) {
	c := n.cluster
	set := c.MemberList.Members()
	var members []MemberView
	for _, m := range set.Members() {
		members = append(members, MemberView{ID: m.Id, Host: m.Host, Port: m.Port, Kinds: append([]string(nil), m.Kinds...)})
	}
	blocked := c.Remote.BlockList().BlockedMembers().ToSlice()

	state := make(map[string]map[string]GossipEntry)
	for _, key := range n.keys.Keys() {
		if err := ctx.Err(); err != nil {
			return Snapshot{}, err
		}
		values, err := c.Gossip.GetState(key)
		if err != nil {
			return Snapshot{}, fmt.Errorf("gossip GetState(%q): %w", key, err)
		}
		owners := make(map[string]GossipEntry, len(values))
		for owner, kv := range values {
			owners[owner] = GossipEntry{Seq: kv.SequenceNumber, LocalTimestampMs: kv.LocalTimestampUnixMilliseconds}
		}
		state[key] = owners
	}

	cctx, cancel := context.WithTimeout(ctx, consensusTimeout)
	hash, reached := c.MemberList.TopologyConsensus(cctx)
	cancel()

	return Snapshot{
		ID:               n.system.ID,
		MemberID:         n.memberID,
		Address:          n.system.Address(),
		Members:          members,
		TopologyHash:     set.TopologyHash(),
		Blocked:          blocked,
		State:            state,
		HeartbeatKey:     cluster.HeartbeatKey,
		NowMs:            time.Now().UnixMilli(),
		ConsensusReached: reached,
		ConsensusHash:    hash,
	}, nil
}

// View is BuildView(Snapshot(ctx)).
func (n *Node) View(ctx context.Context) (View, error) {
	s, err := n.Snapshot(ctx)
	if err != nil {
		return View{}, err
	}
	return BuildView(s), nil
}

// SetKey sets gossip key to wrapperspb.StringValue{Value: value} with the
// Gossiper's synchronous SetStateRequest, adds key to the reported keys and
// returns the sequence number the gossip actor gave this node's entry.
func (n *Node) SetKey(key, value string) (int64, error) {
	if err := n.cluster.Gossip.SetStateRequest(key, &wrapperspb.StringValue{Value: value}); err != nil {
		return 0, fmt.Errorf("gossip SetStateRequest(%q): %w", key, err)
	}
	n.keys.Add(key)
	values, err := n.cluster.Gossip.GetState(key)
	if err != nil {
		return 0, fmt.Errorf("gossip GetState(%q): %w", key, err)
	}
	own, ok := values[n.system.ID]
	if !ok {
		return 0, fmt.Errorf("gossip GetState(%q): no entry for own id %s after set", key, n.system.ID)
	}
	return own.SequenceNumber, nil
}

// Shutdown runs cluster.Shutdown(graceful) once; later calls do nothing.
func (n *Node) Shutdown(graceful bool) {
	n.shutdownOnce.Do(func() { n.cluster.Shutdown(graceful) })
}
