//! Command-line flags, environment variables and the optional config file,
//! merged into a [`NodeConfig`]. A flag beats its environment variable
//! (clap), which beats the config file, which beats the built-in default.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Args, ValueEnum};
use protogossip::{
    node::NodeConfig,
    provider::{ProviderConfig, automanaged::AutomanagedConfig, static_list::StaticConfig},
    wire::{HEARTBEAT_KEY, HEARTBEAT_KEY_2024_03, LEFT_KEY, TOPOLOGY_KEY, WireProfile},
};
use serde::Deserialize;

/// Which provider finds the members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// protoactor-go's automanaged provider (`/_health` polling).
    Automanaged,
    /// protoactor-go's etcd provider.
    Etcd,
    /// Static seeds by `host:port` (member ids are learned).
    Static,
    /// protoactor-go's Kubernetes provider (labels this pod, watches the
    /// cluster's pods).
    K8s,
}

/// Options of `protogossip node` (also the default command).
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeArgs {
    /// A TOML file with any of these options (snake_case keys).
    #[arg(long, env = "PROTOGOSSIP_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Cluster name [default: protogossip].
    #[arg(long, env = "PROTOGOSSIP_CLUSTER")]
    pub cluster: Option<String>,
    /// Advertised host, exactly as peers dial it [default: 127.0.0.1].
    #[arg(long, env = "PROTOGOSSIP_HOST")]
    pub host: Option<String>,
    /// gRPC (remoting) port; 0 picks a free one [default: 0].
    #[arg(long, env = "PROTOGOSSIP_PORT")]
    pub port: Option<u16>,
    /// Cluster kinds this node hosts, comma-separated [default: none].
    #[arg(long, env = "PROTOGOSSIP_KINDS", value_delimiter = ',')]
    pub kinds: Option<Vec<String>>,
    /// Member provider [default: automanaged].
    #[arg(long, env = "PROTOGOSSIP_PROVIDER", value_enum)]
    pub provider: Option<ProviderKind>,
    /// Port of this node's `/_health` (automanaged) [default: 6330].
    #[arg(long, env = "PROTOGOSSIP_AUTOMANAGED_PORT")]
    pub automanaged_port: Option<u16>,
    /// `/_health` endpoints to poll, host:port, comma-separated
    /// [default: this node's own].
    #[arg(long, env = "PROTOGOSSIP_AUTOMANAGED_HOSTS", value_delimiter = ',')]
    pub automanaged_hosts: Option<Vec<String>>,
    /// How often `/_health` endpoints are polled, ms [default: 2000].
    #[arg(long, env = "PROTOGOSSIP_AUTOMANAGED_REFRESH_MS")]
    pub automanaged_refresh_ms: Option<u64>,
    /// Static seeds: other nodes' remoting `host:port`, comma-separated
    /// (this node's own address may be listed; ids are learned).
    #[arg(long, env = "PROTOGOSSIP_SEEDS", value_delimiter = ',')]
    pub seeds: Option<Vec<String>>,
    /// etcd endpoints, host:port, comma-separated [default: 127.0.0.1:2379].
    #[arg(long, env = "PROTOGOSSIP_ETCD_ENDPOINTS", value_delimiter = ',')]
    pub etcd_endpoints: Option<Vec<String>>,
    /// k8s: a kubeconfig file [default: inferred: KUBECONFIG,
    /// ~/.kube/config, else the in-cluster service account].
    #[arg(long, env = "PROTOGOSSIP_K8S_KUBECONFIG")]
    pub k8s_kubeconfig: Option<PathBuf>,
    /// k8s: this pod's namespace [default: the service account's namespace
    /// file, else the kubeconfig's].
    #[arg(long, env = "PROTOGOSSIP_K8S_NAMESPACE")]
    pub k8s_namespace: Option<String>,
    /// k8s: this pod's name [default: the host name, as Go].
    #[arg(long, env = "PROTOGOSSIP_K8S_POD_NAME")]
    pub k8s_pod_name: Option<String>,
    /// `/status` and `/metrics` address, or `off` [default: 127.0.0.1:6331].
    #[arg(long, env = "PROTOGOSSIP_HTTP")]
    pub http: Option<String>,
    /// Wire profile: mixed, go-2024-03 or go-2024-08 [default: mixed].
    #[arg(long, env = "PROTOGOSSIP_PROFILE")]
    pub profile: Option<String>,
    /// Gossip interval, ms [default: 300, as Go].
    #[arg(long, env = "PROTOGOSSIP_GOSSIP_INTERVAL_MS")]
    pub gossip_interval_ms: Option<u64>,
    /// Heartbeat expiration, ms [default: 20000, as Go].
    #[arg(long, env = "PROTOGOSSIP_HEARTBEAT_EXPIRATION_MS")]
    pub heartbeat_expiration_ms: Option<u64>,
    /// How long a blocked id is remembered once the provider no longer
    /// lists it, s; at least the heartbeat expiration [default: 3600].
    #[arg(long, env = "PROTOGOSSIP_BLOCK_RETENTION_SECS")]
    pub block_retention_secs: Option<u64>,
    /// How long a blocked member's gossip entries are kept and relayed, ms
    /// [default: 20000].
    #[arg(long, env = "PROTOGOSSIP_BLOCKED_STATE_RETENTION_MS")]
    pub blocked_state_retention_ms: Option<u64>,
    /// Rejoin under a fresh member id when the cluster excludes this node
    /// (peers blocked it), true or false [default: true].
    #[arg(long, env = "PROTOGOSSIP_REJOIN", value_name = "BOOL")]
    pub rejoin: Option<bool>,
    /// How long an exclusion must last before a rejoin, ms [default: the
    /// heartbeat expiration].
    #[arg(long, env = "PROTOGOSSIP_REJOIN_AFTER_MS")]
    pub rejoin_after_ms: Option<u64>,
    /// The least time between two rejoins, ms (doubling per rejoin, up to
    /// 10 min) [default: 30000].
    #[arg(long, env = "PROTOGOSSIP_REJOIN_MIN_INTERVAL_MS")]
    pub rejoin_min_interval_ms: Option<u64>,
    /// An application key to set at start, `key=value` (repeatable; the
    /// variable holds one pair), gossiped as a `google.protobuf.StringValue`.
    #[arg(long, env = "PROTOGOSSIP_STATE", value_name = "KEY=VALUE")]
    pub state: Option<Vec<String>>,
    /// Runtime threads: 0 runs the node on one thread (tokio's
    /// current-thread runtime), N a multi-threaded runtime with N workers
    /// [default: 0].
    #[arg(long, env = "PROTOGOSSIP_WORKER_THREADS")]
    pub worker_threads: Option<usize>,
}

