//! The kind `Greeter` of go-interop/proto/interop/grains.proto, hosted in
//! Rust: its messages written by hand with prost's derive (an application's
//! own types) and the grain. Go calls it through the client
//! protoc-gen-go-grain generates (go-interop/cmd/graincaller). The
//! integration tests include this file too (`#[path]`).

#![allow(dead_code)] // each includer uses a different part

use protogossip::{
    grain::{Grain, GrainContext, GrainError, GrainMethods, reason},
    remote::ActorMessage,
};

/// The kind's name, as Go's generated code spells it (the service name).
pub const KIND: &str = "Greeter";

/// `interop.WhereRequest`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct WhereRequest {
    #[prost(string, tag = "1")]
    pub text: String,
}

/// `interop.WhereReply`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct WhereReply {
    #[prost(string, tag = "1")]
    pub address: String,
    #[prost(string, tag = "2")]
    pub identity: String,
    #[prost(string, tag = "3")]
    pub kind: String,
    #[prost(int64, tag = "4")]
    pub calls: i64,
    #[prost(string, tag = "5")]
    pub text: String,
}

impl prost::Name for WhereRequest {
    const NAME: &'static str = "WhereRequest";
    const PACKAGE: &'static str = "interop";
}

impl prost::Name for WhereReply {
    const NAME: &'static str = "WhereReply";
    const PACKAGE: &'static str = "interop";
}

/// One `Greeter` activation: counts the calls it answered.
#[derive(Debug, Default)]
pub struct Greeter {
    calls: i64,
}

impl Greeter {
    fn reply(&mut self, ctx: &GrainContext, text: String) -> WhereReply {
        self.calls += 1;
        WhereReply {
            address: ctx.self_pid().address.clone(),
            identity: ctx.identity().to_owned(),
            kind: ctx.kind().to_owned(),
            calls: self.calls,
            text,
        }
    }
}

impl Grain for Greeter {
    /// The service's methods in declaration order: Where = 0, Fail = 1,
    /// Panic = 2.
    fn methods() -> GrainMethods<Self> {
        GrainMethods::new()
            .method(
                0,
                "Where",
                |g: &mut Greeter, ctx: &mut GrainContext, req: WhereRequest| {
                    Ok(g.reply(ctx, req.text))
                },
            )
            .method(
                1,
                "Fail",
                |_g: &mut Greeter, ctx: &mut GrainContext, _req: WhereRequest| {
                    Err::<WhereReply, _>(
                        GrainError::new(
                            reason::NOT_FOUND,
                            format!("{} has nothing", ctx.identity()),
                        )
                        .with_metadata("identity", ctx.identity()),
                    )
                },
            )
            .method(
                2,
                "Panic",
                |_g: &mut Greeter, _ctx: &mut GrainContext, _req: WhereRequest| panic_on_purpose(),
            )
    }

    /// A plain `cluster.Request` with a `WhereRequest` (registered with the
    /// remote's type registry) gets the same answer as `Where`.
    async fn receive(&mut self, ctx: &mut GrainContext, message: ActorMessage) {
        if let Ok(req) = message.into_message::<WhereRequest>() {
            let reply = self.reply(ctx, req.text);
            let _ = ctx.respond(&reply);
        }
    }
}

fn panic_on_purpose() -> Result<WhereReply, GrainError> {
    panic!("Greeter.Panic was called")
}
