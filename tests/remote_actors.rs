//! Hosted actors over loopback, Rust ↔ Rust: hosting, send, request and
//! respond, headers, JSON, watch/unwatch/Terminated both ways,
//! AddressTerminated, and the hostile cases (unknown type, undecodable
//! body, full mailbox, panic). Every wait has a deadline; nothing sleeps
//! to let something happen.

#[path = "remote_support/fixture.rs"]
mod fixture;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use fixture::{DEADLINE, gossip_node, pid, wait_metric};
use protogossip::{
    remote::{
        Actor, ActorContext, ActorError, ActorMessage, ActorOptions, Header, RawMessage,
        RemoteConfig, RemoteHandle, TransportError, from_fn,
    },
    wire::{
        SERIALIZER_JSON, SERIALIZER_PROTOBUF, WireMessage,
        proto::actor::{Pid, Terminated, TerminatedReason},
    },
};
use tokio::{
    sync::{Notify, mpsc},
    time::timeout,
};

const REQ: Duration = Duration::from_secs(5);

/// An application message, as prost generates it for
/// `package protogossip.test; message Ping { string text = 1; int64 n = 2; }`.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize, serde::Deserialize)]
struct Ping {
    #[prost(string, tag = "1")]
    text: String,
    #[prost(int64, tag = "2")]
    #[serde(with = "int64_as_string")]
    n: i64,
}

impl prost::Name for Ping {
    const NAME: &'static str = "Ping";
    const PACKAGE: &'static str = "protogossip.test";
}

/// Protobuf's JSON mapping writes 64-bit integers as strings.
mod int64_as_string {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(n: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&n.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A second application type, for the answer.
#[derive(Clone, PartialEq, prost::Message)]
struct Pong {
    #[prost(string, tag = "1")]
    text: String,
}

impl prost::Name for Pong {
    const NAME: &'static str = "Pong";
    const PACKAGE: &'static str = "protogossip.test";
}

fn ping(text: &str) -> Ping {
    Ping {
        text: text.into(),
        n: 1,
    }
}

/// Answers every `Ping` with a `Pong` of the same text, echoing the header.
struct Echo;

impl Actor for Echo {
    async fn receive(&mut self, ctx: &mut ActorContext, message: ActorMessage) {
        if let Some(p) = message.downcast_ref::<Ping>() {
            let pong = RawMessage::protobuf(&Pong {
                text: p.text.clone(),
            });
            let _ = ctx.respond_raw(pong, ctx.header().clone());
        }
    }
}

async fn node() -> RemoteHandle {
    let h = gossip_node(RemoteConfig::default()).await;
    h.types().register_json::<Ping>().unwrap();
    h.types().register::<Pong>().unwrap();
    h
}

#[tokio::test]
async fn request_to_a_hosted_actor_across_two_remotes() {
    let (a, b) = (node().await, node().await);
    let echo = b.spawn_named("echo", Echo).unwrap();
    assert_eq!(echo, pid(b.address(), "echo"));
    let pong: Pong = a
        .request_message(echo.clone(), &ping("hi"), REQ)
        .await
        .unwrap();
    assert_eq!(pong.text, "hi");
    // Locally too, through the same API.
    let pong: Pong = b.request_message(echo, &ping("me"), REQ).await.unwrap();
    assert_eq!(pong.text, "me");
    assert!(b.metrics().actor_messages >= 2);
    a.shutdown(true).await;
    b.shutdown(true).await;
}

#[tokio::test]
async fn names_are_checked_and_ids_are_generated_as_go_spells_them() {
    let h = node().await;
    h.spawn_named("echo", Echo).unwrap();
    assert_eq!(
        h.spawn_named("echo", Echo),
        Err(ActorError::NameTaken("echo".into()))
    );
    for reserved in [
        "",
        "gossip",
        "eventstream",
        "partition-activator",
        "future$1",
    ] {
        assert_eq!(
            h.spawn_named(reserved, Echo),
            Err(ActorError::ReservedName(reserved.into()))
        );
    }
    let ids: Vec<_> = (0..11).map(|_| h.spawn(Echo).unwrap().id).collect();
    assert_eq!(ids[0], "$1");
    assert_eq!(ids[9], "$a");
    assert_eq!(ids[10], "$b");
    assert_eq!(h.actor_ids().len(), 12);
    assert!(h.stop_actor("echo"));
    assert!(!h.stop_actor("echo"));
    h.shutdown(true).await;
    assert_eq!(h.spawn(Echo), Err(ActorError::ShuttingDown));
}

#[tokio::test]
async fn headers_sender_and_request_ids_reach_the_handler_and_come_back() {
    let (a, b) = (node().await, node().await);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let probe = b
        .spawn_named(
            "probe",
            from_fn(move |ctx: ActorContext, m: ActorMessage| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send((
                        ctx.sender().cloned(),
                        ctx.header().clone(),
                        m.type_name().to_owned(),
                    ));
                    let _ = ctx.respond_raw(
                        RawMessage::protobuf(&Pong { text: "ok".into() }),
                        Header::from([("reply".to_owned(), "yes".to_owned())]),
                    );
                }
            }),
        )
        .unwrap();
    let header = Header::from([("trace".to_owned(), "42".to_owned())]);
    let answer = a
        .ask(
            probe.clone(),
            RawMessage::protobuf(&ping("x")),
            header.clone(),
            REQ,
        )
        .await
        .unwrap();
    assert_eq!(answer.type_name(), "protogossip.test.Pong");
    let (sender, got_header, type_name) = rx.recv().await.unwrap();
    let sender = sender.unwrap();
    assert_eq!(sender.address, a.address());
    assert!(sender.id.starts_with("future$"), "{sender:?}");
    assert_eq!(got_header, header);
    assert_eq!(type_name, "protogossip.test.Ping");

