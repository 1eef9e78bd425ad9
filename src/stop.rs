//! Stopping a run early — on `--deadline` or SIGTERM/SIGINT — without losing what was fetched:
//! requests in flight are abandoned, scopes not yet finished are reported as failed, and the
//! reports are still written, marked incomplete.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

#[derive(Clone, Default)]
pub struct StopSignal {
    token: CancellationToken,
    reason: Arc<OnceLock<String>>,
}

impl StopSignal {
    pub fn new() -> StopSignal {
        StopSignal::default()
    }

    /// Stop the run; the first reason given is the one reported.
    pub fn stop(&self, reason: String) {
        let _ = self.reason.set(reason);
        self.token.cancel();
    }

    pub fn is_stopped(&self) -> bool {
        self.token.is_cancelled()
    }

    pub fn reason(&self) -> Option<String> {
        self.reason.get().cloned()
    }

    /// Resolves when the run is stopped.
    pub async fn stopped(&self) {
        self.token.cancelled().await;
    }

    /// Stop on the deadline, SIGTERM (what Kubernetes sends) or SIGINT. The returned task is
    /// aborted by the caller once fetching is over.
    pub fn arm(&self, deadline: Option<Duration>) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let deadline_hit = async {
                match deadline {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending().await,
                }
            };
            let reason = tokio::select! {
                () = deadline_hit => format!(
                    "the run deadline of {} was reached",
                    humantime::format_duration(deadline.unwrap_or_default())
                ),
                name = termination_signal() => format!("{name} was received"),
            };
            tracing::warn!(reason = %reason, "stopping: no new requests; writing the reports marked incomplete");
            this.stop(reason);
        })
    }
}

#[cfg(unix)]
async fn termination_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

#[cfg(not(unix))]
async fn termination_signal() -> &'static str {
    match tokio::signal::ctrl_c().await {
        Ok(()) => "Ctrl-C",
        Err(_) => std::future::pending().await,
    }
}
