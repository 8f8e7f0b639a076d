//! The mixed-cluster soak (issue 6 h): three Go harness processes and three
//! `protogossip node` processes under random restarts for ten minutes.
//! Not part of CI (`#[ignore]`); run it with `scripts/soak.sh [SECS]` or
//! `cargo test --test interop_soak -- --ignored --nocapture`.
//!
//! Why: the scenario tests (tests/interop_mixed.rs) prove each failure kind
//! once; a long run with hundreds of joins and leaves shows what they cannot:
//! that reconvergence stays bounded after many generations of ids, that
//! blocked ids and departed owners' state do not make a long-lived node's
//! memory grow, and that no process panics on the way.
//!
//! Setup, as in interop_mixed.rs: every node uses the automanaged provider
//! with all six `/_health` addresses, polled every 400 ms, and a heartbeat
//! expiration of 4 s. Each node owns a fixed slot (its automanaged port,
//! and for Rust its remoting port); a restart reuses the slot's ports and,
//! as in production, comes back under a new id.
//!
//! Churn: slot `rust0` is the anchor and is never restarted, so its RSS over
//! the run shows whether memory grows with churn. Every 2–5 s a seeded RNG
//! (`PROTOGOSSIP_SOAK_SEED`, else the clock; printed) picks one of the other
//! five slots and stops it gracefully (Rust: SIGTERM; Go: `/shutdown?graceful=true`)
//! or with SIGKILL, waits until the five survivors reconverge, restarts the
//! slot and waits until all six reconverge. At most one node is down at a
//! time (a second concurrent failure is a different test: the partition one).
//!
//! Asserted, every wait bounded by [`CONVERGE_DEADLINE`]:
//! - after each stop and each restart, every live node lists exactly the
//!   live ids, reports the topology hash of those ids, and every Rust node
//!   reports consensus on it (so the stopped node's old id is a member
//!   nowhere);
//! - a graceful SIGTERM makes `protogossip node` exit 0, a graceful Go
//!   shutdown makes the harness exit 0;
//! - no Rust process's stderr (kept under `<target>/soak-logs/<run>/`)
//!   contains "panicked";
//! - memory (a leak detector, not a benchmark): the anchor's RSS at the end
//!   is below 2 × its RSS after the 30 s warm-up + 16 MiB, and no Rust
//!   process is ever sampled (every 10 s) above 256 MiB.
//!
//! Retention (issue 15 item 6): run with a short block-list retention, e.g.
//! `PROTOGOSSIP_BLOCK_RETENTION_SECS=60` (the Rust children inherit it), to
//! watch the anchor's block list; `PROTOGOSSIP_SOAK_GO=0` runs six Rust
//! nodes instead (Go peers keep and relay every departed owner's state; we
//! ignore it for forgotten ids, Q-M23, so the block list levels off:
//! docs/interop.md).
//! Every [`TABLE_EVERY`] the run prints a row (time, events, the anchor's
//! blocked ids, gossip state owners and RSS) for docs/interop.md.
//!
//! Any failure prints the seed and every live node's view. The run ends
//! with a summary block (events, reconvergence times, RSS, processes
//! started) meant to be pasted into docs/interop.md.

#[path = "support/go_build.rs"]
mod go_build;
#[path = "support/go_harness.rs"]
mod go_harness;
#[path = "support/mixed.rs"]
mod mixed;
#[path = "support/net.rs"]
mod net;

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    path::PathBuf,
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use go_harness::GoNode;
use mixed::{
    RustProc, expected_hash, go_automanaged_args, members, rss_kib, rust_automanaged_args,
    rust_consensus_on, topology_hash,
};
use net::free_port;
use rand_core::{Rng, SeedableRng};
use rand_xorshift::XorShiftRng;
use serde_json::Value;

