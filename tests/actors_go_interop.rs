//! Hosted Rust actors against real protoactor-go actors (issue 11, item 7).
//!
//! The Go side is `go-interop/cmd/actorpeer`: plain protoactor-go code
//! (`system.Root.Send`, `RequestFuture`, `ctx.Request`, `ctx.Watch`,
//! `ctx.Respond`) driven over stdin, reporting what its actors saw as JSON
//! lines. The messages are an application's own protobuf types
//! (`interop.Ping`/`Pong`/`Note`, go-interop/proto/interop/echo.proto; the
//! Rust side is examples/echo_actor/interop.rs).
//!
//! `go_and_rust_actors_both_ways` runs one Go process and one in-process
//! Rust remote through a script of phases ([`SCRIPT`], each logged with the
//! time since the start), ending with a kill -9 of the Go process.
//! `echo_example_answers_go_and_its_end_reaches_go_watchers` runs the echo
//! example (examples/echo_actor) as a process: Go's `echoclient` calls it,
//! and Go watchers see it stop gracefully (SIGTERM: `Stopped`) and die
//! (kill -9: `AddressTerminated`).
//!
//! Ordering: a watch or unwatch travels on another path than a request in
//! Go (through the endpoint watcher actor), so before a test stops a watched
//! actor it makes sure the watch arrived with a *barrier* on the same path:
//! a second watch (of an id that does not exist, answered at once) issued
//! after it. Rust → Go, a request round trip on the same endpoint does it.
//! Every wait is bounded ([`DEADLINE`]); failures print the Go output.

#[path = "support/child_lines.rs"]
mod child_lines;
#[path = "actors_support/echo_example.rs"]
mod echo_example;
#[path = "actors_support/go_actor_peer.rs"]
mod go_actor_peer;
#[path = "support/go_build.rs"]
mod go_build;
#[path = "../examples/echo_actor/interop.rs"]
mod interop;

use std::{
    fmt,
    time::{Duration, Instant},
};

use echo_example::EchoExample;
use go_actor_peer::{DEADLINE, GoActorPeer, pid_json};
use interop::{Note, Ping, Pong};
use protogossip::{
    remote::{
        Actor, ActorContext, ActorMessage, Handlers, Header, RawMessage, Remote, RemoteConfig,
        RemoteHandle, TransportError,
    },
    wire::proto::actor::{Pid, Terminated, TerminatedReason},
};
use serde_json::{Value, json};
use tokio::{sync::mpsc, time::timeout};

/// A request's timeout where the answer is expected.
const T: Duration = Duration::from_secs(10);

fn pid(address: &str, id: &str, request_id: u32) -> Pid {
    Pid {
        address: address.into(),
        id: id.into(),
        request_id,
    }
}

