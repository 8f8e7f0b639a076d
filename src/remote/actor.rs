//! Hosted actors: Rust handlers that Go (and Rust) reach by PID.
//!
//! An actor is registered under an id on our address ([`Pid`] `{address,
//! id}`) and gets one bounded mailbox processed strictly in order by one
//! task on the remote's task set, so [`RemoteHandle::shutdown`] ends it.
//! The transport's router hands it every envelope whose target id it holds
//! (after the ids the transport answers itself); this module never reaches
//! back into the router, only through the small [`Transmit`] trait the
//! router implements, so the module graph stays acyclic.
//!
//! What follows protoactor-go, and where we differ, is in docs/actors.md.
//! In short:
//!
//! - `actor.Watch`/`actor.Unwatch` for a hosted id add/remove the watcher;
//!   when the actor stops every watcher gets `actor.Terminated{who, Stopped}`.
//!   `actor.Stop` stops it at once (Go's system message), `actor.PoisonPill`
//!   after the messages queued before it (Go's auto-receive message).
//! - An actor watching any PID sends `actor.Watch{watcher: self}` to it;
//!   the inbound `actor.Terminated` is delivered to the actor as a message
//!   and clears the watch; when our endpoint to the watchee's address
//!   terminates, every watcher there gets `Terminated{AddressTerminated}`
//!   (Go's endpoint watcher does the same).
//! - A full mailbox drops the message (counted, logged at most once per
//!   1024 drops per actor) and answers a requester with
//!   `DeadLetterResponse` so its future fails fast; the inbound stream
//!   never waits.
//! - A handler that panics stops its actor (Go restarts it): watchers get
//!   `Terminated{Stopped}`, the requester of the failed message and of
//!   every message still queued gets `DeadLetterResponse`.
//!
//! [`RemoteHandle::shutdown`]: super::RemoteHandle::shutdown

mod host;

use std::{future::Future, sync::Arc, time::Duration};

pub(crate) use host::{Cell, Host, Transmit};

use super::{
    TransportError,
    message::{ActorMessage, Header, RawMessage, TypeRegistry},
};
use crate::wire::proto::actor::Pid;

/// The mailbox capacity of an actor started without [`ActorOptions`].
pub const DEFAULT_MAILBOX_CAPACITY: usize = 1024;

/// How an actor is hosted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ActorOptions {
    /// How many messages may wait in its mailbox; more are dropped
    /// (counted in `actor_mailbox_full`). At least 1.
    pub mailbox_capacity: usize,
    /// Stops the actor when no message has reached it for this long
    /// (passivation, as protoactor-go's generated grains do on their
    /// `ReceiveTimeout`); counted in `actor_idle_stops`. `None` (the
    /// default): never.
    pub idle_timeout: Option<Duration>,
}

impl Default for ActorOptions {
    fn default() -> Self {
        Self {
            mailbox_capacity: DEFAULT_MAILBOX_CAPACITY,
            idle_timeout: None,
        }
    }
}

with_fields!(ActorOptions {
    with_mailbox_capacity => mailbox_capacity: usize,
    with_idle_timeout => idle_timeout: into Option<Duration>,
});

/// A hosted actor: handles one message at a time, in mailbox order.
///
/// `receive` gets every message sent to the actor's PID, including
/// `actor.Terminated` for PIDs it watches ([`ActorMessage::terminated`]).
/// `actor.Watch`, `actor.Unwatch`, `actor.Stop` and `actor.PoisonPill` are
/// handled by the host and never reach it.
///
/// ```
/// use protogossip::remote::{Actor, ActorContext, ActorMessage};
/// use protogossip::wire::proto::actor::Pid;
///
/// /// Answers every `actor.PID` with itself.
/// struct Echo;
///
/// impl Actor for Echo {
///     async fn receive(&mut self, ctx: &mut ActorContext, message: ActorMessage) {
///         if let Ok(pid) = message.into_message::<Pid>() {
///             let _ = ctx.respond(&pid);
///         }
///     }
/// }
/// ```
pub trait Actor: Send + 'static {
    /// Handles one message; `ctx` knows its sender and header and answers.
    fn receive(
        &mut self,
        ctx: &mut ActorContext,
        message: ActorMessage,
    ) -> impl Future<Output = ()> + Send;

    /// Called once after the actor has stopped (unregistered, `Stop`,
    /// `PoisonPill`, a panic or the remote's shutdown) and before its
    /// watchers are told. Does nothing by default.
    fn stopped(&mut self) {}
}

/// An actor made of a closure: see [`from_fn`].
pub struct FnActor<F>(F);

/// An actor that calls `f(ctx, message)` for every message. `ctx` is a
/// clone of the message's context, so the future can own it.
///
/// ```
/// use protogossip::remote::{from_fn, ActorContext, ActorMessage};
///
/// let echo = from_fn(|ctx: ActorContext, message: ActorMessage| async move {
///     let _ = ctx.respond_raw(
///         protogossip::remote::RawMessage::new(message.type_name(), 0, message.data().into_owned()),
///         Default::default(),
///     );
/// });
/// # let _ = echo;
/// ```
pub fn from_fn<F, Fut>(f: F) -> FnActor<F>
where
    F: FnMut(ActorContext, ActorMessage) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    FnActor(f)
}

