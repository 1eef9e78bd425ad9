//! The progress bar of an interactive run: scopes done out of those known so far, and accounts
//! fetched. Hidden when stderr is not a terminal (cron, Kubernetes) or with `--no-progress`.
//! Log lines are written around it (see `logging`), never through it.

use std::io::IsTerminal;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bar currently on screen, if any; the log writer suspends it while it writes.
pub(crate) static ACTIVE: OnceLock<ProgressBar> = OnceLock::new();

#[derive(Clone)]
pub struct Progress {
    bar: Option<ProgressBar>,
    accounts: std::sync::Arc<AtomicU64>,
}

impl Progress {
    /// A bar on stderr if it is a terminal and `enabled`; otherwise a no-op.
    pub fn new(enabled: bool) -> Progress {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            let style =
                ProgressStyle::with_template("{spinner} {pos}/{len} scopes  {msg}  [{elapsed}]")
                    .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            let _ = ACTIVE.set(bar.clone());
            bar
        });
        Progress {
            bar,
            accounts: std::sync::Arc::default(),
        }
    }

    /// A progress that shows nothing.
    pub fn hidden() -> Progress {
        Progress {
            bar: None,
            accounts: std::sync::Arc::default(),
        }
    }

    /// More scopes are known (after discovery).
    pub fn add_scopes(&self, n: usize) {
        if let Some(bar) = &self.bar {
            bar.inc_length(n as u64);
        }
    }

    /// A scope is finished, with this many accounts.
    pub fn scope_done(&self, accounts: usize) {
        let total = self.accounts.fetch_add(accounts as u64, Ordering::Relaxed) + accounts as u64;
        if let Some(bar) = &self.bar {
            bar.inc(1);
            bar.set_message(format!("{total} accounts"));
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