fn header(pairs: &[(&str, &str)]) -> Header {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// One message a [`Probe`] handled, as it saw it.
#[derive(Debug, Default)]
struct Seen {
    actor: String,
    type_name: String,
    header: Header,
    sender: Option<Pid>,
    ping: Option<Ping>,
    pong: Option<Pong>,
    note: Option<Note>,
    terminated: Option<Terminated>,
}

/// A hosted actor that reports every message to the test, answers Pings
/// like the echo example, and obeys commands sent as `interop.Note`
/// (`watch ADDRESS ID`, `unwatch ADDRESS ID`).
struct Probe {
    seen: mpsc::UnboundedSender<Seen>,
}

impl Actor for Probe {
    async fn receive(&mut self, ctx: &mut ActorContext, message: ActorMessage) {
        let mut seen = Seen {
            actor: ctx.self_pid().id.clone(),
            type_name: message.type_name().to_owned(),
            header: ctx.header().clone(),
            sender: ctx.sender().cloned(),
            terminated: message.terminated().cloned(),
            ..Seen::default()
        };
        match seen.type_name.as_str() {
            "interop.Ping" => {
                if let Ok(ping) = message.into_message::<Ping>() {
                    let _ = interop::answer(ctx, &ping, "rust");
                    seen.ping = Some(ping);
                }
            }
            "interop.Pong" => seen.pong = message.into_message::<Pong>().ok(),
            "interop.Note" => {
                if let Ok(note) = message.into_message::<Note>() {
                    let words: Vec<&str> = note.text.split(' ').collect();
                    if let [verb, address, id] = words[..] {
                        match verb {
                            "watch" => ctx.watch(&pid(address, id, 0)),
                            "unwatch" => ctx.unwatch(&pid(address, id, 0)),
                            _ => {}
                        }
                    }
                    seen.note = Some(note);
                }
            }
            _ => {}
        }
        let _ = self.seen.send(seen);
    }
}

/// The next message any probe reports that matches `pred`.
async fn seen_where(
    rx: &mut mpsc::UnboundedReceiver<Seen>,
    go: &GoActorPeer,
    what: &str,
    pred: impl Fn(&Seen) -> bool,
) -> Seen {
    let found = timeout(DEADLINE, async {
        while let Some(s) = rx.recv().await {
            if pred(&s) {
                return Some(s);
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some(s)) => s,
        _ => panic!("no {what} reached our probe; Go output:\n{}", go.output()),
    }
}

/// Everything the test drives: one Go actorpeer, one Rust remote with the
/// probe `probe`, and the probes' reports.
struct World {
    go: GoActorPeer,
    rust: RemoteHandle,
    seen: mpsc::UnboundedReceiver<Seen>,
    seen_tx: mpsc::UnboundedSender<Seen>,
    start: Instant,
}

impl World {
    fn go_pid(&self, id: &str) -> Pid {
        pid(&self.go.address, id, 0)
    }

    fn probe_pid(&self, id: &str) -> Pid {
        pid(self.rust.address(), id, 0)
    }

    fn spawn_probe(&self, id: &str) -> Pid {
        let probe = Probe {
            seen: self.seen_tx.clone(),
        };
        self.rust.spawn_named(id, probe).expect("spawn probe")
    }

    async fn seen(&mut self, what: &str, pred: impl Fn(&Seen) -> bool) -> Seen {
        seen_where(&mut self.seen, &self.go, what, pred).await
    }

    /// Tells probe `id` to run `command` and waits until it has.
    async fn command_probe(&mut self, id: &str, command: &str) {
        let note = Note {
            text: command.to_owned(),
            seq: 0,
        };
        self.rust
            .tell(
                self.probe_pid(id),
                RawMessage::protobuf(&note),
                None,
                Header::new(),
            )
            .expect("command the probe");
        self.seen(command, |s| {
            s.note.as_ref().is_some_and(|n| n.text == command)
        })
        .await;
    }

    /// A Rust → Go request round trip: everything we sent to Go before it
    /// (on the same endpoint) has been read by Go's endpoint reader.
    async fn rust_to_go_barrier(&self) {
        let ping = Ping {
            text: "barrier".into(),
            ..Ping::default()
        };
        let pong: Result<Pong, _> = self
            .rust
            .request_message(self.go_pid("echo"), &ping, T)
            .await;
        assert!(pong.is_ok(), "{pong:?}\n{}", self.go.output());
    }

    /// Go watches a Rust id that does not exist with watcher `tag`: when
    /// its `Terminated` is back, every watch and unwatch Go issued to our
    /// address before it has reached us (one path, in order).
    async fn go_watch_barrier(&mut self, tag: &str) {
        let addr = self.rust.address().to_owned();
        self.go
            .cmd(&format!("watch {tag} {addr} no-such-actor-{tag}"))
            .await;
        self.go.expect("terminated", tag).await;
    }
}

/// One step of the scenario; `Display` is the line logged as it starts.
#[derive(Clone, Copy, Debug)]
enum Phase {
    GoRequestsRust,
    HeadersAndRequestIds,
    GoSendsInOrder,
    GoRequestToUnknownId,
    RustRequestsGo,
    JsonToGo,
    GoWatchesRust,
    RustWatchesGo,
    GoKilled,
}

/// The phases in order, on one Go process and one Rust remote. The kill
/// of the Go process comes last: nothing can follow it.
const SCRIPT: [Phase; 9] = [
    Phase::GoRequestsRust,
    Phase::HeadersAndRequestIds,
    Phase::GoSendsInOrder,
    Phase::GoRequestToUnknownId,
    Phase::RustRequestsGo,
    Phase::JsonToGo,
    Phase::GoWatchesRust,
    Phase::RustWatchesGo,
    Phase::GoKilled,
];

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::GoRequestsRust => "Go RequestFuture → Rust actor: payload bytes, sender PID",
            Phase::HeadersAndRequestIds => {
                "headers both ways; a Go sender's request_id reaches Rust and routes the answer"
            }
            Phase::GoSendsInOrder => "Go Root.Send (no sender) arrives in order",
            Phase::GoRequestToUnknownId => "Go request to an id Rust does not host: dead letter",
            Phase::RustRequestsGo => "Rust request/tell → Go actor: answers, headers, dead letter",
            Phase::JsonToGo => "JSON (serializer 1) from Rust reaches Go as remote.JsonMessage",
            Phase::GoWatchesRust => {
                "Go watches Rust actors: Terminated on stop, unknown id, unwatch"
            }
            Phase::RustWatchesGo => "a Rust actor watches Go actors: Terminated, unwatch",
            Phase::GoKilled => "kill -9 of Go: the Rust watcher gets AddressTerminated",
        })
    }
}