impl<F, Fut> Actor for FnActor<F>
where
    F: FnMut(ActorContext, ActorMessage) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn receive(
        &mut self,
        ctx: &mut ActorContext,
        message: ActorMessage,
    ) -> impl Future<Output = ()> + Send {
        (self.0)(ctx.clone(), message)
    }
}

/// What an actor's handler can do while handling one message: read its
/// sender and header, answer, send and request, watch, stop.
#[derive(Clone)]
pub struct ActorContext {
    host: Arc<Host>,
    cell: Arc<Cell>,
    sender: Option<Pid>,
    header: Header,
}

impl std::fmt::Debug for ActorContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActorContext")
            .field("self", self.cell.pid())
            .field("sender", &self.sender)
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl ActorContext {
    /// The actor's own PID.
    pub fn self_pid(&self) -> &Pid {
        self.cell.pid()
    }

    /// Who sent the current message, with its `request_id` as it arrived
    /// (a Go requester's `future$N` PID), if anybody.
    pub fn sender(&self) -> Option<&Pid> {
        self.sender.as_ref()
    }

    /// The current message's header (empty when it had none).
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The remote's application message types.
    pub fn types(&self) -> &TypeRegistry {
        self.host.types()
    }

    /// Answers the sender of the current message (Go's `ctx.Respond`):
    /// sent to the sender PID as it arrived, so Go's future gets its
    /// `target_request_id` back, with no sender of ours. Serialized as the
    /// type registry says ([`TypeRegistry::encode`]).
    ///
    /// # Errors
    /// [`TransportError::DeadLetter`] when the message had no sender, any
    /// send error otherwise.
    pub fn respond<M: prost::Message + prost::Name + 'static>(
        &self,
        message: &M,
    ) -> Result<(), TransportError> {
        self.respond_raw(self.types().encode(message)?, Header::new())
    }

    /// [`Self::respond`] with an already serialized message and a header.
    ///
    /// # Errors
    /// As [`Self::respond`].
    pub fn respond_raw(&self, message: RawMessage, header: Header) -> Result<(), TransportError> {
        let Some(sender) = self.sender.clone() else {
            return Err(TransportError::DeadLetter { target: None });
        };
        self.host.tell(sender, message, None, header)
    }

    /// Sends `message` to `target` with no sender (Go's `ctx.Send`).
    ///
    /// # Errors
    /// Any send error ([`TransportError::Blocked`], `QueueFull`, ...).
    pub fn send<M: prost::Message + prost::Name + 'static>(
        &self,
        target: Pid,
        message: &M,
    ) -> Result<(), TransportError> {
        self.host
            .tell(target, self.types().encode(message)?, None, Header::new())
    }

    /// Sends `message` to `target` with this actor as the sender (Go's
    /// `ctx.Request`): the answer arrives in this actor's mailbox.
    ///
    /// # Errors
    /// As [`Self::send`].
    pub fn request<M: prost::Message + prost::Name + 'static>(
        &self,
        target: Pid,
        message: &M,
    ) -> Result<(), TransportError> {
        self.host.tell(
            target,
            self.types().encode(message)?,
            Some(self.cell.pid().clone()),
            Header::new(),
        )
    }

    /// Sends anything to `target` with any sender and header.
    ///
    /// # Errors
    /// As [`Self::send`].
    pub fn tell(
        &self,
        target: Pid,
        message: RawMessage,
        sender: Option<Pid>,
        header: Header,
    ) -> Result<(), TransportError> {
        self.host.tell(target, message, sender, header)
    }

    /// Requests `message` from `target` through a fresh `future$N` PID and
    /// waits for the answer as `R` (Go's `ctx.RequestFuture(...).Result()`).
    /// The actor handles nothing else meanwhile.
    ///
    /// # Errors
    /// [`TransportError::Timeout`], [`TransportError::DeadLetter`],
    /// [`TransportError::UnexpectedType`] and the send errors.
    pub async fn request_future<R, M>(
        &self,
        target: Pid,
        message: &M,
        timeout: Duration,
    ) -> Result<R, TransportError>
    where
        R: prost::Message + prost::Name + Default + 'static,
        M: prost::Message + prost::Name + 'static,
    {
        self.host.request(target, message, timeout).await
    }

    /// Watches `pid`: this actor gets `actor.Terminated` when it stops
    /// (`Stopped`), does not exist (`NotFound`) or its node's connection is
    /// lost (`AddressTerminated`). Watching twice is one watch.
    pub fn watch(&self, pid: &Pid) {
        self.host.watch(&self.cell, pid);
    }

    /// Stops watching `pid` (sends `actor.Unwatch`).
    pub fn unwatch(&self, pid: &Pid) {
        self.host.unwatch(&self.cell, pid);
    }

    /// Stops this actor once the current message is handled; queued
    /// messages are dead-lettered and watchers get `Terminated{Stopped}`.
    pub fn stop(&self) {
        self.cell.stop();
    }
}
