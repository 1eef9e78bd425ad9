//! Stopping a run early — on `--deadline` or SIGTERM/SIGINT — without losing what was fetched:
//! requests in flight are abandoned, scopes not yet finished are reported as failed, and the
//! reports are still written (or rewritten) marked incomplete.
//!
//! The two differ after that. The deadline bounds fetching only: once every scope is fetched it
//! can no longer fire, and a run it cut short still sends its email, so the people who read it
//! learn the audit was incomplete. A signal means the process must end now (Kubernetes kills the
//! pod soon after SIGTERM): no email is started after it, and one under way is abandoned.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Why a command was stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// `--deadline` ran out.
    Deadline(Duration),
    /// A termination signal arrived: its name (`SIGTERM`, `SIGINT`, `Ctrl-C`).
    Signal(&'static str),
}

impl std::fmt::Display for StopReason {
    /// The text the reports record in `run.stopped`; scripts read it, so it does not change.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::Deadline(d) => write!(
                f,
                "the run deadline of {} was reached",
                humantime::format_duration(*d)
            ),
            StopReason::Signal(name) => write!(f, "{name} was received"),
        }
    }
}

#[derive(Clone, Default)]
pub struct StopSignal {
    /// Cancelled by the first stop, whatever its reason.
    token: CancellationToken,
    reason: Arc<OnceLock<StopReason>>,
    /// Cancelled by a signal, which may come after a deadline stop.
    signal_token: CancellationToken,
    signal: Arc<OnceLock<&'static str>>,
    /// Cancelled when fetching is over: the deadline no longer applies.
    fetched: CancellationToken,
}

impl StopSignal {
    pub fn new() -> StopSignal {
        StopSignal::default()
    }

    /// Stop the command; the first reason given is the one reported.
    pub fn stop(&self, reason: StopReason) {
        let _ = self.reason.set(reason);
        if let StopReason::Signal(name) = reason {
            let _ = self.signal.set(name);
            self.signal_token.cancel();
        }
        self.token.cancel();
    }

    pub fn is_stopped(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Why the command was stopped, if it was.
    pub fn cause(&self) -> Option<StopReason> {
        self.reason.get().copied()
    }

    /// Why the command was stopped, as the reports put it.
    pub fn reason(&self) -> Option<String> {
        self.cause().map(|r| r.to_string())
    }

    /// Resolves when the command is stopped.
    pub async fn stopped(&self) {
        self.token.cancelled().await;
    }

    /// Fetching is over: from now on only a signal stops the command.
    pub fn fetching_done(&self) {
        self.fetched.cancel();
    }

    /// Whether a signal (not only the deadline) stopped the command: then nothing more may leave.
    pub fn by_signal(&self) -> bool {
        self.signal.get().is_some()
    }

    /// Resolves when a signal stops the command.
    pub async fn signalled(&self) {
        self.signal_token.cancelled().await;
    }

    /// The latest stop, if it is not the one `recorded` in a report: a signal that came after
    /// the deadline is later than the deadline.
    pub fn unrecorded(&self, recorded: Option<StopReason>) -> Option<StopReason> {
        let latest = self.signal.get().map(|n| StopReason::Signal(n));
        latest.or(self.cause()).filter(|r| Some(*r) != recorded)
    }

    /// Stop on the deadline, SIGTERM (what Kubernetes sends) or SIGINT, until the returned guard
    /// is dropped. Keep it for the whole command: once tokio handles a signal the default action
    /// (ending the process) is gone for good, so a signal arriving after the guard is dropped
    /// would be swallowed.
    pub fn arm(&self, deadline: Option<Duration>) -> Armed {
        let this = self.clone();
        Armed(tokio::spawn(async move {
            let signal = termination_signal();
            tokio::pin!(signal);
            if let Some(d) = deadline {
                tokio::select! {
                    () = tokio::time::sleep(d) => this.stopped_by(StopReason::Deadline(d)),
                    () = this.fetched.cancelled() => {}
                    name = &mut signal => return this.stopped_by(StopReason::Signal(name)),
                }
            }
            // Signals are watched until the guard is dropped, after a deadline stop too.
            let name = signal.await;
            this.stopped_by(StopReason::Signal(name));
        }))
    }

    fn stopped_by(&self, reason: StopReason) {
        tracing::warn!(reason = %reason, "stopping: no new requests; the reports are written marked incomplete");
        self.stop(reason);
    }
}

/// The watcher started by [`StopSignal::arm`]; dropping it stops watching.
pub struct Armed(tokio::task::JoinHandle<()>);

impl Drop for Armed {
    fn drop(&mut self) {
        self.0.abort();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_after_the_deadline_still_counts_as_a_signal() {
        let stop = StopSignal::new();
        let deadline = StopReason::Deadline(Duration::from_secs(1));
        stop.stop(deadline);
        assert!(!stop.by_signal(), "a deadline alone lets the email go");
        assert_eq!(stop.unrecorded(Some(deadline)), None);
        stop.stop(StopReason::Signal("SIGTERM"));
        assert!(stop.by_signal());
        assert_eq!(
            stop.cause(),
            Some(deadline),
            "the first reason is the one reported"
        );
        assert_eq!(
            stop.unrecorded(Some(deadline)),
            Some(StopReason::Signal("SIGTERM"))
        );
    }

    #[test]
    fn reasons_read_as_the_reports_have_always_put_them() {
        assert_eq!(
            StopReason::Deadline(Duration::from_secs(90)).to_string(),
            "the run deadline of 1m 30s was reached"
        );
        assert_eq!(
            StopReason::Signal("SIGTERM").to_string(),
            "SIGTERM was received"
        );
    }

    #[test]
    fn the_first_reason_wins() {
        let stop = StopSignal::new();
        assert_eq!(stop.cause(), None);
        stop.stop(StopReason::Deadline(Duration::from_secs(1)));
        stop.stop(StopReason::Signal("SIGTERM"));
        assert!(stop.is_stopped());
        assert_eq!(
            stop.cause(),
            Some(StopReason::Deadline(Duration::from_secs(1)))
        );
        assert_eq!(
            stop.reason().as_deref(),
            Some("the run deadline of 1s was reached")
        );
    }
}
