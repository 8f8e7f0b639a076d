//! One shutdown mechanism for every task the remote runs.
//!
//! This is mini-redis's pattern (a shutdown broadcast every task listens to,
//! plus a completion channel every task holds) in tokio-util's well-kept
//! form. The broadcast is a `watch` of [`Lifecycle`], because tasks must know
//! *how* we stop: an inbound stream says goodbye with `DisconnectRequest`
//! only on a graceful stop. The completion channel is a [`TaskTracker`]: every
//! task the remote spawns — the server, each inbound stream, each endpoint,
//! each gossip handler call, and the tasks tonic's client channels spawn
//! through [`Tasks`] as their executor — is tracked, so `shutdown()` can
//! wait until none is left. A task that has not ended when the grace period
//! is over is cancelled through a [`CancellationToken`]: each tracked future
//! races the token, so cancelling drops it at its next await point, and we
//! still wait for that to happen.

use std::{future::Future, sync::Arc, time::Duration};

use tokio::{runtime::Handle, sync::watch, task::JoinHandle};
use tokio_util::{
    sync::{CancellationToken, WaitForCancellationFutureOwned},
    task::TaskTracker,
};

/// Where the remote is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lifecycle {
    Running,
    /// Inbound streams get `DisconnectRequest` and an error status.
    ShuttingDownGracefully,
    /// Inbound streams get an error status only.
    ShuttingDownHard,
}

/// The remote's tasks and how to stop them; cheap to clone.
#[derive(Clone)]
pub(crate) struct Tasks {
    lifecycle: Arc<watch::Sender<Lifecycle>>,
    tracker: TaskTracker,
    cancel: CancellationToken,
    /// Where tasks run: the runtime the remote was started on, also when a
    /// sync caller outside any runtime sends through the handle.
    runtime: Handle,
}

impl Tasks {
    /// A running set on the current runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub(crate) fn new() -> Self {
        Self {
            lifecycle: Arc::new(watch::channel(Lifecycle::Running).0),
            tracker: TaskTracker::new(),
            cancel: CancellationToken::new(),
            runtime: Handle::current(),
        }
    }

    pub(crate) fn is_running(&self) -> bool {
        *self.lifecycle.borrow() == Lifecycle::Running
    }

    /// The shutdown broadcast.
    pub(crate) fn lifecycle(&self) -> watch::Receiver<Lifecycle> {
        self.lifecycle.subscribe()
    }

    /// Resolves once shutdown has begun.
    pub(crate) async fn stopping(&self) {
        let mut rx = self.lifecycle();
        let _ = rx.wait_for(|s| *s != Lifecycle::Running).await;
    }

    /// Announces the shutdown. False when it had already begun.
    pub(crate) fn begin_shutdown(&self, graceful: bool) -> bool {
        let state = if graceful {
            Lifecycle::ShuttingDownGracefully
        } else {
            Lifecycle::ShuttingDownHard
        };
        let mut began = false;
        self.lifecycle.send_if_modified(|s| {
            began = *s == Lifecycle::Running;
            if began {
                *s = state;
            }
            began
        });
        began
    }

    /// Runs `task` as an owned task: tracked, and dropped at its next await
    /// point when the remote is cancelled.
    pub(crate) fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let cancel = self.cancel.clone();
        drop(self.tracker.spawn_on(
            async move {
                cancel.run_until_cancelled(task).await;
            },
            &self.runtime,
        ));
    }

    /// Runs `task` tracked but never cancelled: it must end by itself once
    /// the remote stops (the server, which ends when its connections have
    /// closed). The handle is the last resort if it does not.
    pub(crate) fn spawn_uncancelled<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tracker.spawn_on(task, &self.runtime)
    }

    /// Resolves when the remote is cancelled (the hard stop after the grace
    /// period).
    pub(crate) fn cancelled(&self) -> WaitForCancellationFutureOwned {
        self.cancel.clone().cancelled_owned()
    }

    /// Waits at most `grace` for every task to end; then cancels the rest and
    /// waits at most `grace` again. True when every task has ended.
    pub(crate) async fn finish(&self, grace: Duration) -> bool {
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_ok()
        {
            return true;
        }
        self.cancel.cancel();
        tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_ok()
    }

    /// Resolves when shutdown has closed the set and every task has ended.
    pub(crate) async fn ended(&self) {
        self.tracker.wait().await;
    }

    /// How many tracked tasks are alive (tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.tracker.len()
    }
}

/// tonic's client channels spawn their connection and buffer tasks through
/// this, so they are owned like ours.
impl<F> hyper::rt::Executor<F> for Tasks
where
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, task: F) {
        self.spawn(task);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Virtual time: a task that ignores shutdown is cancelled after the
    /// grace period, and `finish` returns only once it is gone.
    #[tokio::test(start_paused = true)]
    async fn stuck_task_is_cancelled_after_grace() {
        let tasks = Tasks::new();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tasks.spawn(async move {
            std::future::pending::<()>().await;
            drop(tx);
        });
        tasks.spawn(async {});
        assert!(tasks.begin_shutdown(true));
        assert!(!tasks.begin_shutdown(false), "second stop changes nothing");
        assert_eq!(
            *tasks.lifecycle().borrow(),
            Lifecycle::ShuttingDownGracefully
        );
        let started = tokio::time::Instant::now();
        assert!(tasks.finish(Duration::from_secs(3)).await);
        assert_eq!(started.elapsed(), Duration::from_secs(3));
        assert_eq!(tasks.len(), 0);
        assert!(rx.await.is_err(), "the stuck task was dropped");
    }

    #[tokio::test(start_paused = true)]
    async fn finish_is_immediate_when_tasks_end() {
        let tasks = Tasks::new();
        let stop = tasks.clone();
        tasks.spawn(async move { stop.stopping().await });
        assert!(tasks.begin_shutdown(false));
        let started = tokio::time::Instant::now();
        assert!(tasks.finish(Duration::from_secs(3)).await);
        assert!(started.elapsed() < Duration::from_secs(3));
        tasks.ended().await;
    }
}