    // A sender with a request id (how some Go senders multiplex) gets it back.
    let (ans_tx, mut ans_rx) = mpsc::unbounded_channel();
    let inbox = a
        .spawn_named(
            "inbox",
            from_fn(move |ctx: ActorContext, m: ActorMessage| {
                let tx = ans_tx.clone();
                async move {
                    let _ = tx.send((m.type_name().to_owned(), ctx.header().clone()));
                }
            }),
        )
        .unwrap();
    let mut with_rid = inbox.clone();
    with_rid.request_id = 77;
    a.tell(
        probe,
        RawMessage::protobuf(&ping("y")),
        Some(with_rid),
        Header::new(),
    )
    .unwrap();
    let (sender, _, _) = rx.recv().await.unwrap();
    assert_eq!(sender.unwrap().request_id, 77);
    let (name, h) = timeout(DEADLINE, ans_rx.recv()).await.unwrap().unwrap();
    assert_eq!(name, "protogossip.test.Pong");
    assert_eq!(h.get("reply").map(String::as_str), Some("yes"));
    a.shutdown(true).await;
    b.shutdown(true).await;
}

#[tokio::test]
async fn json_round_trip_for_types_registered_for_json() {
    let (a, b) = (node().await, node().await);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let sink = b
        .spawn_named(
            "sink",
            from_fn(move |ctx: ActorContext, m: ActorMessage| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send((
                        m.serializer_id(),
                        m.data().into_owned(),
                        m.downcast_ref::<Ping>().cloned(),
                    ));
                    // Answer with the same type: JSON again, as registered.
                    if let Some(p) = m.downcast_ref::<Ping>() {
                        let _ = ctx.respond(p);
                    }
                }
            }),
        )
        .unwrap();
    let p = Ping {
        text: "json".into(),
        n: 1 << 40,
    };
    let back: Ping = a.request_message(sink, &p, REQ).await.unwrap();
    assert_eq!(back, p);
    let (serializer, bytes, decoded) = rx.recv().await.unwrap();
    assert_eq!(serializer, SERIALIZER_JSON);
    assert_eq!(
        String::from_utf8(bytes).unwrap(),
        r#"{"text":"json","n":"1099511627776"}"#
    );
    assert_eq!(decoded, Some(p.clone()));
    // Protobuf of the same type is accepted too (Go always writes protobuf).
    let raw = RawMessage::protobuf(&p);
    assert_eq!(raw.serializer_id, SERIALIZER_PROTOBUF);
    a.shutdown(true).await;
    b.shutdown(true).await;
}

#[tokio::test]
async fn messages_are_handled_in_order_under_load() {
    let (a, b) = (node().await, node().await);
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let done = Arc::new(Notify::new());
    const N: i64 = 5000;
    let (s, d) = (Arc::clone(&seen), Arc::clone(&done));
    let counter = b
        .spawn_with(
            Some("counter"),
            from_fn(move |_ctx: ActorContext, m: ActorMessage| {
                let (s, d) = (Arc::clone(&s), Arc::clone(&d));
                async move {
                    let n = m.downcast_ref::<Ping>().map_or(-1, |p| p.n);
                    s.lock().unwrap().push(n);
                    if n == N - 1 {
                        d.notify_one();
                    }
                }
            }),
            ActorOptions::default().with_mailbox_capacity(N as usize),
        )
        .unwrap();
    for n in 0..N {
        let p = Ping {
            text: String::new(),
            n,
        };
        // Over protobuf, so the order is the endpoint's batch order.
        a.tell(
            counter.clone(),
            RawMessage::protobuf(&p),
            None,
            Header::new(),
        )
        .unwrap();
    }
    timeout(DEADLINE, done.notified()).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen, (0..N).collect::<Vec<_>>());
    a.shutdown(true).await;
    b.shutdown(true).await;
}

