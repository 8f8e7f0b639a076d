//! A hosted kind: the [`Grain`] trait an application implements, the
//! [`GrainContext`] its handlers get, and the actor that runs one
//! activation (one identity) of a kind on the remote's actor host.
//!
//! Each activation is a hosted actor (`crate::remote`'s actors: one
//! mailbox, one message at a time). Its actor sorts what arrives:
//! `cluster.GrainRequest` goes through the kind's [`GrainMethods`] and is
//! answered as protoactor-go's generated server answers; anything else (a
//! plain `cluster.Request` with an application message) goes to
//! [`Grain::receive`].

use std::{fmt, future::Future, ops::Deref, sync::Arc};

use tracing::{error, warn};

use super::{
    GrainMetrics,
    methods::{CallFailure, CallOutcome, GrainMethods},
};
use crate::{
    remote::{ActorContext, ActorMessage, Header},
    wire::{
        WireMessage,
        proto::cluster::{ClusterIdentity, GrainRequest},
    },
};

/// One kind's grain: the application's state for one identity.
///
/// A grain is made by its kind's factory when an identity is first
/// activated here, and lives until it stops itself ([`ActorContext::stop`]),
/// is poisoned, panics in [`Grain::receive`], its identity moves to another
/// member with the topology, or the node shuts down.
///
/// ```
/// use protogossip::grain::{Grain, GrainContext, GrainMethods};
/// use protogossip::remote::ActorMessage;
/// use protogossip::wire::proto::actor::Pid;
///
/// /// Answers method 0 with a PID naming the grain's identity, and plain
/// /// requests of an `actor.PID` with itself.
/// struct Named;
///
/// impl Grain for Named {
///     fn methods() -> GrainMethods<Self> {
///         GrainMethods::new().method(0, "WhoAmI", |_g: &mut Named, ctx: &mut GrainContext, _req: Pid| {
///             Ok(Pid { address: ctx.self_pid().address.clone(), id: ctx.identity().to_owned(), request_id: 0 })
///         })
///     }
///
///     async fn receive(&mut self, ctx: &mut GrainContext, message: ActorMessage) {
///         if let Ok(pid) = message.into_message::<Pid>() {
///             let _ = ctx.respond(&pid);
///         }
///     }
/// }
/// ```
pub trait Grain: Send + Sized + 'static {
    /// The kind's methods for generated-client calls, built once when the
    /// kind is registered. None by default.
    fn methods() -> GrainMethods<Self> {
        GrainMethods::new()
    }

    /// Handles a message that is not a `GrainRequest` (Go's
    /// `ReceiveDefault`): a plain `cluster.Request`/`Send` with any
    /// registered message; answer with [`ActorContext::respond`]. Does
    /// nothing by default (a requester then times out, as with a Go grain
    /// that ignores the message).
    fn receive(
        &mut self,
        ctx: &mut GrainContext,
        message: ActorMessage,
    ) -> impl Future<Output = ()> + Send {
        let _ = (ctx, message);
        async {}
    }

    /// Called once when the activation has stopped (Go's `Terminate`).
    fn stopped(&mut self) {}
}

/// What a grain's handler can do: everything an actor can
/// ([`ActorContext`], through `Deref`), plus knowing its cluster identity.
#[derive(Clone)]
pub struct GrainContext {
    actor: ActorContext,
    identity: Arc<ClusterIdentity>,
}

impl fmt::Debug for GrainContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrainContext")
            .field("cluster_identity", &*self.identity)
            .field("actor", &self.actor)
            .finish()
    }
}

impl GrainContext {
    /// The grain's cluster identity (kind and identity).
    pub fn cluster_identity(&self) -> &ClusterIdentity {
        &self.identity
    }

    /// The identity within the kind (Go's `GrainContext.Identity()`).
    pub fn identity(&self) -> &str {
        &self.identity.identity
    }

    /// The kind (Go's `GrainContext.Kind()`).
    pub fn kind(&self) -> &str {
        &self.identity.kind
    }

    /// The actor context underneath.
    pub fn actor(&self) -> &ActorContext {
        &self.actor
    }
}

impl Deref for GrainContext {
    type Target = ActorContext;

    fn deref(&self) -> &ActorContext {
        &self.actor
    }
}

/// The actor running one activation of a kind.
pub(crate) struct GrainActor<G: Grain> {
    pub(crate) grain: G,
    pub(crate) identity: Arc<ClusterIdentity>,
    pub(crate) methods: Arc<GrainMethods<G>>,
    pub(crate) metrics: Arc<GrainMetrics>,
}

impl<G: Grain> GrainActor<G> {
    /// A `GrainRequest`: the method's answer, or `GrainErrorResponse`.
    fn call(&mut self, ctx: &mut GrainContext, request: &GrainRequest) {
        let metrics = &self.metrics;
        GrainMetrics::inc(&metrics.grain_requests);
        let index = request.method_index;
        let outcome = self
            .methods
            .call(&mut self.grain, ctx, index, &request.message_data);
        let answer = match outcome {
            CallOutcome::Response(raw) => raw,
            CallOutcome::Error(e, failure) => {
                let method = self.methods.name(index);
                let (kind, identity) = (ctx.kind(), ctx.identity());
                match failure {
                    CallFailure::UnknownMethod => {
                        GrainMetrics::inc(&metrics.grain_requests_unknown_method);
                        warn!(%kind, %identity, index, "GrainRequest for an unknown method index");
                    }
                    CallFailure::Malformed => {
                        GrainMetrics::inc(&metrics.grain_requests_malformed);
                        warn!(%kind, %identity, %method, error = %e.message,
                            "GrainRequest message_data does not decode");
                    }
                    CallFailure::Method => {
                        GrainMetrics::inc(&metrics.grain_method_errors);
                        tracing::debug!(%kind, %identity, %method, reason = %e.reason,
                            "grain method returned an error");
                    }
                    CallFailure::Panic => {
                        GrainMetrics::inc(&metrics.grain_method_panics);
                        error!(%kind, %identity, %method, message = %e.message,
                            "grain method panicked; stopping the activation");
                        // Its state may be half-updated: Go restarts the actor
                        // (fresh state); we stop it and the next call activates
                        // a fresh one.
                        ctx.stop();
                    }
                }
                WireMessage::from(e.to_response()).into()
            }
        };
        if let Err(e) = ctx.respond_raw(answer, Header::new()) {
            tracing::debug!(error = %e, "could not answer a GrainRequest");
        }
    }
}

impl<G: Grain> crate::remote::Actor for GrainActor<G> {
    async fn receive(&mut self, ctx: &mut ActorContext, message: ActorMessage) {
        let mut gctx = GrainContext {
            actor: ctx.clone(),
            identity: Arc::clone(&self.identity),
        };
        match message.into_wire() {
            Ok(WireMessage::GrainRequest(request)) => self.call(&mut gctx, &request),
            Ok(other) => self.grain.receive(&mut gctx, other.into()).await,
            Err(app) => self.grain.receive(&mut gctx, app).await,
        }
    }

    fn stopped(&mut self) {
        self.grain.stopped();
    }
}