const CLUSTER: &str = "soak";
const REFRESH: Duration = Duration::from_millis(400);
const HEARTBEAT_EXPIRATION: Duration = Duration::from_secs(4);
/// Bound on every reconvergence wait. Generous: the machine has two cores
/// shared with other test runs, and a Go start alone sleeps 1 s.
const CONVERGE_DEADLINE: Duration = Duration::from_secs(45);
/// How long a stopped process may take to exit (Go's graceful shutdown
/// sleeps 2 s before closing its transport).
const EXIT_DEADLINE: Duration = Duration::from_secs(20);
const SAMPLE_EVERY: Duration = Duration::from_secs(10);
const WARM_UP: Duration = Duration::from_secs(30);
/// How often a table row of the anchor's block list, owners and RSS is taken.
const TABLE_EVERY: Duration = Duration::from_secs(60);
/// No Rust process may ever be sampled above this.
const RSS_CEILING_KIB: u64 = 256 * 1024;
/// The anchor's end RSS must stay below 2 × post-warm-up + this.
const RSS_SLACK_KIB: u64 = 16 * 1024;

enum Live {
    Go(GoNode),
    Rust(RustProc),
}

struct Slot {
    name: String,
    go: bool,
    health_port: u16,
    /// Remoting port (Rust slots only; Go's harness picks its own).
    port: u16,
    live: Option<Live>,
    /// Id of the current (or last) process.
    id: String,
    starts: usize,
}

impl Slot {
    async fn view(&self) -> Option<Result<Value, String>> {
        match self.live.as_ref()? {
            Live::Go(g) => Some(g.view().await),
            Live::Rust(r) => Some(r.status().await),
        }
    }
}