/// Records every Terminated it gets; watches what it is sent (`actor.PID`).
fn watcher(tx: mpsc::UnboundedSender<Terminated>) -> impl Actor {
    from_fn(move |ctx: ActorContext, m: ActorMessage| {
        let tx = tx.clone();
        async move {
            if let Some(t) = m.terminated() {
                let _ = tx.send(t.clone());
            } else if let Ok(pid) = m.into_message::<Pid>() {
                if pid.request_id == 1 {
                    ctx.unwatch(&Pid {
                        request_id: 0,
                        ..pid
                    });
                } else {
                    ctx.watch(&pid);
                }
                let _ = ctx.respond(&Pid::default());
            }
        }
    })
}

/// Makes actor `w` watch `target` (request_id 1: unwatch), and waits until
/// the Watch is on its way.
async fn watch(h: &RemoteHandle, w: &Pid, target: &Pid) {
    let _: Pid = h.request_message(w.clone(), target, REQ).await.unwrap();
}

async fn next_terminated(rx: &mut mpsc::UnboundedReceiver<Terminated>) -> Terminated {
    timeout(DEADLINE, rx.recv())
        .await
        .expect("Terminated in time")
        .unwrap()
}

#[tokio::test]
async fn watcher_is_told_when_a_remote_actor_stops_or_is_missing() {
    let (a, b) = (node().await, node().await);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let w = a.spawn_named("watcher", watcher(tx)).unwrap();
    let echo = b.spawn_named("echo", Echo).unwrap();
    watch(&a, &w, &echo).await;
    // One stream, in order: once echo answers, b has handled the Watch.
    let _: Pong = a
        .request_message(echo.clone(), &ping("sync"), REQ)
        .await
        .unwrap();
    assert!(b.stop_actor("echo"));
    let t = next_terminated(&mut rx).await;
    assert_eq!(t.who, Some(echo.clone()));
    assert_eq!(t.why, TerminatedReason::Stopped as i32);

    // A missing id: NotFound.
    let missing = pid(b.address(), "nobody");
    watch(&a, &w, &missing).await;
    let t = next_terminated(&mut rx).await;
    assert_eq!(t.who, Some(missing));
    assert_eq!(t.why, TerminatedReason::NotFound as i32);
    a.shutdown(true).await;
    b.shutdown(true).await;
}

#[tokio::test]
async fn unwatch_means_no_terminated() {
    let (a, b) = (node().await, node().await);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let w = a.spawn_named("watcher", watcher(tx)).unwrap();
    let first = b.spawn_named("first", Echo).unwrap();
    let second = b.spawn_named("second", Echo).unwrap();
    watch(&a, &w, &first).await;
    watch(&a, &w, &second).await;
    let mut unwatch = first.clone();
    unwatch.request_id = 1;
    watch(&a, &w, &unwatch).await;
    // In-order stream: once `second` answers, b has seen Watch, Watch, Unwatch.
    let _: Pong = a
        .request_message(second.clone(), &ping("sync"), REQ)
        .await
        .unwrap();
    assert!(b.stop_actor("first"));
    assert!(b.stop_actor("second"));
    let t = next_terminated(&mut rx).await;
    assert_eq!(t.who, Some(second), "only the watched one");
    assert!(
        timeout(Duration::from_millis(200), rx.recv())
            .await
            .is_err(),
        "no Terminated for the unwatched actor"
    );
    a.shutdown(true).await;
    b.shutdown(true).await;
}

#[tokio::test]
async fn watchers_get_stopped_on_graceful_shutdown() {
    let (a, b) = (node().await, node().await);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let w = a.spawn_named("watcher", watcher(tx)).unwrap();
    let echo = b.spawn_named("echo", Echo).unwrap();
    // b needs an endpoint to a for the Terminated; the request creates it.
    watch(&a, &w, &echo).await;
    let _: Pong = a
        .request_message(echo.clone(), &ping("sync"), REQ)
        .await
        .unwrap();
    b.shutdown(true).await;
    let t = next_terminated(&mut rx).await;
    assert_eq!(t.who, Some(echo));
    assert_eq!(t.why, TerminatedReason::Stopped as i32);
    a.shutdown(true).await;
}

