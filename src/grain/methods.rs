//! Typed grain methods: the table a kind's generated-client calls
//! (`cluster.GrainRequest{method_index, message_data}`) are dispatched
//! through, and the error a method returns.
//!
//! protoactor-go's `protoc-gen-go-grain` numbers a service's methods from 0
//! in declaration order; its client marshals the request into
//! `message_data` (it leaves `message_type_name` empty) and its server
//! answers with the method's response message itself (not
//! `cluster.GrainResponse`), or with `cluster.GrainErrorResponse` built from
//! the method's error. [`GrainMethods`] is that server without generated
//! code: one closure per index, decoding the request type and encoding the
//! response type.

use std::{collections::BTreeMap, fmt, panic::AssertUnwindSafe};

use super::GrainContext;
use crate::{remote::RawMessage, wire::proto::cluster::GrainErrorResponse};

/// The reasons protoactor-go's `cluster.ErrorReason_*` spell (gRPC's codes
/// by name); a Go caller tests them with the generated `Is…` helpers.
pub mod reason {
    /// Not an error.
    pub const OK: &str = "OK";
    /// The call was cancelled.
    pub const CANCELLED: &str = "CANCELLED";
    /// Any other error (what Go's `FromError` gives a plain error).
    pub const UNKNOWN: &str = "UNKNOWN";
    /// The request is invalid (Go's answer to undecodable `message_data`).
    pub const INVALID_ARGUMENT: &str = "INVALID_ARGUMENT";
    /// A deadline passed.
    pub const DEADLINE_EXCEEDED: &str = "DEADLINE_EXCEEDED";
    /// Something was not found.
    pub const NOT_FOUND: &str = "NOT_FOUND";
    /// Something exists already.
    pub const ALREADY_EXISTS: &str = "ALREADY_EXISTS";
    /// The caller may not do this.
    pub const PERMISSION_DENIED: &str = "PERMISSION_DENIED";
    /// Out of some resource.
    pub const RESOURCE_EXHAUSTED: &str = "RESOURCE_EXHAUSTED";
    /// The grain is not in a state for this call.
    pub const FAILED_PRECONDITION: &str = "FAILED_PRECONDITION";
    /// Aborted.
    pub const ABORTED: &str = "ABORTED";
    /// Out of range.
    pub const OUT_OF_RANGE: &str = "OUT_OF_RANGE";
    /// No such method (our answer to an unknown method index).
    pub const UNIMPLEMENTED: &str = "UNIMPLEMENTED";
    /// A bug (our answer when a method panics).
    pub const INTERNAL: &str = "INTERNAL";
    /// Try again later.
    pub const UNAVAILABLE: &str = "UNAVAILABLE";
    /// Data was lost.
    pub const DATA_LOSS: &str = "DATA_LOSS";
    /// The caller is not authenticated.
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
}

/// What a grain method returns instead of its response: sent to the caller
/// as `cluster.GrainErrorResponse{reason, message, metadata}`, which a Go
/// generated client returns as its `error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("grain error, reason: {reason}, message: {message}")]
pub struct GrainError {
    /// One of [`reason`] (any string travels).
    pub reason: String,
    /// Human-readable text.
    pub message: String,
    /// Extra key/value pairs.
    pub metadata: BTreeMap<String, String>,
}

impl GrainError {
    /// An error with a reason and a message and no metadata.
    pub fn new(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            message: message.into(),
            metadata: BTreeMap::new(),
        }
    }

    /// `reason::UNKNOWN` with `message` (Go's `FromError` of a plain error).
    pub fn unknown(message: impl Into<String>) -> Self {
        Self::new(reason::UNKNOWN, message)
    }

    /// Adds one metadata entry.
    #[must_use]
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// The wire form.
    pub fn to_response(&self) -> GrainErrorResponse {
        GrainErrorResponse {
            reason: self.reason.clone(),
            message: self.message.clone(),
            metadata: self.metadata.clone(),
        }
    }
}

impl From<GrainErrorResponse> for GrainError {
    fn from(r: GrainErrorResponse) -> Self {
        Self {
            reason: r.reason,
            message: r.message,
            metadata: r.metadata,
        }
    }
}

/// How one call ended, before it is answered.
pub(crate) enum CallOutcome {
    /// The method's response, encoded.
    Response(RawMessage),
    /// An error to answer with; `bad_input` says which counter it is.
    Error(GrainError, CallFailure),
}

/// Why a call was answered with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallFailure {
    /// No method at that index.
    UnknownMethod,
    /// `message_data` is not the method's request type.
    Malformed,
    /// The method returned an error.
    Method,
    /// The method panicked.
    Panic,
}

type MethodFn<G> = Box<dyn Fn(&mut G, &mut GrainContext, &[u8]) -> CallOutcome + Send + Sync>;