/// What `protogossip node` runs: the node's configuration and the
/// application keys to set once it has started.
#[derive(Debug, Clone)]
pub struct NodeSettings {
    /// The node, checked with [`NodeConfig::validate`].
    pub config: NodeConfig,
    /// `(key, value)` pairs, in the order given.
    pub state: Vec<(String, String)>,
    /// 0: a current-thread runtime; N: a multi-threaded one with N workers.
    pub worker_threads: usize,
}

/// More runtime workers than this is a typo, not a machine.
const MAX_WORKER_THREADS: usize = 1024;

/// A setting that cannot be used; the message says what to fix.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ArgsError(pub String);

impl NodeArgs {
    /// Fills every unset option from `file`.
    fn or(self, file: NodeArgs) -> NodeArgs {
        NodeArgs {
            config: self.config,
            cluster: self.cluster.or(file.cluster),
            host: self.host.or(file.host),
            port: self.port.or(file.port),
            kinds: self.kinds.or(file.kinds),
            provider: self.provider.or(file.provider),
            automanaged_port: self.automanaged_port.or(file.automanaged_port),
            automanaged_hosts: self.automanaged_hosts.or(file.automanaged_hosts),
            automanaged_refresh_ms: self.automanaged_refresh_ms.or(file.automanaged_refresh_ms),
            seeds: self.seeds.or(file.seeds),
            etcd_endpoints: self.etcd_endpoints.or(file.etcd_endpoints),
            k8s_kubeconfig: self.k8s_kubeconfig.or(file.k8s_kubeconfig),
            k8s_namespace: self.k8s_namespace.or(file.k8s_namespace),
            k8s_pod_name: self.k8s_pod_name.or(file.k8s_pod_name),
            http: self.http.or(file.http),
            profile: self.profile.or(file.profile),
            gossip_interval_ms: self.gossip_interval_ms.or(file.gossip_interval_ms),
            heartbeat_expiration_ms: self
                .heartbeat_expiration_ms
                .or(file.heartbeat_expiration_ms),
            state: self.state.or(file.state),
            block_retention_secs: self.block_retention_secs.or(file.block_retention_secs),
            blocked_state_retention_ms: self
                .blocked_state_retention_ms
                .or(file.blocked_state_retention_ms),
            rejoin: self.rejoin.or(file.rejoin),
            rejoin_after_ms: self.rejoin_after_ms.or(file.rejoin_after_ms),
            rejoin_min_interval_ms: self.rejoin_min_interval_ms.or(file.rejoin_min_interval_ms),
            worker_threads: self.worker_threads.or(file.worker_threads),
        }
    }

