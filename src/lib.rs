//! access-audit: who still has access, and should they?
//!
//! The pipeline, stage by stage: [`config`] → [`sources`] (raw pages → [`model::Account`]s) →
//! [`rules`] ([`model::Finding`]s) → [`report`] (JSON, CSV, HTML) → delivery. Each stage takes
//! plain data from the one before and returns plain data to the next.

pub mod cfg;
pub mod cli;
pub mod commands;
pub mod config;
pub mod deliver;
pub mod exit;
pub mod files;
pub mod finish;
pub mod http;
pub mod logging;
pub mod man;
pub mod model;
pub mod output;
pub mod people;
pub mod progress;
pub mod redact;
pub mod report;
pub mod review;
pub mod rules;
pub mod settings;
pub mod sources;
pub mod stop;
pub mod templates;
pub mod text;
pub mod timestamp;

use std::path::PathBuf;

pub use exit::ExitStatus;

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
