//! Where a gossiper's node runs, and whether a caller may wait for it.
//!
//! `start` and `stop` are synchronous (the host's signature) and the node
//! is async, so the caller's thread hands the work to a tokio runtime and
//! waits on a std channel with a timeout. That is only safe when waiting
//! cannot stop the runtime from doing the work: never on the only thread of
//! the runtime that runs the node. Hence the default: a runtime of the
//! gossiper's own, a current-thread runtime on a thread of its own, which no
//! host thread ever is. A host may give its own runtime's handle instead;
//! then a caller on one of that runtime's threads can wait only when the
//! runtime has other workers ([`NodeRuntime::can_wait`]).

use std::future::Future;

use tokio::{
    runtime::{Builder, Handle, RuntimeFlavor},
    sync::oneshot,
};

/// The runtime a gossiper's node runs on.
#[derive(Debug)]
pub(super) struct NodeRuntime {
    handle: Handle,
    /// Set for our own runtime: dropping it ends that runtime's thread.
    keep: Option<oneshot::Sender<()>>,
}

impl NodeRuntime {
    /// The host's runtime.
    pub(super) fn host(handle: Handle) -> Self {
        Self { handle, keep: None }
    }

    /// A current-thread runtime on a thread named `protogossip`, running
    /// until this value is dropped (the runtime is dropped on that thread,
    /// never in the host's context).
    pub(super) fn own() -> std::io::Result<Self> {
        let runtime = Builder::new_current_thread().enable_all().build()?;
        let handle = runtime.handle().clone();
        let (keep, until_dropped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("protogossip".into())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = until_dropped.await;
                });
            })?;
        Ok(Self {
            handle,
            keep: Some(keep),
        })
    }

    /// For our own runtime: what keeps it running once this value is
    /// dropped, until it is dropped in turn.
    pub(super) fn keep_alive(&mut self) -> Option<oneshot::Sender<()>> {
        self.keep.take()
    }

    /// Whether the calling thread may block until the node's runtime has
    /// done some work: not on a thread of that runtime unless it has other
    /// workers to do it.
    pub(super) fn can_wait(&self) -> bool {
        match Handle::try_current() {
            Ok(current) if current.id() == self.handle.id() => {
                current.runtime_flavor() == RuntimeFlavor::MultiThread
                    && current.metrics().num_workers() > 1
            }
            _ => true,
        }
    }

    /// Runs `task` on the node's runtime.
    ///
    /// Spawned from a worker of that same runtime, a task lands in that
    /// worker's LIFO slot, which other workers never take: had the caller
    /// then blocked that worker, the task would wait for it. So from such a
    /// worker the spawn is made from a short-lived thread of its own, which
    /// puts the task in the shared queue.
    pub(super) fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let on_own_worker = Handle::try_current().is_ok_and(|c| c.id() == self.handle.id());
        if !on_own_worker {
            drop(self.handle.spawn(task));
            return;
        }
        let handle = self.handle.clone();
        let spawned = std::thread::Builder::new()
            .name("protogossip-spawn".into())
            .spawn(move || drop(handle.spawn(task)))
            .map(std::thread::JoinHandle::join);
        if !matches!(spawned, Ok(Ok(()))) {
            tracing::error!("could not hand a task to the node's runtime");
        }
    }
}