#[tokio::test]
async fn address_terminated_when_the_watched_node_dies_or_is_blocked() {
    for block in [false, true] {
        let (a, b) = (node().await, node().await);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let w = a.spawn_named("watcher", watcher(tx)).unwrap();
        let echo = b.spawn_named("echo", Echo).unwrap();
        watch(&a, &w, &echo).await;
        let _: Pong = a
            .request_message(echo.clone(), &ping("sync"), REQ)
            .await
            .unwrap();
        if block {
            a.block_list().learn(&b.system_id(), b.address());
            a.block(&b.system_id());
        } else {
            b.shutdown(false).await;
        }
        let t = next_terminated(&mut rx).await;
        assert_eq!(t.who, Some(echo), "block = {block}");
        assert_eq!(t.why, TerminatedReason::AddressTerminated as i32);
        assert_eq!(a.metrics().actor_address_terminated, 1);
        a.shutdown(true).await;
        b.shutdown(false).await;
    }
}

#[tokio::test]
async fn local_watch_and_stop_and_poison_pill() {
    let h = node().await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let w = h.spawn_named("watcher", watcher(tx)).unwrap();
    let stopped = h.spawn_named("a", Echo).unwrap();
    let poisoned = h.spawn_named("b", Echo).unwrap();
    watch(&h, &w, &stopped).await;
    watch(&h, &w, &poisoned).await;
    h.send(stopped.clone(), WireMessage::Stop(Default::default()), None)
        .unwrap();
    let t = next_terminated(&mut rx).await;
    assert_eq!(
        (t.who, t.why),
        (Some(stopped), TerminatedReason::Stopped as i32)
    );
    // PoisonPill stops after the messages queued before it.
    h.send(
        poisoned.clone(),
        WireMessage::PoisonPill(Default::default()),
        None,
    )
    .unwrap();
    let t = next_terminated(&mut rx).await;
    assert_eq!(t.who, Some(poisoned.clone()));
    assert_eq!(
        h.request_message::<Pong, _>(poisoned, &ping("late"), REQ)
            .await,
        Err(TransportError::DeadLetter {
            target: Some(pid(h.address(), "b"))
        })
    );
    assert_eq!(h.actor_ids(), ["watcher"]);
    h.shutdown(true).await;
}

#[tokio::test]
async fn unknown_type_and_bad_body_are_dead_lettered_and_the_actor_goes_on() {
    let (a, b) = (node().await, node().await);
    let echo = b.spawn_named("echo", Echo).unwrap();
    let cases = [
        RawMessage::new("myapp.Unknown", 0, vec![]),
        RawMessage::new("protogossip.test.Ping", 0, vec![0x0a, 0x10, 0x01]),
        RawMessage::new("protogossip.test.Ping", 1, b"{not json".to_vec()),
        // Pong is registered for protobuf only.
        RawMessage::new("protogossip.test.Pong", 1, b"{}".to_vec()),
    ];
    for raw in cases {
        let what = format!("{raw:?}");
        let r = a.ask(echo.clone(), raw, Header::new(), REQ).await;
        assert!(
            matches!(r, Err(TransportError::DeadLetter { .. })),
            "{what}: {r:?}"
        );
    }
    let m = b.metrics();
    assert_eq!(m.envelopes_unknown_type, 1, "{m:?}");
    assert_eq!(m.envelopes_malformed, 2, "{m:?}");
    assert_eq!(m.envelopes_bad_serializer, 1, "{m:?}");
    let pong: Pong = a.request_message(echo, &ping("still"), REQ).await.unwrap();
    assert_eq!(pong.text, "still");
    a.shutdown(true).await;
    b.shutdown(true).await;
}

#[tokio::test]
async fn unexpected_answer_type_is_an_error() {
    let h = node().await;
    let echo = h.spawn_named("echo", Echo).unwrap();
    let r = h.request_message::<Ping, _>(echo, &ping("x"), REQ).await;
    assert_eq!(
        r,
        Err(TransportError::UnexpectedType {
            expected: "protogossip.test.Ping".into(),
            found: "protogossip.test.Pong".into(),
        })
    );
    h.shutdown(true).await;
}