    /// Reads the config file (if any) and builds the node's settings; every
    /// setting is checked, so a node that fails to start after this could
    /// not bind or reach something (exit 1), never a bad setting (exit 2).
    pub fn into_settings(self) -> Result<NodeSettings, ArgsError> {
        match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ArgsError(format!("cannot read config file {}: {e}", path.display()))
                })?;
                let source = path.display().to_string();
                self.with_config_text(&text, &source)
            }
            None => self.build(),
        }
    }

    /// Builds the node's configuration from these options and the text of a
    /// config file (`source` names it in errors). The fuzz target
    /// `config_toml` (`fuzz/`) compiles this file and calls this directly.
    pub fn with_config_text(self, text: &str, source: &str) -> Result<NodeSettings, ArgsError> {
        let file: NodeArgs =
            toml::from_str(text).map_err(|e| ArgsError(format!("config file {source}: {e}")))?;
        self.or(file).build()
    }

    fn build(self) -> Result<NodeSettings, ArgsError> {
        let state = self
            .state
            .iter()
            .flatten()
            .map(|s| parse_state(s))
            .collect::<Result<_, _>>()?;
        let mut config = NodeConfig::default();
        if let Some(c) = self.cluster {
            config.cluster_name = c;
        }
        if let Some(h) = self.host {
            config.host = h;
        }
        if let Some(p) = self.port {
            config.port = p;
        }
        if let Some(k) = self.kinds {
            config.kinds = k.into_iter().filter(|k| !k.is_empty()).collect();
        }
        if let Some(p) = self.profile {
            config.gossip.wire_profile = p
                .parse::<WireProfile>()
                .map_err(|e| ArgsError(e.to_string()))?;
        }
        if let Some(ms) = self.gossip_interval_ms {
            config.gossip.gossip_interval = Duration::from_millis(ms);
        }
        if let Some(ms) = self.heartbeat_expiration_ms {
            config.gossip.heartbeat_expiration = Duration::from_millis(ms);
        }
        if let Some(secs) = self.block_retention_secs {
            config.gossip.block_retention = Duration::from_secs(secs);
        }
        if let Some(ms) = self.blocked_state_retention_ms {
            config.gossip.blocked_state_retention = Duration::from_millis(ms);
        }
        if let Some(on) = self.rejoin {
            config.rejoin.enabled = on;
        }
        if let Some(ms) = self.rejoin_after_ms {
            config.rejoin.excluded_after = Some(Duration::from_millis(ms));
        }
        if let Some(ms) = self.rejoin_min_interval_ms {
            config.rejoin.min_interval = Duration::from_millis(ms);
            config.rejoin.max_interval = config.rejoin.max_interval.max(config.rejoin.min_interval);
        }
        // The CLI's documented default; the library's default serves nothing.
        config.http = match self.http.as_deref() {
            None => Some(SocketAddr::from(([127, 0, 0, 1], 6331))),
            Some("off") => None,
            Some(a) => Some(a.parse::<SocketAddr>().map_err(|_| {
                ArgsError(format!(
                    "--http {a:?} is not ip:port (or `off`); e.g. 127.0.0.1:6331"
                ))
            })?),
        };
        config.provider = match self.provider.unwrap_or(ProviderKind::Automanaged) {
            ProviderKind::Automanaged => {
                let port = self.automanaged_port.unwrap_or(6330);
                let mut am = AutomanagedConfig::default().with_port(port).with_hosts(
                    self.automanaged_hosts
                        .unwrap_or_else(|| vec![format!("{}:{port}", config.host)]),
                );
                if let Some(ms) = self.automanaged_refresh_ms {
                    am.refresh = Duration::from_millis(ms);
                }
                ProviderConfig::Automanaged(am)
            }
            #[cfg(feature = "etcd")]
            ProviderKind::Etcd => {
                use protogossip::provider::etcd::EtcdConfig;
                ProviderConfig::Etcd(
                    EtcdConfig::default().with_endpoints(
                        self.etcd_endpoints
                            .unwrap_or_else(|| EtcdConfig::default().endpoints),
                    ),
                )
            }
            #[cfg(not(feature = "etcd"))]
            ProviderKind::Etcd => {
                return Err(ArgsError(
                    "this binary was built without etcd support: rebuild with `--features etcd`"
                        .into(),
                ));
            }
            #[cfg(feature = "k8s")]
            ProviderKind::K8s => {
                use protogossip::provider::k8s::K8sConfig;
                ProviderConfig::K8s(
                    K8sConfig::default()
                        .with_kubeconfig(self.k8s_kubeconfig)
                        .with_namespace(self.k8s_namespace)
                        .with_pod_name(self.k8s_pod_name),
                )
            }
            #[cfg(not(feature = "k8s"))]
            ProviderKind::K8s => {
                return Err(ArgsError(
                    "this binary was built without Kubernetes support: rebuild with `--features k8s`"
                        .into(),
                ));
            }
            ProviderKind::Static => ProviderConfig::Static(StaticConfig::seeds(
                self.seeds
                    .unwrap_or_default()
                    .iter()
                    .map(|s| parse_seed(s))
                    .collect::<Result<Vec<_>, _>>()?,
            )),
        };
        config.validate().map_err(|e| ArgsError(e.to_string()))?;
        let worker_threads = self.worker_threads.unwrap_or(0);
        if worker_threads > MAX_WORKER_THREADS {
            return Err(ArgsError(format!(
                "--worker-threads {worker_threads}: at most {MAX_WORKER_THREADS} (0 runs the node on one thread)"
            )));
        }
        Ok(NodeSettings {
            config,
            state,
            worker_threads,
        })
    }
}