struct Method<G> {
    name: &'static str,
    call: MethodFn<G>,
}

/// A kind's methods by index, as its generated Go client numbers them
/// (declaration order in the `.proto` service, from 0).
///
/// ```
/// use protogossip::grain::{Grain, GrainContext, GrainError, GrainMethods, reason};
/// use protogossip::wire::proto::actor::Pid;
///
/// struct Counter { n: u64 }
///
/// impl Grain for Counter {
///     fn methods() -> GrainMethods<Self> {
///         GrainMethods::new()
///             // A request and a response type (any prost message with a
///             // `prost::Name`; here protoactor's own `actor.PID`).
///             .method(0, "Echo", |_g: &mut Counter, _ctx: &mut GrainContext, req: Pid| Ok(req))
///             .method(1, "Fail", |_g: &mut Counter, _ctx: &mut GrainContext, _req: Pid| {
///                 Err::<Pid, _>(GrainError::new(reason::NOT_FOUND, "nothing here"))
///             })
///     }
/// }
/// ```
pub struct GrainMethods<G> {
    methods: BTreeMap<i32, Method<G>>,
}

impl<G> Default for GrainMethods<G> {
    fn default() -> Self {
        Self {
            methods: BTreeMap::new(),
        }
    }
}

impl<G> fmt::Debug for GrainMethods<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.methods.iter().map(|(i, m)| (i, m.name)))
            .finish()
    }
}

impl<G: Send + 'static> GrainMethods<G> {
    /// No methods: every `GrainRequest` is answered `UNIMPLEMENTED`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the method `index` (a later one at the same index replaces an
    /// earlier one). `name` is for logs. The request is decoded from
    /// `message_data` as `Req`; the `Ok` answer is sent as `Resp` (as the
    /// grain's type registry encodes it: protobuf unless registered for
    /// JSON), the `Err` as `GrainErrorResponse`. Methods are synchronous,
    /// like the generated Go ones; a grain that must wait answers later
    /// through [`ActorContext::respond`](crate::remote::ActorContext::respond).
    #[must_use]
    pub fn method<Req, Resp, F>(mut self, index: i32, name: &'static str, f: F) -> Self
    where
        Req: prost::Message + Default + 'static,
        Resp: prost::Message + prost::Name + 'static,
        F: Fn(&mut G, &mut GrainContext, Req) -> Result<Resp, GrainError> + Send + Sync + 'static,
    {
        let call = move |grain: &mut G, ctx: &mut GrainContext, data: &[u8]| {
            let request = match Req::decode(data) {
                Ok(r) => r,
                Err(e) => {
                    // Go's generated server puts the partly decoded request's
                    // text under "argument"; prost keeps nothing, so it is empty.
                    let error = GrainError::new(reason::INVALID_ARGUMENT, e.to_string())
                        .with_metadata("argument", "");
                    return CallOutcome::Error(error, CallFailure::Malformed);
                }
            };
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| f(grain, ctx, request)));
            match result {
                Ok(Ok(response)) => match ctx.types().encode(&response) {
                    Ok(raw) => CallOutcome::Response(raw),
                    Err(e) => CallOutcome::Error(
                        GrainError::new(reason::INTERNAL, e.to_string()),
                        CallFailure::Method,
                    ),
                },
                Ok(Err(e)) => CallOutcome::Error(e, CallFailure::Method),
                Err(panic) => CallOutcome::Error(
                    GrainError::new(
                        reason::INTERNAL,
                        format!("grain method {name} panicked: {}", panic_text(&*panic)),
                    ),
                    CallFailure::Panic,
                ),
            }
        };
        self.methods.insert(
            index,
            Method {
                name,
                call: Box::new(call),
            },
        );
        self
    }

    /// The method indexes, ascending.
    pub fn indexes(&self) -> impl Iterator<Item = i32> + '_ {
        self.methods.keys().copied()
    }

    /// Runs the method `index` on `grain`.
    pub(crate) fn call(
        &self,
        grain: &mut G,
        ctx: &mut GrainContext,
        index: i32,
        data: &[u8],
    ) -> CallOutcome {
        match self.methods.get(&index) {
            Some(m) => (m.call)(grain, ctx, data),
            None => CallOutcome::Error(
                GrainError::new(
                    reason::UNIMPLEMENTED,
                    format!("kind {} has no method {index}", ctx.kind()),
                ),
                CallFailure::UnknownMethod,
            ),
        }
    }

    /// The name of method `index`, for logs.
    pub(crate) fn name(&self, index: i32) -> &'static str {
        self.methods.get(&index).map_or("?", |m| m.name)
    }
}

/// A panic's message, if it carried text.
pub(crate) fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}