#[tokio::test]
async fn full_mailbox_drops_and_answers_dead_letter_without_stalling() {
    let (a, b) = (node().await, node().await);
    let gate = Arc::new(Notify::new());
    let handled = Arc::new(AtomicUsize::new(0));
    let (entered_tx, mut entered) = mpsc::unbounded_channel();
    let (g, n) = (Arc::clone(&gate), Arc::clone(&handled));
    let slow = b
        .spawn_with(
            Some("slow"),
            from_fn(move |_ctx: ActorContext, _m: ActorMessage| {
                let (g, n, e) = (Arc::clone(&g), Arc::clone(&n), entered_tx.clone());
                async move {
                    let _ = e.send(());
                    g.notified().await;
                    n.fetch_add(1, Ordering::SeqCst);
                }
            }),
            ActorOptions::default().with_mailbox_capacity(2),
        )
        .unwrap();
    let echo = b.spawn_named("echo", Echo).unwrap();
    let send = |text: &str| {
        a.tell(
            slow.clone(),
            RawMessage::protobuf(&ping(text)),
            None,
            Header::new(),
        )
        .unwrap();
    };
    // One in the handler (held there), then 2 fit in the mailbox and 8 drop.
    send("first");
    timeout(DEADLINE, entered.recv()).await.unwrap();
    for i in 0..10 {
        send(&i.to_string());
    }
    wait_metric(&b, |m| m.actor_mailbox_full == 8).await;
    assert_eq!(b.metrics().actor_messages, 3);
    // A requester of a dropped message fails fast.
    let r = a
        .request_message::<Pong, _>(slow.clone(), &ping("r"), REQ)
        .await;
    assert_eq!(
        r,
        Err(TransportError::DeadLetter {
            target: Some(slow.clone())
        })
    );
    assert_eq!(b.metrics().actor_mailbox_full, 9);
    // The stream and other actors go on.
    let pong: Pong = a.request_message(echo, &ping("other"), REQ).await.unwrap();
    assert_eq!(pong.text, "other");
    // The accepted ones are all handled once released.
    for expected in 1..=3 {
        gate.notify_one();
        if expected < 3 {
            timeout(DEADLINE, entered.recv()).await.unwrap();
        }
    }
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while handled.load(Ordering::SeqCst) < 3 {
        assert!(tokio::time::Instant::now() < deadline, "handled in time");
        tokio::task::yield_now().await;
    }
    a.shutdown(true).await;
    b.shutdown(true).await;
}

#[tokio::test]
async fn a_panicking_handler_stops_its_actor_only() {
    let (a, b) = (node().await, node().await);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let w = a.spawn_named("watcher", watcher(tx)).unwrap();
    let bomb = b
        .spawn_named(
            "bomb",
            from_fn(|_ctx: ActorContext, m: ActorMessage| async move {
                if m.downcast_ref::<Ping>().is_some_and(|p| p.text == "boom") {
                    panic!("boom");
                }
            }),
        )
        .unwrap();
    let echo = b.spawn_named("echo", Echo).unwrap();
    watch(&a, &w, &bomb).await;
    let _: Pong = a
        .request_message(echo.clone(), &ping("sync"), REQ)
        .await
        .unwrap();
    let r = a
        .request_message::<Pong, _>(bomb.clone(), &ping("boom"), REQ)
        .await;
    assert_eq!(
        r,
        Err(TransportError::DeadLetter {
            target: Some(bomb.clone())
        })
    );
    let t = next_terminated(&mut rx).await;
    assert_eq!(
        (t.who, t.why),
        (Some(bomb), TerminatedReason::Stopped as i32)
    );
    assert_eq!(b.metrics().actor_panics, 1);
    let pong: Pong = a.request_message(echo, &ping("alive"), REQ).await.unwrap();
    assert_eq!(pong.text, "alive");
    a.shutdown(true).await;
    b.shutdown(true).await;
}

#[tokio::test]
async fn local_tell_decodes_through_the_registry_with_its_header() {
    let h = node().await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _ = h
        .spawn_named(
            "probe",
            from_fn(move |ctx: ActorContext, m: ActorMessage| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send((ctx.header().clone(), m.downcast_ref::<Ping>().cloned()));
                }
            }),
        )
        .unwrap();
    h.tell(
        pid(h.address(), "probe"),
        RawMessage::protobuf(&ping("local")),
        None,
        Header::from([("k".to_owned(), "v".to_owned())]),
    )
    .unwrap();
    let (header, p) = rx.recv().await.unwrap();
    assert_eq!(header.get("k").map(String::as_str), Some("v"));
    assert_eq!(p, Some(ping("local")));
    h.shutdown(true).await;
}

#[tokio::test]
async fn a_watch_that_cannot_be_sent_is_answered_address_terminated() {
    let h = node().await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let w = h.spawn_named("watcher", watcher(tx)).unwrap();
    let nowhere = pid("not an address", "x");
    watch(&h, &w, &nowhere).await;
    let t = next_terminated(&mut rx).await;
    assert_eq!(
        (t.who, t.why),
        (Some(nowhere), TerminatedReason::AddressTerminated as i32)
    );
    h.shutdown(true).await;
}