impl Phase {
    async fn run(self, w: &mut World) {
        match self {
            Phase::GoRequestsRust => go_requests_rust(w).await,
            Phase::HeadersAndRequestIds => headers_and_request_ids(w).await,
            Phase::GoSendsInOrder => go_sends_in_order(w).await,
            Phase::GoRequestToUnknownId => go_request_to_unknown_id(w).await,
            Phase::RustRequestsGo => rust_requests_go(w).await,
            Phase::JsonToGo => json_to_go(w).await,
            Phase::GoWatchesRust => go_watches_rust(w).await,
            Phase::RustWatchesGo => rust_watches_go(w).await,
            Phase::GoKilled => go_killed(w).await,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Asserts a Go `reply` event carries the Pong of a Ping with these fields.
#[track_caller]
fn assert_pong(reply: &Value, text: &str, seq: i64, payload: &[u8], responder: &str, go: &str) {
    assert_eq!(reply["ev"], "reply", "{reply}\n{go}");
    assert_eq!(reply["type"], "interop.Pong", "{reply}");
    assert_eq!(reply["text"], text, "{reply}");
    assert_eq!(reply["seq"], seq, "{reply}");
    assert_eq!(reply["payload"], hex(payload), "payload bytes differ");
    assert_eq!(reply["responder"], responder, "{reply}");
}

async fn go_requests_rust(w: &mut World) {
    let addr = w.rust.address().to_owned();
    let go_addr = w.go.address.clone();
    for (tag, size) in [("r1", 256usize), ("r2", 16 * 1024)] {
        let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        w.go.cmd(&format!(
            "request {tag} {addr} probe text=hello-{tag} seq=7 payload={}",
            hex(&payload)
        ))
        .await;
        let reply = w.go.answer(tag).await;
        assert_pong(
            &reply,
            &format!("hello-{tag}"),
            7,
            &payload,
            "rust",
            &w.go.output(),
        );

        let seen = w.seen("the Go request", |s| s.ping.is_some()).await;
        let ping = seen.ping.unwrap();
        assert_eq!(ping.payload, payload);
        assert_eq!(
            (ping.text.as_str(), ping.seq),
            (&*format!("hello-{tag}"), 7)
        );
        assert!(seen.header.is_empty(), "{:?}", seen.header);
        let sender = seen.sender.expect("a Go future is the sender");
        assert_eq!(sender.address, go_addr);
        assert!(sender.id.starts_with("future$"), "{sender:?}");
        assert_eq!(sender.request_id, 0, "Go futures use no request id");
    }
}

async fn headers_and_request_ids(w: &mut World) {
    let addr = w.rust.address().to_owned();
    let go_addr = w.go.address.clone();

    // RequestFuture with a header (Go: NewFuture + MessageEnvelope{Header}).
    w.go.cmd(&format!(
        "request h1 {addr} probe text=with-header h.trace=abc-123 h.tenant=t1"
    ))
    .await;
    let reply = w.go.answer("h1").await;
    assert_pong(&reply, "with-header", 0, &[], "rust", &w.go.output());
    let seen = w
        .seen("the request with a header", |s| s.ping.is_some())
        .await;
    assert_eq!(
        seen.header,
        header(&[("tenant", "t1"), ("trace", "abc-123")])
    );

    // A Go actor requests as itself, with request_id 42 on its sender PID:
    // we see that PID exactly, answer it with a header, and the answer is
    // routed back to that actor (Go reports it with our header).
    w.go.cmd(&format!("ask h2 {addr} probe text=asked rid=42 h.x=y"))
        .await;
    let reply = w.go.answer("h2").await;
    assert_pong(&reply, "asked", 0, &[], "rust", &w.go.output());
    assert_eq!(reply["header"], json!({"x": "y", "echoed-by": "rust"}));
    assert_eq!(reply["sender"], Value::Null, "an answer has no sender");
    let seen = w.seen("the Go actor's request", |s| s.ping.is_some()).await;
    assert_eq!(seen.sender, Some(pid(&go_addr, "asker-h2", 42)));
    assert_eq!(seen.header, header(&[("x", "y")]));
}

async fn go_sends_in_order(w: &mut World) {
    const N: i64 = 300;
    let addr = w.rust.address().to_owned();
    w.go.cmd(&format!("sendmany s1 {addr} probe {N}")).await;
    w.go.expect("sent", "s1").await;
    for seq in 0..N {
        let seen = w.seen("a sent Ping", |s| s.ping.is_some()).await;
        let ping = seen.ping.unwrap();
        assert_eq!(ping.seq, seq, "out of order");
        assert_eq!(ping.text, format!("m{seq}"));
        assert_eq!(seen.sender, None, "Root.Send has no sender");
        assert!(seen.header.is_empty());
    }
    // A one-way send with a header (a MessageEnvelope without sender).
    w.go.cmd(&format!("send s2 {addr} probe text=oneway h.one=1"))
        .await;
    let seen = w.seen("the one-way Ping", |s| s.ping.is_some()).await;
    assert_eq!(seen.ping.unwrap().text, "oneway");
    assert_eq!(seen.sender, None);
    assert_eq!(seen.header, header(&[("one", "1")]));
}

async fn go_request_to_unknown_id(w: &mut World) {
    let addr = w.rust.address().to_owned();
    let before = w.rust.metrics().dead_letter_responses_sent;
    let started = Instant::now();
    w.go.cmd(&format!("request u1 {addr} nobody timeout=10000"))
        .await;
    let reply = w.go.answer("u1").await;
    assert_eq!(reply["ev"], "error", "{reply}");
    assert_eq!(reply["error"], "future: dead letter", "{reply}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the dead letter took {:?}: not a timeout, a fast answer",
        started.elapsed()
    );
    assert_eq!(w.rust.metrics().dead_letter_responses_sent, before + 1);
}

async fn rust_requests_go(w: &mut World) {
    let rust_addr = w.rust.address().to_owned();
    let payload: Vec<u8> = (0..=255).collect();
    let ping = Ping {
        payload: payload.clone(),
        text: "from-rust".into(),
        seq: 11,
    };
    let pong: Pong = w
        .rust
        .request_message(w.go_pid("echo"), &ping, T)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", w.go.output()));
    assert_eq!(pong, interop::pong(&ping, "go"));
    let got =
        w.go.expect_where("the Rust request", |v| {
            v["ev"] == "received" && v["text"] == "from-rust"
        })
        .await;
    assert_eq!(got["payload"], hex(&payload));
    assert_eq!(got["sender"]["address"], rust_addr);
    assert!(
        got["sender"]["id"]
            .as_str()
            .unwrap_or("")
            .starts_with("future$"),
        "{got}"
    );
    assert_eq!(got["header"], Value::Null);

    // A tell with a header and the probe as sender, request_id 7: Go sees
    // both, and its answer (with Go's header) reaches the probe.
    let ping = Ping {
        text: "told".into(),
        seq: 12,
        ..Ping::default()
    };
    w.rust
        .tell(
            w.go_pid("echo"),
            RawMessage::protobuf(&ping),
            Some(pid(&rust_addr, "probe", 7)),
            header(&[("h", "1")]),
        )
        .unwrap();
    let got =
        w.go.expect_where("the Rust tell", |v| {
            v["ev"] == "received" && v["text"] == "told"
        })
        .await;
    assert_eq!(got["sender"], pid_json(&rust_addr, "probe", 7));
    assert_eq!(got["header"], json!({"h": "1"}));
    let seen = w.seen("Go's answer", |s| s.pong.is_some()).await;
    assert_eq!(seen.pong.unwrap(), interop::pong(&ping, "go"));
    assert_eq!(seen.header, header(&[("echoed-by", "go"), ("h", "1")]));
    assert_eq!(seen.sender, None, "ctx.Send of an envelope without sender");

    // No such actor in Go: its DeadLetterResponse fails our request fast.
    let started = Instant::now();
    let missing: Result<Pong, _> = w.rust.request_message(w.go_pid("nobody"), &ping, T).await;
    assert!(
        matches!(missing, Err(TransportError::DeadLetter { .. })),
        "{missing:?}\n{}",
        w.go.output()
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

async fn json_to_go(w: &mut World) {
    let note = Note {
        text: "json from rust".into(),
        seq: 5,
    };
    let raw = RawMessage::json(&note).unwrap();
    assert_eq!(raw.serializer_id, 1);
    let text = String::from_utf8(raw.data.clone()).unwrap();
    assert_eq!(text, r#"{"text":"json from rust","seq":"5"}"#);
    w.rust
        .tell(w.go_pid("echo"), raw.clone(), None, Header::new())
        .unwrap();
    // Go's JSON serializer looks the name up in gogo's registry, which does
    // not hold application types generated by protoc-gen-go: Go hands the
    // actor a remote.JsonMessage with the name and the JSON text as sent.
    let got =
        w.go.expect_where("the JSON message", |v| {
            v["ev"] == "received" && v["type"] == "remote.JsonMessage"
        })
        .await;
    assert_eq!(got["json_type"], "interop.Note");
    assert_eq!(got["json"], text.as_str());
    assert_eq!(got["sender"], Value::Null);

    // Requested as JSON: the Go echo answers a JsonMessage with a Pong
    // whose text is the JSON it got.
    let answer = w
        .rust
        .ask(w.go_pid("echo"), raw, Header::new(), T)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", w.go.output()));
    let pong: Pong = answer.into_message().unwrap();
    assert_eq!(pong.text, text);
}

async fn go_watches_rust(w: &mut World) {
    let addr = w.rust.address().to_owned();

    // Stopped when the actor is unregistered.
    w.spawn_probe("watched1");
    w.go.cmd(&format!("watch w1 {addr} watched1")).await;
    w.go.expect("watching", "w1").await;
    w.go_watch_barrier("b1").await;
    assert!(w.rust.stop_actor("watched1"));
    let t = w.go.expect("terminated", "w1").await;
    assert_eq!(t["who"], pid_json(&addr, "watched1", 0));
    assert_eq!(t["why"], "Stopped");

    // An id we do not host: we answer the Watch (a dead letter) with
    // Terminated{NotFound}; Go's endpoint watcher turns every remote
    // Terminated into `Stopped` before its actor sees it, so Go reports
    // Stopped. (The barrier above already relied on this answer.)
    let dead = w.rust.metrics().envelopes_dead_lettered;
    w.go.cmd(&format!("watch w2 {addr} ghost")).await;
    let t = w.go.expect("terminated", "w2").await;
    assert_eq!(t["who"], pid_json(&addr, "ghost", 0));
    assert_eq!(t["why"], "Stopped");
    assert_eq!(w.rust.metrics().envelopes_dead_lettered, dead + 1);

    // Unwatch: no Terminated when the actor stops afterwards.
    w.spawn_probe("watched2");
    w.go.cmd(&format!("watch w3 {addr} watched2")).await;
    w.go.expect("watching", "w3").await;
    w.go.cmd("unwatch w3").await;
    w.go.expect("unwatched", "w3").await;
    w.go_watch_barrier("b2").await;
    assert!(w.rust.stop_actor("watched2"));
    // The kept watch (w4) proves the stop's Terminated went out and came in.
    w.spawn_probe("watched3");
    w.go.cmd(&format!("watch w4 {addr} watched3")).await;
    w.go.expect("watching", "w4").await;
    w.go_watch_barrier("b3").await;
    assert!(w.rust.stop_actor("watched3"));
    let t =
        w.go.expect_where("Terminated for w3 or w4", |v| {
            v["ev"] == "terminated" && (v["tag"] == "w3" || v["tag"] == "w4")
        })
        .await;
    assert_eq!(t["tag"], "w4", "the unwatched w3 was told: {t}");
    w.go.assert_quiet(Duration::from_millis(500), |v| {
        v["ev"] == "terminated" && v["tag"] == "w3"
    })
    .await;
}

async fn rust_watches_go(w: &mut World) {
    let go_addr = w.go.address.clone();

    // Stopped: the Go actor stops after our Watch reached it.
    w.go.cmd("spawn p1 target1").await;
    w.go.expect("spawned", "p1").await;
    w.command_probe("probe", &format!("watch {go_addr} target1"))
        .await;
    w.rust_to_go_barrier().await;
    w.go.cmd("stop p2 target1").await;
    let seen = w
        .seen("Terminated for target1", |s| s.terminated.is_some())
        .await;
    assert_eq!(seen.actor, "probe");
    let t = seen.terminated.unwrap();
    assert_eq!(t.who, Some(pid(&go_addr, "target1", 0)));
    assert_eq!(t.why(), TerminatedReason::Stopped);

    // Unwatch: target2 stops after our Unwatch reached it, target3 (still
    // watched, stopped after it) proves a Terminated would have come.
    for id in ["target2", "target3"] {
        w.go.cmd(&format!("spawn p-{id} {id}")).await;
        w.go.expect("spawned", &format!("p-{id}")).await;
        w.command_probe("probe", &format!("watch {go_addr} {id}"))
            .await;
    }
    w.command_probe("probe", &format!("unwatch {go_addr} target2"))
        .await;
    w.rust_to_go_barrier().await;
    w.go.cmd("stop p3 target2").await;
    w.go.expect("stopped", "p3").await;
    w.go.cmd("stop p4 target3").await;
    let seen = w.seen("a Terminated", |s| s.terminated.is_some()).await;
    let who = seen.terminated.and_then(|t| t.who);
    assert_eq!(
        who,
        Some(pid(&go_addr, "target3", 0)),
        "only the watched target3 is reported"
    );
    let late = timeout(Duration::from_millis(300), async {
        while let Some(s) = w.seen.recv().await {
            if s.terminated.is_some() {
                return s;
            }
        }
        std::future::pending().await
    })
    .await;
    assert!(late.is_err(), "unexpected {late:?}");
}

/// kill -9 of Go while our probe watches a Go actor there (the last phase).
async fn go_killed(w: &mut World) {
    let go_addr = w.go.address.clone();
    w.go.cmd("spawn k1 target4").await;
    w.go.expect("spawned", "k1").await;
    w.command_probe("probe", &format!("watch {go_addr} target4"))
        .await;
    w.rust_to_go_barrier().await;
    w.go.kill().await;
    let seen = w
        .seen("Terminated after the kill", |s| s.terminated.is_some())
        .await;
    let t = seen.terminated.unwrap();
    assert_eq!(t.who, Some(pid(&go_addr, "target4", 0)));
    assert_eq!(t.why(), TerminatedReason::AddressTerminated);
    assert!(w.rust.metrics().actor_address_terminated >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_and_rust_actors_both_ways() {
    let rust = Remote::start(RemoteConfig::default(), Handlers::new())
        .await
        .expect("start remote");
    rust.types().register::<Ping>().unwrap();
    rust.types().register::<Pong>().unwrap();
    rust.types().register_json::<Note>().unwrap();
    let go = GoActorPeer::start().await;
    let (seen_tx, seen) = mpsc::unbounded_channel();
    let mut w = World {
        go,
        rust,
        seen,
        seen_tx,
        start: Instant::now(),
    };
    w.spawn_probe("probe");

    for phase in SCRIPT {
        eprintln!("[{:>6.1?}] {phase}", w.start.elapsed());
        phase.run(&mut w).await;
    }

    let m = w.rust.metrics();
    assert_eq!(m.actor_panics, 0, "{m:?}");
    assert_eq!(m.actor_mailbox_full, 0, "{m:?}");
    assert_eq!(
        m.envelopes_bad_index + m.envelopes_unknown_type + m.envelopes_malformed,
        0,
        "{m:?}"
    );
    w.rust.shutdown(true).await;
}

/// Runs Go's `echoclient` against `target`; asserts it exits 0.
async fn echoclient(target: &str) -> String {
    let bin = go_build::build_go_command("echoclient");
    let out = timeout(
        DEADLINE,
        tokio::process::Command::new(bin)
            .args(["-target", target, "-responder", "rust", "-payload", "1000"])
            .output(),
    )
    .await
    .expect("echoclient finished in time")
    .expect("run echoclient");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "echoclient failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_example_answers_go_and_its_end_reaches_go_watchers() {
    let start = Instant::now();
    let step = |what: &str| eprintln!("[{:>6.1?}] {what}", start.elapsed());
    step("the echo example answers Go's echoclient");
    let mut go = GoActorPeer::start().await;

    // The example, as a user runs it, called by the Go example client.
    let example = EchoExample::start().await;
    let out = echoclient(&format!("{}/echo", example.address)).await;
    assert!(
        out.contains(&format!("ok: 3 round trips to {}/echo", example.address)),
        "{out}"
    );

    step("SIGTERM (graceful shutdown): Go's watcher gets Stopped");
    let addr = example.address.clone();
    go.cmd(&format!("watch g1 {addr} echo")).await;
    go.expect("watching", "g1").await;
    go.cmd(&format!("watch g1b {addr} ghost")).await;
    go.expect("terminated", "g1b").await;
    example.terminate().await;
    // Our Terminated{Stopped} and the end of Go's stream to us race inside
    // Go: its endpoint watcher may tell AddressTerminated first (seen in 1
    // of 2 runs), then the Stopped that we sent still arrives.
    let t = go
        .expect_where("Terminated{Stopped} for g1", |v| {
            v["ev"] == "terminated" && v["tag"] == "g1" && v["why"] == "Stopped"
        })
        .await;
    assert_eq!(t["who"], pid_json(&addr, "echo", 0));

    step("kill -9: Go's endpoint to it is lost, its watcher gets AddressTerminated");
    let example = EchoExample::start().await;
    let addr = example.address.clone();
    go.cmd(&format!("watch g2 {addr} echo")).await;
    go.expect("watching", "g2").await;
    go.cmd(&format!("watch g2b {addr} ghost")).await;
    go.expect("terminated", "g2b").await;
    example.kill().await;
    let t = go.expect("terminated", "g2").await;
    assert_eq!(t["who"], pid_json(&addr, "echo", 0));
    assert_eq!(t["why"], "AddressTerminated", "{}", go.output());
    step("done");
    go.quit().await;
}