/// Parses `key=value` (the value may be empty or hold `=`); the keys the
/// protocol itself writes are refused.
fn parse_state(pair: &str) -> Result<(String, String), ArgsError> {
    let (key, value) = pair
        .split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| ArgsError(format!("--state {pair:?} is not key=value")))?;
    if [TOPOLOGY_KEY, HEARTBEAT_KEY, HEARTBEAT_KEY_2024_03, LEFT_KEY].contains(&key) {
        return Err(ArgsError(format!(
            "--state {key:?}: the cluster protocol writes that key itself; choose another"
        )));
    }
    Ok((key.to_owned(), value.to_owned()))
}

/// Checks one `host:port` seed. `id@host:port` (the old form) is refused:
/// a node takes a fresh id on every start, so an id in configuration is
/// wrong after the seed's first restart.
fn parse_seed(seed: &str) -> Result<String, ArgsError> {
    if seed.contains('@') {
        return Err(ArgsError(format!(
            "seed {seed:?}: give host:port only; member ids change on every start and are learned from the seed"
        )));
    }
    let ok = seed
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0));
    if ok {
        Ok(seed.to_owned())
    } else {
        Err(ArgsError(format!("seed {seed:?} is not host:port")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_one_automanaged_node_on_loopback() {
        let c = NodeArgs::default().into_settings().unwrap().config;
        assert_eq!(c.host, "127.0.0.1");
        assert_eq!(c.http, Some("127.0.0.1:6331".parse().unwrap()));
        match c.provider {
            ProviderConfig::Automanaged(a) => {
                assert_eq!(a.port, 6330);
                assert_eq!(a.hosts, ["127.0.0.1:6330"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn flags_beat_the_config_file() {
        let dir = std::env::temp_dir().join(format!("pg-args-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("node.toml");
        std::fs::write(
            &file,
            "cluster = \"from-file\"\nport = 9100\nprofile = \"go-2024-03\"\nhttp = \"off\"\n",
        )
        .unwrap();
        let args = NodeArgs {
            config: Some(file),
            cluster: Some("from-flag".into()),
            ..Default::default()
        };
        let c = args.into_settings().unwrap().config;
        assert_eq!(c.cluster_name, "from-flag");
        assert_eq!(c.port, 9100);
        assert_eq!(c.gossip.wire_profile, WireProfile::Go2024_03);
        assert_eq!(c.http, None);
    }

    #[test]
    fn bad_settings_say_what_to_fix() {
        let e = NodeArgs {
            http: Some("6331".into()),
            ..Default::default()
        }
        .into_settings()
        .unwrap_err();
        assert!(e.0.contains("not ip:port"), "{e}");
        let e = NodeArgs {
            profile: Some("go-2030".into()),
            ..Default::default()
        }
        .into_settings()
        .unwrap_err();
        assert!(e.0.contains("go-2024-03"), "{e}");
        let e = NodeArgs {
            provider: Some(ProviderKind::Static),
            seeds: Some(vec!["nohost".into()]),
            ..Default::default()
        }
        .into_settings()
        .unwrap_err();
        assert!(e.0.contains("host:port"), "{e}");
        let dir = std::env::temp_dir().join(format!("pg-args-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bad.toml");
        std::fs::write(&file, "clustr = \"typo\"\n").unwrap();
        let e = NodeArgs {
            config: Some(file),
            ..Default::default()
        }
        .into_settings()
        .unwrap_err();
        assert!(e.0.contains("clustr"), "{e}");
    }

    #[test]
    fn worker_threads_default_to_one_thread_and_come_from_the_file_too() {
        assert_eq!(
            NodeArgs::default().into_settings().unwrap().worker_threads,
            0
        );
        let s = NodeArgs::default()
            .with_config_text("worker_threads = 4\n", "node.toml")
            .unwrap();
        assert_eq!(s.worker_threads, 4);
        let e = NodeArgs {
            worker_threads: Some(5000),
            ..Default::default()
        }
        .into_settings()
        .unwrap_err();
        assert!(e.0.contains("at most 1024"), "{e}");
    }

    #[test]
    fn retention_settings_reach_the_gossip_config() {
        let c = NodeArgs {
            block_retention_secs: Some(600),
            blocked_state_retention_ms: Some(5_000),
            ..Default::default()
        }
        .into_settings()
        .unwrap()
        .config;
        assert_eq!(c.gossip.block_retention, Duration::from_secs(600));
        assert_eq!(c.gossip.blocked_state_retention, Duration::from_secs(5));
        let file: NodeArgs = toml::from_str("block_retention_secs = 120\n").unwrap();
        assert_eq!(file.block_retention_secs, Some(120));
    }

    #[test]
    fn rejoin_settings_from_flags_and_file() {
        let c = NodeArgs::default().into_settings().unwrap().config;
        assert!(c.rejoin.enabled, "on by default");
        let c = NodeArgs {
            rejoin_after_ms: Some(2_000),
            rejoin_min_interval_ms: Some(5_000),
            ..Default::default()
        }
        .with_config_text("rejoin = false\n", "test.toml")
        .unwrap()
        .config;
        assert!(!c.rejoin.enabled);
        assert_eq!(c.rejoin.excluded_after, Some(Duration::from_secs(2)));
        assert_eq!(c.rejoin.min_interval, Duration::from_secs(5));
        let c = NodeArgs {
            rejoin_min_interval_ms: Some(3_600_000),
            ..Default::default()
        }
        .into_settings()
        .unwrap()
        .config;
        assert_eq!(c.rejoin.max_interval, Duration::from_secs(3600));
    }

    #[test]
    fn state_pairs_come_from_the_config_file_too() {
        let dir = std::env::temp_dir().join(format!("pg-args-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("node.toml");
        std::fs::write(&file, "state = [\"role=api\", \"zone=eu\"]\n").unwrap();
        let args = NodeArgs {
            config: Some(file),
            ..Default::default()
        };
        let pairs: Vec<(String, String)> = args.into_settings().unwrap().state;
        assert_eq!(
            pairs,
            [("role".into(), "api".into()), ("zone".into(), "eu".into())]
        );
    }

    #[test]
    fn state_pairs_parse_and_protocol_keys_are_refused() {
        let args = NodeArgs {
            state: Some(vec!["role=api".into(), "expr=a=b".into(), "empty=".into()]),
            ..Default::default()
        };
        assert_eq!(
            args.into_settings().unwrap().state,
            [("role", "api"), ("expr", "a=b"), ("empty", "")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        for (pair, says) in [
            ("novalue", "not key=value"),
            ("=v", "not key=value"),
            ("heartbeat=1", "protocol writes"),
            ("left=x", "protocol writes"),
        ] {
            let e = NodeArgs {
                state: Some(vec![pair.into()]),
                ..Default::default()
            }
            .into_settings()
            .unwrap_err();
            assert!(e.0.contains(says), "{pair}: {e}");
        }
    }

    #[test]
    fn seeds_are_host_port() {
        assert_eq!(parse_seed("10.0.0.1:8090").unwrap(), "10.0.0.1:8090");
        let e = parse_seed("abc@10.0.0.1:8090").unwrap_err();
        assert!(e.0.contains("learned"), "{e}");
        for bad in ["10.0.0.1", ":8090", "h:0", "h:port"] {
            assert!(parse_seed(bad).is_err(), "{bad}");
        }
        let c = NodeArgs {
            provider: Some(ProviderKind::Static),
            seeds: Some(vec!["127.0.0.1:7001".into(), "127.0.0.1:7002".into()]),
            ..Default::default()
        }
        .into_settings()
        .unwrap()
        .config;
        assert_eq!(
            c.provider,
            ProviderConfig::Static(StaticConfig::seeds(["127.0.0.1:7001", "127.0.0.1:7002"]))
        );
    }
}