/// Reconvergence times per event kind.
#[derive(Default)]
struct Times(BTreeMap<&'static str, Vec<Duration>>);

impl Times {
    fn add(&mut self, kind: &'static str, d: Duration) {
        self.0.entry(kind).or_default().push(d);
    }

    fn report(&self) -> String {
        let mut out = String::new();
        for (kind, ts) in &self.0 {
            let mut ts = ts.clone();
            ts.sort();
            let ms = |d: Duration| d.as_millis();
            let _ = writeln!(
                out,
                "  {kind:<16} n={:<3} min {:>5} ms  median {:>5} ms  max {:>5} ms",
                ts.len(),
                ms(ts[0]),
                ms(ts[ts.len() / 2]),
                ms(ts[ts.len() - 1]),
            );
        }
        out
    }
}

#[derive(Default)]
struct Rss {
    /// (seconds since start, KiB) of the anchor.
    anchor: Vec<(u64, u64)>,
    /// The largest sample of any Rust process: (KiB, slot).
    max_any: (u64, String),
}

struct Soak {
    slots: Vec<Slot>,
    host_list: String,
    seed: u64,
    log_dir: PathBuf,
    /// Live Rust pids by slot name, for the RSS sampler.
    pids: Arc<Mutex<BTreeMap<String, u32>>>,
    started: Instant,
}

impl Soak {
    fn live_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .slots
            .iter()
            .filter(|s| s.live.is_some())
            .map(|s| s.id.clone())
            .collect();
        ids.sort();
        ids
    }

    async fn dump(&self) -> String {
        let mut out = format!("seed {} (PROTOGOSSIP_SOAK_SEED to repeat)\n", self.seed);
        for s in &self.slots {
            let Some(v) = s.view().await else {
                let _ = writeln!(out, "--- {} (down; last id {})", s.name, s.id);
                continue;
            };
            let v = match v {
                Ok(v) => serde_json::to_string_pretty(&v).unwrap(),
                Err(e) => format!("error: {e}"),
            };
            let _ = writeln!(out, "--- {} ({}):\n{v}", s.name, s.id);
            if let Some(Live::Go(g)) = &s.live {
                let _ = writeln!(out, "stderr tail:\n{}", g.log_tail());
            }
        }
        let panics = self.panics();
        if !panics.is_empty() {
            let _ = writeln!(out, "PANICS in Rust logs:\n{}", panics.join("\n"));
        }
        out
    }

    async fn fail(&self, what: &str) -> ! {
        panic!(
            "soak failed after {:?}: {what}\n{}",
            self.started.elapsed(),
            self.dump().await
        );
    }

    /// Lines containing "panicked" in any Rust process's log.
    fn panics(&self) -> Vec<String> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(&self.log_dir)
            .into_iter()
            .flatten()
            .flatten()
        {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            for l in text.lines().filter(|l| l.contains("panicked")) {
                out.push(format!("{}: {l}", e.path().display()));
            }
        }
        out
    }

    /// Polls every live node until all list exactly the live ids with their
    /// hash (and our nodes report consensus on it); the time it took.
    async fn wait_converged(&self, what: &str, since: Instant) -> Duration {
        let ids = self.live_ids();
        let hash = expected_hash(&ids);
        loop {
            let mut ok = true;
            for s in &self.slots {
                if let Some(v) = s.view().await {
                    ok &= v.is_ok_and(|v| {
                        members(s.go, &v) == ids
                            && topology_hash(s.go, &v) == hash
                            && (s.go || rust_consensus_on(&v, &hash))
                    });
                    if !ok {
                        break;
                    }
                }
            }
            if ok {
                return since.elapsed();
            }
            if since.elapsed() > CONVERGE_DEADLINE {
                self.fail(&format!(
                    "{what}: no reconvergence on {ids:?} within {CONVERGE_DEADLINE:?}"
                ))
                .await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// One table row: time, events so far, and the anchor's blocked ids,
    /// gossip state owners and RSS.
    async fn anchor_row(&self, events: usize) -> String {
        let anchor = &self.slots[3];
        let (blocked, owners) = match anchor.view().await {
            Some(Ok(v)) => (
                mixed::blocked(false, &v).len().to_string(),
                v["gossip_owners"].as_u64().unwrap_or(0).to_string(),
            ),
            _ => ("?".into(), "?".into()),
        };
        let rss = self
            .pids
            .lock()
            .unwrap()
            .get("rust0")
            .and_then(|p| rss_kib(*p));
        format!(
            "  {:>4} s  {events:>6}  {blocked:>18}  {owners:>20}  {}",
            self.started.elapsed().as_secs(),
            rss.map_or_else(|| "?".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0)),
        )
    }

    async fn start_slot(&mut self, i: usize) {
        let host_list = self.host_list.clone();
        let s = &mut self.slots[i];
        s.starts += 1;
        if s.go {
            let args = go_automanaged_args(
                CLUSTER,
                s.health_port,
                &host_list,
                REFRESH,
                HEARTBEAT_EXPIRATION,
            );
            let g = GoNode::start(&args).await;
            s.id = g.id.clone();
            s.live = Some(Live::Go(g));
        } else {
            let args = rust_automanaged_args(
                CLUSTER,
                (s.health_port, s.port),
                &host_list,
                REFRESH,
                HEARTBEAT_EXPIRATION,
            );
            let log = self.log_dir.join(format!("{}-{}.log", s.name, s.starts));
            let file = std::fs::File::create(&log).unwrap();
            let http = format!("127.0.0.1:{}", free_port());
            let r = RustProc::start(http, &args, Stdio::from(file)).await;
            s.id = r.id.clone();
            self.pids
                .lock()
                .unwrap()
                .insert(s.name.clone(), r.proc.pid());
            s.live = Some(Live::Rust(r));
        }
    }

    /// Stops slot `i` (gracefully or by SIGKILL); returns a task that
    /// resolves to the graceful exit's outcome (`Ok` or what went wrong).
    async fn stop_slot(
        &mut self,
        i: usize,
        graceful: bool,
    ) -> tokio::task::JoinHandle<Result<(), String>> {
        let s = &mut self.slots[i];
        self.pids.lock().unwrap().remove(&s.name);
        let name = s.name.clone();
        match s.live.take().unwrap() {
            Live::Go(mut g) => {
                if graceful {
                    g.shutdown(true).await;
                    tokio::spawn(async move {
                        match g.wait_exit(EXIT_DEADLINE).await {
                            Some(true) => Ok(()),
                            other => Err(format!(
                                "{name}: Go graceful exit {other:?}\n{}",
                                g.log_tail()
                            )),
                        }
                    })
                } else {
                    g.kill().await;
                    tokio::spawn(async { Ok(()) })
                }
            }
            Live::Rust(mut r) => {
                if graceful {
                    r.proc.terminate();
                    tokio::task::spawn_blocking(move || match r.proc.wait_exit(EXIT_DEADLINE) {
                        Some(0) => Ok(()),
                        other => Err(format!("{name}: SIGTERM exit code {other:?}")),
                    })
                } else {
                    drop(r); // SIGKILL and reap
                    tokio::spawn(async { Ok(()) })
                }
            }
        }
    }
}

/// Samples the RSS of every live Rust process every [`SAMPLE_EVERY`].
async fn sample_rss(pids: Arc<Mutex<BTreeMap<String, u32>>>, rss: Arc<Mutex<Rss>>, t0: Instant) {
    loop {
        let now: Vec<(String, u32)> = pids
            .lock()
            .unwrap()
            .iter()
            .map(|(n, p)| (n.clone(), *p))
            .collect();
        {
            let mut r = rss.lock().unwrap();
            for (name, pid) in now {
                let Some(kib) = rss_kib(pid) else { continue };
                if name == "rust0" {
                    r.anchor.push((t0.elapsed().as_secs(), kib));
                }
                if kib > r.max_any.0 {
                    r.max_any = (kib, name);
                }
            }
        }
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a 10-minute soak; run with scripts/soak.sh"]
async fn mixed_cluster_survives_random_restarts() {
    let duration = Duration::from_secs(env_u64("PROTOGOSSIP_SOAK_SECS").unwrap_or(600));
    let seed = env_u64("PROTOGOSSIP_SOAK_SEED").unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    });
    let mut rng = XorShiftRng::seed_from_u64(seed);
    let run_start = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let log_dir = target.join("soak-logs").join(run_start.to_string());
    std::fs::create_dir_all(&log_dir).unwrap();
    eprintln!(
        "soak: {duration:?}, seed {seed}, Rust logs in {}",
        log_dir.display()
    );

    // PROTOGOSSIP_SOAK_GO=0: six Rust nodes (what our own retention does
    // without Go peers relaying every departed owner's state forever).
    let names = if env_u64("PROTOGOSSIP_SOAK_GO") == Some(0) {
        ["rust3", "rust4", "rust5", "rust0", "rust1", "rust2"]
    } else {
        ["go0", "go1", "go2", "rust0", "rust1", "rust2"]
    };
    let slots: Vec<Slot> = names
        .iter()
        .map(|n| Slot {
            name: (*n).to_owned(),
            go: n.starts_with("go"),
            health_port: free_port(),
            port: free_port(),
            live: None,
            id: String::new(),
            starts: 0,
        })
        .collect();
    let host_list = slots
        .iter()
        .map(|s| format!("127.0.0.1:{}", s.health_port))
        .collect::<Vec<_>>()
        .join(",");
    let started = Instant::now();
    let mut soak = Soak {
        slots,
        host_list,
        seed,
        log_dir,
        pids: Arc::default(),
        started,
    };
    for i in 0..names.len() {
        soak.start_slot(i).await;
    }
    let formed = soak.wait_converged("initial cluster", started).await;
    eprintln!("soak: 3 Go + 3 Rust converged {formed:?} after the start");

    let rss = Arc::new(Mutex::new(Rss::default()));
    let sampler = tokio::spawn(sample_rss(
        Arc::clone(&soak.pids),
        Arc::clone(&rss),
        started,
    ));

    let mut times = Times::default();
    let mut events = 0usize;
    let mut table =
        String::from("  time    events  anchor blocked ids  anchor gossip owners  anchor RSS\n");
    let mut next_row = Duration::ZERO;
    while started.elapsed() < duration {
        if started.elapsed() >= next_row {
            next_row += TABLE_EVERY;
            let row = soak.anchor_row(events).await;
            eprintln!("table: {row}");
            table.push_str(&row);
            table.push('\n');
        }
        tokio::time::sleep(Duration::from_millis(2_000 + rng.next_u64() % 3_000)).await;
        // Any slot but the anchor (index 3).
        let i = [0, 1, 2, 4, 5][(rng.next_u64() % 5) as usize];
        let graceful = rng.next_u64() % 2 == 0;
        let lang = if soak.slots[i].go { "go" } else { "rust" };
        let kind: &'static str = match (graceful, lang) {
            (true, "go") => "go graceful",
            (false, "go") => "go kill",
            (true, _) => "rust graceful",
            (false, _) => "rust kill",
        };
        let old_id = soak.slots[i].id.clone();
        let at = Instant::now();
        let exit = soak.stop_slot(i, graceful).await;
        let what = format!(
            "event {events}: {kind} of {} ({old_id})",
            soak.slots[i].name
        );
        let t = soak.wait_converged(&what, at).await;
        times.add(kind, t);
        if let Err(e) = exit.await.unwrap() {
            soak.fail(&e).await;
        }
        let at = Instant::now();
        soak.start_slot(i).await;
        let what = format!(
            "event {events}: {} restart ({old_id} -> {})",
            soak.slots[i].name, soak.slots[i].id
        );
        let t = soak.wait_converged(&what, at).await;
        times.add(if lang == "go" { "go join" } else { "rust join" }, t);
        events += 1;
        eprintln!(
            "[{:>4}s] {what}: {kind} {} ms, join {} ms",
            started.elapsed().as_secs(),
            times.0[kind].last().unwrap().as_millis(),
            t.as_millis()
        );
        let panics = soak.panics();
        if !panics.is_empty() {
            soak.fail("a Rust process panicked").await;
        }
    }

    // The end: last RSS sample, then the anchor leaves gracefully too.
    sampler.abort();
    let anchor_pid = soak.pids.lock().unwrap()["rust0"];
    let end_kib = rss_kib(anchor_pid).expect("the anchor's RSS");
    let total = started.elapsed();
    // What the anchor keeps about departed members (informational: both
    // grow with churn, by design — blocked ids are never forgotten).
    let anchor_view = match soak.slots[3].view().await {
        Some(Ok(v)) => v,
        other => soak.fail(&format!("the anchor's status: {other:?}")).await,
    };
    let anchor_blocked = mixed::blocked(false, &anchor_view).len();
    let anchor_owners = anchor_view["gossip_owners"].as_u64().unwrap_or(0);
    let _ = writeln!(table, "{}", soak.anchor_row(events).await);
    let exit = soak.stop_slot(3, true).await;
    if let Err(e) = exit.await.unwrap() {
        soak.fail(&e).await;
    }
    let panics = soak.panics();
    if !panics.is_empty() {
        soak.fail("a Rust process panicked").await;
    }

    let r = rss.lock().unwrap();
    let warm = r
        .anchor
        .iter()
        .find(|(t, _)| *t >= WARM_UP.as_secs())
        .or(r.anchor.last())
        .map(|(_, k)| *k)
        .expect("no anchor RSS sample");
    let max_anchor = r.anchor.iter().map(|(_, k)| *k).max().unwrap().max(end_kib);
    let mib = |k: u64| format!("{:.1} MiB", k as f64 / 1024.0);
    let starts = |go: bool| -> usize {
        soak.slots
            .iter()
            .filter(|s| s.go == go)
            .map(|s| s.starts)
            .sum()
    };
    let summary = format!(
        "---- soak summary ----\n\
         seed {seed}; duration {:.0} s (asked {} s); {events} stop+restart events\n\
         processes started: {} Go, {} Rust\n\
         reconvergence (stop: from the stop to 5 nodes agreeing; join: from the spawn to 6):\n{}\
         anchor rust0 RSS: after warm-up {}, max {}, end {} ({} samples)\n\
         anchor at the end: {anchor_blocked} blocked ids, {anchor_owners} gossip state owners\n\
         largest Rust RSS sample: {} ({})\n\
         block retention: {}\n\
         anchor over time:\n{table}\
         ----------------------",
        total.as_secs_f64(),
        duration.as_secs(),
        starts(true),
        starts(false),
        times.report(),
        mib(warm),
        mib(max_anchor),
        mib(end_kib),
        r.anchor.len(),
        mib(r.max_any.0),
        r.max_any.1,
        std::env::var("PROTOGOSSIP_BLOCK_RETENTION_SECS")
            .map_or_else(|_| "default (3600 s)".to_owned(), |s| format!("{s} s")),
    );
    eprintln!("{summary}");
    assert!(
        end_kib < 2 * warm + RSS_SLACK_KIB,
        "the anchor's RSS grew from {} to {} (seed {seed})",
        mib(warm),
        mib(end_kib)
    );
    assert!(
        r.max_any.0 < RSS_CEILING_KIB,
        "{} reached {} (seed {seed})",
        r.max_any.1,
        mib(r.max_any.0)
    );
}
