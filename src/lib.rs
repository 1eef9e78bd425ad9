//! access-audit: who still has access, and should they?
//!
//! The pipeline, stage by stage: config → sources (raw pages → [`model::Account`]s) → rules
//! ([`model::Finding`]s) → review (suppressions, baseline, roster) → report (JSON, CSV, HTML) →
//! finish (write, deliver, exit status). Each stage takes plain data from the one before and
//! returns plain data to the next; ARCHITECTURE.md is the map.

#![warn(unreachable_pub)]

// Modules are private: the stages are one program, free to change together. What the binary,
// the benches, the examples and the integration tests drive is named below, once.

mod access_review;
mod cfg;
mod cli;
mod commands;
mod config;
mod deliver;
mod exit;
mod files;
mod finish;
mod http;
mod ledger;
mod logging;
mod man;
pub mod model;
mod output;
mod people;
mod progress;
mod redact;
mod remediation;
mod report;
mod review;
mod rules;
mod settings;
mod sources;
mod stop;
mod templates;
mod text;
mod timestamp;

use std::path::PathBuf;

// The command line and its one entry point, [`execute`].
pub use cli::{AsOf, Cli, Command};
pub use exit::ExitStatus;
pub use logging::{LogFormat, init as init_logging};

// Stages a caller may drive on their own: the config, the rules over accounts, the report and
// its renderings. [`model`] is the plain data they exchange.
pub use cfg::{ConfigError, SecretRef};
pub use config::Config;
pub use report::{Artifact, Report, ReportInput, render_bytes};
pub use review::baseline::Changes;
pub use rules::{Evaluated, RuleSettings, evaluate, evaluate_scope};
pub use templates::Templates;
pub use timestamp::parse_timestamp;

/// The delivery targets: email's send policy, object storage, notifications, metrics.
pub mod delivery {
    pub use crate::deliver::email::SendPolicy;
    pub use crate::deliver::post::Retry;
    pub use crate::deliver::target::{DeliveryError, DeliveryOutcome, Target};
    pub use crate::deliver::{metrics, notify, store};
}

/// Evidence archives and the API answers in them, for tools that build or read archives.
pub mod evidence {
    pub use crate::http::Answer;
    pub use crate::sources::evidence::{EvidenceRecorder, Manifest, RecordKey, archive_files};
    pub use crate::sources::link::next_cursor;
    pub use crate::sources::spec::{Selection, SourceSpec};
    pub use crate::sources::{sentdm, sentry};
}

/// A failure that stops the run before any report is written (exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] cfg::ConfigError),
    /// Every problem of the config and what it names (one per line).
    #[error(transparent)]
    Configs(#[from] cfg::ConfigErrors),
    #[error("{0}")]
    Fatal(String),
}

/// The config path the user named, or the default one.
#[derive(Debug, Clone)]
pub enum ConfigPath {
    Explicit(PathBuf),
    Default(PathBuf),
}

impl ConfigPath {
    pub fn from_cli(path: Option<PathBuf>) -> ConfigPath {
        match path {
            Some(p) => ConfigPath::Explicit(p),
            None => ConfigPath::Default(PathBuf::from(cli::DEFAULT_CONFIG)),
        }
    }

    pub fn path(&self) -> &std::path::Path {
        match self {
            ConfigPath::Explicit(p) | ConfigPath::Default(p) => p,
        }
    }
}

/// Run a parsed command line. `Err` is fatal (exit 1); everything else maps to its exit status.
pub async fn execute(cli: cli::Cli) -> Result<ExitStatus, Error> {
    let config_path = ConfigPath::from_cli(cli.config);
    // `-q` also silences the summary a person at a terminal reads at the end of a run.
    let summary = cli.quiet == 0;
    match cli.command {
        cli::Command::Run(args) => commands::run::run(&args, &config_path, summary).await,
        cli::Command::CheckConfig(args) => commands::check::check_config(&args, &config_path).await,
        cli::Command::Rules(args) => commands::check::list_rules(&args),
        cli::Command::Merge(args) => commands::merge::merge(&args, &config_path, summary).await,
        cli::Command::Ledger(args) => commands::ledger::ledger(&args, &config_path),
        cli::Command::Review(command) => commands::review::review(&command, &config_path).await,
        cli::Command::Remediate(command) => {
            commands::remediate::remediate(&command, &config_path).await
        }
        cli::Command::Completions { shell } => {
            let mut cmd = <cli::Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "access-audit", &mut script);
            output::to_stdout(&script).map_err(Error::Fatal)?;
            Ok(ExitStatus::Clean)
        }
        cli::Command::Man => {
            let page = man::render()
                .map_err(|e| Error::Fatal(format!("cannot render the man page: {e}")))?;
            output::to_stdout(&page).map_err(Error::Fatal)?;
            Ok(ExitStatus::Clean)
        }
    }
}
