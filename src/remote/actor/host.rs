//! The table of hosted actors, their mailboxes and tasks, and both watch
//! tables (who watches our actors; what our actors watch).

use std::{
    collections::{BTreeSet, HashMap},
    panic::AssertUnwindSafe,
    sync::{
        Arc, Mutex, MutexGuard, OnceLock, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use futures_util::FutureExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, warn};

use super::{Actor, ActorContext, ActorOptions};
use crate::{
    remote::{
        ActorError, RemoteEvent, RemoteMetrics, TransportError, dead_letter,
        event::EventListener,
        message::{ActorMessage, Header, RawMessage, TypeRegistry},
        outbound::OutboundBody,
        pending::{PendingRequests, go_base64},
        tasks::Tasks,
    },
    wire::{
        WireMessage,
        proto::actor::{Pid, Terminated, TerminatedReason, Unwatch, Watch},
    },
};

/// How the host sends: implemented by the router (local delivery or an
/// endpoint), which the host must not name.
pub(crate) trait Transmit: Send + Sync {
    /// Sends `body` to `target` (fails once shutdown has begun).
    fn transmit(
        &self,
        target: Pid,
        body: OutboundBody,
        sender: Option<Pid>,
        header: Header,
    ) -> Result<(), TransportError>;

    /// Sends a last word (`Terminated` to a watcher) also after shutdown has
    /// begun, while the endpoints still take messages.
    fn transmit_final(&self, target: Pid, body: OutboundBody) -> Result<(), TransportError>;
}

/// A message in a mailbox.
struct Envelope {
    message: ActorMessage,
    sender: Option<Pid>,
    header: Header,
}

/// One hosted actor as the router and host see it.
pub(crate) struct Cell {
    pid: Pid,
    mailbox: mpsc::Sender<Envelope>,
    /// `Terminated` of PIDs it watches: at most one per watch, so unbounded
    /// is bounded by the watches the actor made.
    system: mpsc::UnboundedSender<Terminated>,
    stop: CancellationToken,
    /// Who watches it; `None` once they have been told it stopped.
    watchers: Mutex<Option<Vec<Pid>>>,
    dropped: AtomicU64,
}

impl Cell {
    pub(crate) fn pid(&self) -> &Pid {
        &self.pid
    }

    /// Asks the actor's task to stop after its current message.
    pub(crate) fn stop(&self) {
        self.stop.cancel();
    }

    fn watchers(&self) -> MutexGuard<'_, Option<Vec<Pid>>> {
        self.watchers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn same_pid(a: &Pid, b: &Pid) -> bool {
    a.address == b.address && a.id == b.id
}

/// Watches our actors hold on other PIDs: watchee address → watchee id →
/// ids of our watching actors.
type Watching = HashMap<String, HashMap<String, BTreeSet<String>>>;

/// Every hosted actor of one remote.
pub(crate) struct Host {
    address: String,
    types: TypeRegistry,
    pending: Arc<PendingRequests>,
    metrics: Arc<RemoteMetrics>,
    tasks: Tasks,
    transmit: OnceLock<Box<dyn Transmit>>,
    actors: Mutex<HashMap<String, Arc<Cell>>>,
    watching: Mutex<Watching>,
    next_id: AtomicU64,
}

impl Host {
    pub(crate) fn new(
        address: String,
        pending: Arc<PendingRequests>,
        metrics: Arc<RemoteMetrics>,
        tasks: Tasks,
    ) -> Self {
        Self {
            address,
            types: TypeRegistry::new(),
            pending,
            metrics,
            tasks,
            transmit: OnceLock::new(),
            actors: Mutex::new(HashMap::new()),
            watching: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        }
    }

    /// Connects the host to the router (once, right after both exist).
    pub(crate) fn set_transmit(&self, transmit: Box<dyn Transmit>) {
        let _ = self.transmit.set(transmit);
    }

    pub(crate) fn types(&self) -> &TypeRegistry {
        &self.types
    }

    /// Our waiting requests (shared with the router, which completes them).
    pub(crate) fn pending(&self) -> &Arc<PendingRequests> {
        &self.pending
    }

    fn actors(&self) -> MutexGuard<'_, HashMap<String, Arc<Cell>>> {
        self.actors.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn watching(&self) -> MutexGuard<'_, Watching> {
        self.watching.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn send(
        &self,
        target: Pid,
        body: OutboundBody,
        sender: Option<Pid>,
        header: Header,
    ) -> Result<(), TransportError> {
        match self.transmit.get() {
            Some(t) => t.transmit(target, body, sender, header),
            None => Err(TransportError::ShuttingDown),
        }
    }

    fn send_final(&self, target: Pid, body: OutboundBody) {
        if let Some(t) = self.transmit.get()
            && let Err(e) = t.transmit_final(target, body)
        {
            debug!(error = %e, "could not send Terminated to a watcher");
        }
    }

    /// The actor hosted under `id`.
    pub(crate) fn get(&self, id: &str) -> Option<Arc<Cell>> {
        self.actors().get(id).cloned()
    }

    /// Ids of every hosted actor, sorted.
    pub(crate) fn ids(&self) -> Vec<String> {
        let mut ids: Vec<_> = self.actors().keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Hosts `actor` under `name`, or under a fresh `$N` id (Go's process
    /// registry spelling) when `name` is `None`. The caller has checked the
    /// name against the ids the transport answers itself.
    pub(crate) fn spawn<A: Actor>(
        self: &Arc<Self>,
        name: Option<&str>,
        actor: A,
        options: ActorOptions,
    ) -> Result<Pid, ActorError> {
        if !self.tasks.is_running() {
            return Err(ActorError::ShuttingDown);
        }
        let (mailbox, mailbox_rx) = mpsc::channel(options.mailbox_capacity.max(1));
        let (system, system_rx) = mpsc::unbounded_channel();
        let cell = {
            let mut actors = self.actors();
            let id = match name {
                Some(n) if actors.contains_key(n) => {
                    return Err(ActorError::NameTaken(n.to_owned()));
                }
                Some(n) => n.to_owned(),
                None => loop {
                    let n = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
                    let id = format!("${}", go_base64(n));
                    if !actors.contains_key(&id) {
                        break id;
                    }
                },
            };
            let cell = Arc::new(Cell {
                pid: Pid {
                    address: self.address.clone(),
                    id: id.clone(),
                    request_id: 0,
                },
                mailbox,
                system,
                stop: CancellationToken::new(),
                watchers: Mutex::new(Some(Vec::new())),
                dropped: AtomicU64::new(0),
            });
            actors.insert(id, Arc::clone(&cell));
            cell
        };
        RemoteMetrics::inc(&self.metrics.actors_started);
        debug!(pid = ?cell.pid, "actor started");
        let pid = cell.pid.clone();
        self.tasks.spawn(run(
            Arc::clone(self),
            cell,
            actor,
            (mailbox_rx, system_rx),
            options.idle_timeout,
        ));
        Ok(pid)
    }

    /// Unregisters and stops the actor `id`. False when there is none.
    pub(crate) fn stop(&self, id: &str) -> bool {
        match self.actors().remove(id) {
            Some(cell) => {
                cell.stop();
                true
            }
            None => false,
        }
    }

    /// Stops every actor (the remote is shutting down). Graceful: their
    /// watchers are told now, while the endpoints still take messages.
    /// Returns how many `Terminated` went to other nodes.
    pub(crate) fn stop_all(&self, graceful: bool) -> usize {
        let cells: Vec<_> = self.actors().drain().map(|(_, c)| c).collect();
        let mut told = 0;
        for cell in cells {
            cell.stop();
            if graceful {
                told += self.tell_watchers(&cell);
            } else {
                cell.watchers().take();
            }
        }
        told
    }

    /// Sends `message` to `target` with an optional sender and header.
    pub(crate) fn tell(
        &self,
        target: Pid,
        message: RawMessage,
        sender: Option<Pid>,
        header: Header,
    ) -> Result<(), TransportError> {
        self.send(target, OutboundBody::Raw(message), sender, header)
    }

    /// Sends `body` with a fresh `future$N` sender on our address and waits
    /// for the first answer.
    pub(crate) async fn ask_body(
        &self,
        target: Pid,
        body: OutboundBody,
        header: Header,
        timeout: Duration,
    ) -> Result<ActorMessage, TransportError> {
        let (id, rx) = self.pending.register();
        let sender = Pid {
            address: self.address.clone(),
            id: id.clone(),
            request_id: 0,
        };
        if let Err(e) = self.send(target, body, Some(sender), header) {
            self.pending.remove(&id);
            return Err(e);
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(TransportError::ShuttingDown),
            Err(_) => {
                self.pending.remove(&id);
                RemoteMetrics::inc(&self.metrics.requests_timed_out);
                Err(TransportError::Timeout)
            }
        }
    }

    /// [`Self::ask_body`] for a serialized message.
    pub(crate) async fn ask(
        &self,
        target: Pid,
        message: RawMessage,
        header: Header,
        timeout: Duration,
    ) -> Result<ActorMessage, TransportError> {
        self.ask_body(target, OutboundBody::Raw(message), header, timeout)
            .await
    }

    /// Requests `message` (serialized as the registry says) and decodes the
    /// answer as `R`.
    pub(crate) async fn request<R, M>(
        &self,
        target: Pid,
        message: &M,
        timeout: Duration,
    ) -> Result<R, TransportError>
    where
        R: prost::Message + prost::Name + Default + 'static,
        M: prost::Message + prost::Name + 'static,
    {
        let raw = self.types.encode(message)?;
        self.ask(target, raw, Header::new(), timeout)
            .await?
            .into_message()
    }

    /// A message nobody will handle: counted, and a requester gets
    /// `DeadLetterResponse{target}` (never in answer to one).
    fn dead_letter(&self, target: &Pid, sender: Option<Pid>, what: &str) {
        dead_letter::answer(&self.metrics, target.clone(), sender, what, |to, answer| {
            if let Err(e) = self.send(to, answer.into(), None, Header::new()) {
                debug!(error = %e, "could not send DeadLetterResponse");
            }
        });
    }

    /// Delivers one message for the hosted actor `cell` (from the router).
    pub(crate) fn deliver(
        &self,
        cell: &Arc<Cell>,
        target: Pid,
        sender: Option<Pid>,
        header: Header,
        message: ActorMessage,
    ) {
        match message.as_wire() {
            Some(WireMessage::Watch(Watch {
                watcher: Some(watcher),
            })) => {
                let watcher = watcher.clone();
                let added = cell.watchers().as_mut().map(|w| {
                    if !w.iter().any(|p| same_pid(p, &watcher)) {
                        w.push(watcher.clone());
                    }
                });
                if added.is_none() {
                    // Stopped meanwhile: Go's dead-letter process answers so.
                    self.send_terminated(watcher, &cell.pid, TerminatedReason::NotFound);
                }
            }
            Some(WireMessage::Unwatch(Unwatch {
                watcher: Some(watcher),
            })) => {
                if let Some(w) = cell.watchers().as_mut() {
                    w.retain(|p| !same_pid(p, watcher));
                }
            }
            Some(WireMessage::Stop(_)) => {
                if self.stop(&cell.pid.id) {
                    debug!(pid = ?cell.pid, "actor.Stop received");
                }
            }
            Some(WireMessage::Terminated(t)) => {
                let t = t.clone();
                self.on_terminated(cell, t);
            }
            Some(WireMessage::Watch(_) | WireMessage::Unwatch(_)) => {
                RemoteMetrics::inc(&self.metrics.envelopes_dead_lettered);
            }
            _ => {
                let envelope = Envelope {
                    message,
                    sender,
                    header,
                };
                match cell.mailbox.try_send(envelope) {
                    Ok(()) => {
                        RemoteMetrics::inc(&self.metrics.inbound_envelopes);
                        RemoteMetrics::inc(&self.metrics.actor_messages);
                    }
                    Err(mpsc::error::TrySendError::Full(e)) => {
                        RemoteMetrics::inc(&self.metrics.actor_mailbox_full);
                        let n = cell.dropped.fetch_add(1, Ordering::Relaxed);
                        if n.is_multiple_of(1024) {
                            warn!(pid = ?cell.pid, dropped = n + 1,
                                "actor mailbox full: dropping message (logged once per 1024 drops)");
                        }
                        self.dead_letter(&target, e.sender, e.message.type_name());
                    }
                    Err(mpsc::error::TrySendError::Closed(e)) => {
                        self.dead_letter(&target, e.sender, e.message.type_name());
                    }
                }
            }
        }
    }

    fn send_terminated(&self, watcher: Pid, who: &Pid, why: TerminatedReason) {
        RemoteMetrics::inc(&self.metrics.actor_terminated_sent);
        let message = Terminated {
            who: Some(who.clone()),
            why: why as i32,
        };
        self.send_final(watcher, WireMessage::from(message).into());
    }

    /// Tells every watcher of `cell` that it stopped (once); returns how
    /// many of them are on other nodes.
    fn tell_watchers(&self, cell: &Cell) -> usize {
        let watchers = cell.watchers().take().unwrap_or_default();
        let n = watchers
            .iter()
            .filter(|w| w.address != self.address)
            .count();
        for w in watchers {
            self.send_terminated(w, &cell.pid, TerminatedReason::Stopped);
        }
        n
    }

    /// `cell` watches `pid`.
    pub(crate) fn watch(&self, cell: &Cell, pid: &Pid) {
        self.watching()
            .entry(pid.address.clone())
            .or_default()
            .entry(pid.id.clone())
            .or_default()
            .insert(cell.pid.id.clone());
        let watch = Watch {
            watcher: Some(cell.pid.clone()),
        };
        if let Err(e) = self.send(
            pid.clone(),
            WireMessage::from(watch).into(),
            None,
            Header::new(),
        ) {
            // Nothing will ever answer: the address is as good as gone.
            debug!(error = %e, watchee = ?pid, "cannot send Watch");
            if self.remove_watch(&cell.pid.id, pid) {
                let _ = cell.system.send(Terminated {
                    who: Some(pid.clone()),
                    why: TerminatedReason::AddressTerminated as i32,
                });
            }
        }
    }

    /// `cell` stops watching `pid`.
    pub(crate) fn unwatch(&self, cell: &Cell, pid: &Pid) {
        if self.remove_watch(&cell.pid.id, pid) {
            let unwatch = Unwatch {
                watcher: Some(cell.pid.clone()),
            };
            let _ = self.send(
                pid.clone(),
                WireMessage::from(unwatch).into(),
                None,
                Header::new(),
            );
        }
    }

    /// Removes the watch of our actor `watcher` on `pid`; true when it was
    /// there.
    fn remove_watch(&self, watcher: &str, pid: &Pid) -> bool {
        let mut watching = self.watching();
        let Some(ids) = watching.get_mut(&pid.address) else {
            return false;
        };
        let removed = ids.get_mut(&pid.id).is_some_and(|w| w.remove(watcher));
        if ids.get(&pid.id).is_some_and(BTreeSet::is_empty) {
            ids.remove(&pid.id);
        }
        if ids.is_empty() {
            watching.remove(&pid.address);
        }
        removed
    }

    /// `actor.Terminated{who, why}` for our actor `cell`: delivered to it
    /// when it watches `who` (and the watch is cleared), ignored otherwise.
    fn on_terminated(&self, cell: &Cell, t: Terminated) {
        let Some(who) = &t.who else {
            RemoteMetrics::inc(&self.metrics.envelopes_dead_lettered);
            return;
        };
        if self.remove_watch(&cell.pid.id, who) {
            let _ = cell.system.send(t);
        } else {
            debug!(pid = ?cell.pid, ?who, "Terminated for a PID the actor does not watch");
        }
    }

    /// Our endpoint to `address` terminated: every actor watching a PID
    /// there gets `Terminated{AddressTerminated}` and the watches end.
    pub(crate) fn address_terminated(&self, address: &str) {
        let Some(ids) = self.watching().remove(address) else {
            return;
        };
        for (id, watchers) in ids {
            let who = Pid {
                address: address.to_owned(),
                id,
                request_id: 0,
            };
            for w in watchers {
                if let Some(cell) = self.get(&w) {
                    RemoteMetrics::inc(&self.metrics.actor_address_terminated);
                    let _ = cell.system.send(Terminated {
                        who: Some(who.clone()),
                        why: TerminatedReason::AddressTerminated as i32,
                    });
                }
            }
        }
    }

    /// Forgets every watch our actor `id` holds.
    fn forget_watches_of(&self, id: &str) {
        let mut watching = self.watching();
        watching.retain(|_, ids| {
            ids.retain(|_, watchers| {
                watchers.remove(id);
                !watchers.is_empty()
            });
            !ids.is_empty()
        });
    }

    /// After the actor's task has left its loop.
    fn finish(&self, cell: &Arc<Cell>, mut mailbox: mpsc::Receiver<Envelope>) {
        {
            let mut actors = self.actors();
            if actors
                .get(&cell.pid.id)
                .is_some_and(|c| Arc::ptr_eq(c, cell))
            {
                actors.remove(&cell.pid.id);
            }
        }
        mailbox.close();
        while let Ok(e) = mailbox.try_recv() {
            self.dead_letter(&cell.pid, e.sender, e.message.type_name());
        }
        self.forget_watches_of(&cell.pid.id);
        let _ = self.tell_watchers(cell);
        RemoteMetrics::inc(&self.metrics.actors_stopped);
        debug!(pid = ?cell.pid, "actor stopped");
    }
}

impl EventListener for Host {
    fn on_event(&self, event: &RemoteEvent) {
        if let RemoteEvent::EndpointTerminated { address, .. } = event {
            self.address_terminated(address);
        }
    }
}

/// Waits `idle` (forever for `None`).
async fn idle_for(idle: Option<std::time::Duration>) {
    match idle {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

/// The actor's task: one message at a time, `Terminated` notifications
/// first, until it is stopped or, with an idle timeout, no message came
/// within it.
async fn run<A: Actor>(
    host: Arc<Host>,
    cell: Arc<Cell>,
    mut actor: A,
    (mut mailbox, mut system): (
        mpsc::Receiver<Envelope>,
        mpsc::UnboundedReceiver<Terminated>,
    ),
    idle: Option<std::time::Duration>,
) {
    loop {
        let envelope = tokio::select! {
            biased;
            () = cell.stop.cancelled() => break,
            Some(t) = system.recv() => Envelope {
                message: WireMessage::from(t).into(),
                sender: None,
                header: Header::new(),
            },
            m = mailbox.recv() => match m {
                Some(e) => e,
                None => break,
            },
            () = idle_for(idle) => {
                RemoteMetrics::inc(&host.metrics.actor_idle_stops);
                tracing::debug!(pid = ?cell.pid, ?idle, "actor idle for its timeout; stopping it");
                break;
            }
        };
        if matches!(envelope.message.as_wire(), Some(WireMessage::PoisonPill(_))) {
            host.stop(&cell.pid.id);
            break;
        }
        let mut ctx = ActorContext {
            host: Arc::clone(&host),
            cell: Arc::clone(&cell),
            sender: envelope.sender,
            header: envelope.header,
        };
        let handled = AssertUnwindSafe(actor.receive(&mut ctx, envelope.message))
            .catch_unwind()
            .await;
        if let Err(panic) = handled {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            RemoteMetrics::inc(&host.metrics.actor_panics);
            error!(pid = ?cell.pid, panic = %what, "actor panicked; stopping it");
            host.stop(&cell.pid.id);
            host.dead_letter(
                &cell.pid,
                ctx.sender.take(),
                "a message its handler panicked on",
            );
            break;
        }
    }
    host.stop(&cell.pid.id);
    actor.stopped();
    host.finish(&cell, mailbox);
}
