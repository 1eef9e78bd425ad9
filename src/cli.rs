//! Command-line definitions. Defaults live in the config layer, not here,
//! so that an option the user did not give never overrides the config file.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::logging::LogFormat;
use crate::model::FailOn;
use crate::model::Shard;
use crate::report::Format;

/// Where the config file path came from: the default path may be absent (replay runs without
/// one), a path the user named must exist.
pub(crate) const DEFAULT_CONFIG: &str = "access-audit.toml";

/// What `--version` prints after the name: the release, the commit and the build date.
pub(crate) const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("ACCESS_AUDIT_COMMIT"),
    ", built ",
    env!("ACCESS_AUDIT_BUILD_DATE"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "access-audit",
    version = VERSION,
    about = "Who still has access, and should they? Access reviews of Sentry and Sent.dm with reports and evidence.",
    after_help = "Exit codes: 0 clean, 1 fatal (config, secret, output), 2 usage, 3 failing findings, \
                  4 incomplete run, 5 delivery failed (email, store or notification)."
)]
pub struct Cli {
    /// Config file [default: ./access-audit.toml]
    #[arg(long, global = true, env = "ACCESS_AUDIT_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// More log output (-v debug, -vv trace)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Less log output (-q warnings and errors only, -qq errors only)
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "verbose")]
    pub quiet: u8,

    /// Log format on stderr; auto = json when stderr is not a terminal
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetch every account, evaluate the rules, write the reports (and email them)
    Run(RunArgs),
    /// Validate the config, resolve every secret, print the plan
    CheckConfig(CheckConfigArgs),
    /// List every rule: id, default severity, what it checks, compliance references
    Rules(RulesArgs),
    /// Combine the report.json files of shard runs (--shard I/N) into one report
    Merge(MergeArgs),
    /// The ledger of runs and reviews: verify its chain, or write a period's evidence pack
    Ledger(LedgerArgs),
    /// The access review of a run: start it, collect the returned worksheets, see its status
    #[command(subcommand)]
    Review(ReviewCommand),
    /// Revoke what a signed-off review decided: plan, apply (guarded), verify against a later run
    #[command(subcommand)]
    Remediate(RemediateCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff)
    Man,
}

/// Where the reports go and what makes the command fail: shared by every command that writes a
/// report.
#[derive(Debug, Clone, Default, Args)]
pub struct OutputArgs {
    /// Output directory (overrides report.output_dir)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Reports to write, comma-separated: html,csv,json,xlsx,ocsf (overrides report.formats)
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = Format::parse)]
    pub format: Option<Vec<Format>>,

    /// Lowest severity of a failing finding that makes the command exit 3: info|low|medium|high|critical|none
    #[arg(long, value_name = "SEVERITY", value_parser = parse_fail_on)]
    pub fail_on: Option<FailOn>,
}

/// Whether the report is emailed: shared by every command that writes a report.
#[derive(Debug, Clone, Default, Args)]
pub struct EmailArgs {
    /// Send the email (overrides email.enabled)
    #[arg(long, conflicts_with = "no_email")]
    pub email: bool,

    /// Do not send the email (overrides email.enabled)
    #[arg(long)]
    pub no_email: bool,

    /// Write the email to DIR/<id>.eml instead of sending it (a preview; no SMTP needed)
    #[arg(long, value_name = "DIR")]
    pub email_preview: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct MergeArgs {
    /// Directories (or report.json files) written by the shard runs
    #[arg(required = true, value_name = "DIR")]
    pub inputs: Vec<PathBuf>,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub email: EmailArgs,
}

#[derive(Debug, Clone, Default, Args)]
pub struct RunArgs {
    /// Evaluate every rule as of this instant (RFC 3339), or `now` [default: now; with --replay,
    /// when the archive was recorded]
    #[arg(long, value_name = "RFC3339|now", value_parser = parse_as_of)]
    pub as_of: Option<AsOf>,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub email: EmailArgs,

    /// No progress bar, even on a terminal
    #[arg(long)]
    pub no_progress: bool,

    /// Keep every API answer, byte for byte, with a manifest, in this (new or empty) directory
    #[arg(long, value_name = "DIR", conflicts_with = "replay")]
    pub evidence: Option<PathBuf>,

    /// Suppressions file: accepted risk with reason, owner and expiry (overrides `suppressions`)
    #[arg(long, value_name = "PATH")]
    pub suppressions: Option<PathBuf>,

    /// Compare with a previous run's report.json: every finding is new or persisting, and
    /// what was fixed is listed as resolved
    #[arg(long, value_name = "REPORT_JSON")]
    pub baseline: Option<PathBuf>,

    /// Evaluate and report only the rules that evidence this compliance framework
    #[arg(long, value_enum)]
    pub framework: Option<crate::rules::Framework>,

    /// Stop fetching after this long (e.g. 30m) and write the reports marked incomplete (exit 4)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub deadline: Option<std::time::Duration>,

    /// Audit only the scopes of shard I of N (0-based; N runs together cover everything). The
    /// index may come from JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs): --shard auto/N
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,

    /// Run from an evidence archive instead of the network; the config file becomes optional
    #[arg(long, value_name = "DIR")]
    pub replay: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct LedgerArgs {
    #[command(subcommand)]
    pub command: LedgerCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum LedgerCommand {
    /// Check the chain and every referenced file still on disk; exit 1 listing every problem
    Verify(LedgerVerifyArgs),
    /// Write ledger-report.json and ledger-report.html: runs, reviews and cadence of a period
    Report(LedgerReportArgs),
}

#[derive(Debug, Clone, Default, Args)]
pub struct LedgerVerifyArgs {
    /// The ledger folder (overrides [review] ledger_dir)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct LedgerReportArgs {
    /// First day of the period (YYYY-MM-DD, or an RFC 3339 instant)
    #[arg(long, value_name = "DATE")]
    pub from: String,

    /// Last day of the period, included (YYYY-MM-DD, or an RFC 3339 instant, excluded)
    #[arg(long, value_name = "DATE")]
    pub to: String,

    /// Where to write the two files [default: the current directory]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// The ledger folder (overrides [review] ledger_dir)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `review start|collect|status` (CONTRACT section 9); needs `[review]` in the config.
#[derive(Debug, Clone, Subcommand)]
pub enum ReviewCommand {
    /// Turn a completed run into a review: one worksheet (xlsx and CSV) per reviewer
    Start(ReviewStartArgs),
    /// Read returned worksheets, check them, and record their decisions
    Collect(ReviewCollectArgs),
    /// Decided / total per reviewer; exit 3 while anything is outstanding
    Status(ReviewStatusArgs),
    /// Sign the review off once every row is decided: writes review/review.html, the page an
    /// auditor files, with review/decisions.csv and review/decisions.json
    #[command(name = "sign-off")]
    SignOff(ReviewSignOffArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ReviewStartArgs {
    /// The run's output folder (with its report.json)
    #[arg(value_name = "RUN_DIR")]
    pub run_dir: PathBuf,
    /// Review a run whose scopes did not all succeed; the worksheets list the missing scopes
    #[arg(long)]
    pub allow_incomplete: bool,
    #[command(flatten)]
    pub mail: ReviewEmailArgs,
}

/// `review start --email | --email-preview DIR`: each reviewer gets their worksheet.
#[derive(Debug, Clone, Default, Args)]
pub struct ReviewEmailArgs {
    /// Email each reviewer their worksheet (from email.from, through the [email] SMTP server)
    #[arg(long, conflicts_with = "email_preview")]
    pub email: bool,
    /// Write each reviewer's email to DIR/<id>.eml instead of sending it (no SMTP needed)
    #[arg(long, value_name = "DIR")]
    pub email_preview: Option<PathBuf>,
}

/// `review status --remind [--email-preview DIR]`: a reminder to each reviewer with rows
/// outstanding.
#[derive(Debug, Clone, Default, Args)]
pub struct ReviewRemindArgs {
    /// Email a reminder, with their worksheet, to each reviewer with rows outstanding
    #[arg(long)]
    pub remind: bool,
    /// With --remind: write each reminder to DIR/<id>.eml instead of sending it
    #[arg(long, value_name = "DIR", requires = "remind")]
    pub email_preview: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ReviewCollectArgs {
    #[arg(value_name = "RUN_DIR")]
    pub run_dir: PathBuf,
    /// Returned worksheets (.xlsx or .csv)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ReviewStatusArgs {
    #[arg(value_name = "RUN_DIR")]
    pub run_dir: PathBuf,
    #[command(flatten)]
    pub remind: ReviewRemindArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ReviewSignOffArgs {
    #[arg(value_name = "RUN_DIR")]
    pub run_dir: PathBuf,
    /// Who signs the review off, as "Full Name <email>"
    #[arg(long, value_name = "NAME <EMAIL>")]
    pub by: String,
    /// What the signer states (printed in the sign-off block)
    #[arg(long, value_name = "TEXT")]
    pub statement: Option<String>,
    /// Opt in: write review/suppressions.toml, one entry per justified `keep` of an account
    /// with a failing finding (owner: its reviewer), expiring on DATE (YYYY-MM-DD), for
    /// `run --suppressions`
    #[arg(long, value_name = "DATE")]
    pub suppress_kept_until: Option<chrono::NaiveDate>,
}

/// `remediate plan|apply|verify` (CONTRACT section 10); needs a signed-off review.
#[derive(Debug, Clone, Subcommand)]
pub enum RemediateCommand {
    /// Turn a signed-off review's revoke and change_role decisions into
    /// RUN_DIR/remediation/plan.json (and plan.html), each account re-read first
    Plan(RemediatePlanArgs),
    /// Make the plan's changes: nothing is sent without --yes; at most --max changes
    Apply(RemediateApplyArgs),
    /// Check each planned change against a later run: the member gone, the role changed
    Verify(RemediateVerifyArgs),
}

#[derive(Debug, Clone, Args)]
pub struct RemediatePlanArgs {
    /// The run's output folder, with its signed-off review
    #[arg(value_name = "RUN_DIR")]
    pub run_dir: PathBuf,
    /// Replace a plan whose changes were already sent (it is kept as plan-<id>.json)
    #[arg(long)]
    pub replace: bool,
}

#[derive(Debug, Clone, Args)]
pub struct RemediateApplyArgs {
    /// The plan: RUN_DIR/remediation/plan.json
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    /// Confirm: send the requests (changes, or with --dry-run their rehearsal)
    #[arg(long)]
    pub yes: bool,
    /// Refuse a plan with more changes still to make than this
    #[arg(long, value_name = "N", default_value_t = 25)]
    pub max: usize,
    /// Rehearse: re-read and check every account; Sent.dm changes go to its sandbox (no
    /// effect); Sentry has none, so nothing is sent to change it
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Args)]
pub struct RemediateVerifyArgs {
    /// The run folder whose review the plan came from
    #[arg(value_name = "RUN_DIR")]
    pub run_dir: PathBuf,
    /// A later run's output folder (its report.json)
    #[arg(long, value_name = "NEW_RUN_DIR")]
    pub against: PathBuf,
}

#[derive(Debug, Clone, Default, Args)]
pub struct CheckConfigArgs {
    /// Also make one authenticated request per source
    #[arg(long)]
    pub connect: bool,
}

#[derive(Debug, Clone, Default, Args)]
pub struct RulesArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = RulesFormat::Text)]
    pub format: RulesFormat,

    /// Only the rules that evidence this framework
    #[arg(long, value_enum)]
    pub framework: Option<crate::rules::Framework>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum RulesFormat {
    #[default]
    Text,
    Json,
}

/// `--as-of`: an instant, or `now` said explicitly (a replay otherwise evaluates as of its
/// recording).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    Now,
    At(DateTime<Utc>),
}

fn parse_as_of(s: &str) -> Result<AsOf, String> {
    if s.trim().eq_ignore_ascii_case("now") {
        return Ok(AsOf::Now);
    }
    crate::timestamp::parse_as_of(s).map(AsOf::At)
}

/// The longest `--deadline`: a week is longer than any audit, and far from a clock overflow.
const MAX_DEADLINE: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    match humantime::parse_duration(s) {
        Ok(d) if d > MAX_DEADLINE => Err(format!(
            "`{s}` is longer than the longest deadline, {}",
            humantime::format_duration(MAX_DEADLINE)
        )),
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err("the deadline must be longer than zero".into()),
        Err(e) => Err(format!("`{s}` is not a duration such as 30m or 1h ({e})")),
    }
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    let (i, n) = s
        .split_once('/')
        .ok_or_else(|| format!("`{s}` is not I/N, such as 0/4 or auto/4"))?;
    let count: u32 = n
        .trim()
        .parse()
        .map_err(|_| format!("`{n}` is not a number of shards"))?;
    let index: u32 = if i.trim() == "auto" {
        let raw = std::env::var("JOB_COMPLETION_INDEX").map_err(|_| {
            "--shard auto/N reads JOB_COMPLETION_INDEX, which is not set".to_string()
        })?;
        raw.trim()
            .parse()
            .map_err(|_| format!("JOB_COMPLETION_INDEX `{raw}` is not a number"))?
    } else {
        i.trim()
            .parse()
            .map_err(|_| format!("`{i}` is not a shard index"))?
    };
    Shard::new(index, count)
}

fn parse_fail_on(s: &str) -> Result<FailOn, String> {
    s.parse()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_options_parse() {
        let cli = Cli::try_parse_from([
            "access-audit",
            "run",
            "--as-of",
            "2026-11-01T00:00:00+01:00",
            "--format",
            "json,csv",
            "--fail-on",
            "none",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        let Some(AsOf::At(as_of)) = args.as_of else {
            panic!("{:?}", args.as_of)
        };
        assert_eq!(as_of.to_rfc3339(), "2026-10-31T23:00:00+00:00");
        let now = Cli::try_parse_from(["access-audit", "run", "--as-of", "now"]).unwrap();
        let Command::Run(now) = now.command else {
            panic!("not run")
        };
        assert_eq!(now.as_of, Some(AsOf::Now));
        assert_eq!(args.output.format.unwrap(), vec![Format::Json, Format::Csv]);
        assert_eq!(args.output.fail_on, Some(FailOn::None));
        assert!(Cli::try_parse_from(["access-audit", "run", "--format", "pdf"]).is_err());
        assert!(Cli::try_parse_from(["access-audit", "run", "--email", "--no-email"]).is_err());
        assert!(Cli::try_parse_from(["access-audit", "run", "--as-of", "yesterday"]).is_err());
    }
}
