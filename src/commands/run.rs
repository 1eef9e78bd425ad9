//! `access-audit run`: config → fetch every scope → rules → reports → (email) → exit status.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use secrecy::SecretString;

use crate::cli::{AsOf, RunArgs};
use crate::config::Config;
use crate::exit::ExitStatus;
use crate::finish::finish;
use crate::model::ScopeResult;
use crate::people::Roster;
use crate::report::{Report, ReportInput, schema};
use crate::review::{Review, Reviewed};
use crate::rules;
use crate::settings::Settings;
use crate::sources::evidence::EvidenceRecorder;
use crate::sources::replay::ReplayArchive;
use crate::sources::spec::SourceConfig;
use crate::sources::{self, Fetcher, PageSource, SourceContext};
use crate::stop::{StopReason, StopSignal};
use crate::{ConfigPath, Error};

/// The config, and the sources this run fetches: the config's, or the archive's on replay.
fn load(
    config_path: &ConfigPath,
    archive: Option<&ReplayArchive>,
) -> Result<(Config, Vec<SourceConfig>), Error> {
    let config = match (archive, config_path) {
        // Replay needs no config: the sources come from the manifest, rules take defaults.
        (Some(_), ConfigPath::Default(p)) if !p.exists() => Config::defaults(),
        _ => Config::load(config_path.path())?,
    };
    let sources: Vec<SourceConfig> = match archive {
        Some(a) => a
            .manifest
            .sources
            .iter()
            .enumerate()
            .map(|(index, spec)| SourceConfig::replayed(index, spec.clone()))
            .collect(),
        None => config.sources.clone(),
    };
    if sources.is_empty() {
        return Err(match archive {
            Some(_) => Error::Fatal("the evidence manifest lists no sources".into()),
            None => config
                .error_at(
                    &["sources"],
                    "no [[sources]] configured: add a Sentry or Sent.dm source".into(),
                )
                .into(),
        });
    }
    Ok((config, sources))
}

/// Read the review inputs (roster, suppressions, baseline). A roster turns on its rules.
fn load_review(
    args: &RunArgs,
    config: &Config,
    as_of: DateTime<Utc>,
) -> Result<(Review, Option<Roster>), Error> {
    let mut loaded_roster = None;
    if let Some(roster) = &config.roster {
        let loaded = Roster::load(roster)?;
        tracing::info!(people = loaded.people().len(), file = %roster.file.display(), "roster loaded");
        loaded_roster = Some(loaded);
    }
    let suppressions = args.suppressions.as_ref().or(config.suppressions.as_ref());
    let baseline = match &args.baseline {
        Some(path) => {
            let (_, file) = schema::read(path, "baseline report.json").map_err(Error::Fatal)?;
            Some(file.into_baseline())
        }
        None => None,
    };
    let review = Review::load(suppressions.map(PathBuf::as_path), baseline, as_of)?;
    Ok((review, loaded_roster))
}

pub(crate) async fn run(
    args: &RunArgs,
    config_path: &ConfigPath,
    summary: bool,
) -> Result<ExitStatus, Error> {
    let run = prepare(args, config_path, summary)?;
    let stop = StopSignal::new();
    // Armed until the command ends: a signal while the reports are written or the email is
    // under way must still be honoured.
    let _armed = stop.arm(args.deadline);
    let fetched = fetch_all(&run.fetch_plan(), args, &stop).await?;
    let evidence_manifest_sha256 = run.finish_evidence()?;
    let context = run.context();
    let rules::Evaluated {
        findings,
        evaluated,
    } = evaluate(&fetched.results, &run.config, context);
    let reviewed = run.review.apply(findings, &fetched.results, run.as_of);
    let recorded_stop = stop.cause();
    let mut report = run.report(
        args,
        fetched,
        Judged {
            reviewed,
            evaluated,
        },
        evidence_manifest_sha256,
        recorded_stop,
    );

    if let Some(roster) = &run.roster {
        report.people =
            crate::review::roster::people_view(roster, &report.accounts, &report.findings);
    }
    let status = finish(report, &run.settings, &stop, recorded_stop).await?;
    if let Some(review) = &run.config.review {
        super::remediate_verify::verify_open_plans(review, &run.settings.output_dir);
    }
    Ok(status)
}

/// A run before its first request: everything that can fail for the operator's reasons (the
/// config, secrets, review inputs, the output and evidence directories) has been checked.
struct Prepared {
    as_of: DateTime<Utc>,
    config: Config,
    sources: Vec<SourceConfig>,
    secrets: BTreeMap<String, SecretString>,
    archive: Option<Arc<ReplayArchive>>,
    evidence_dir: Option<PathBuf>,
    recorder: Option<Arc<EvidenceRecorder>>,
    review: Review,
    roster: Option<Roster>,
    settings: Settings,
}

fn prepare(args: &RunArgs, config_path: &ConfigPath, summary: bool) -> Result<Prepared, Error> {
    let archive = match &args.replay {
        Some(dir) => Some(Arc::new(ReplayArchive::load(dir).map_err(Error::Fatal)?)),
        None => None,
    };
    let as_of = as_of(args.as_of, archive.as_deref())?;
    let (mut config, sources) = load(config_path, archive.as_deref())?;
    config.rules.framework = args.framework;
    let evidence_dir = match &args.evidence {
        Some(dir) => Some(crate::output::expand_placeholders(dir, &as_of).map_err(Error::Fatal)?),
        None => None,
    };
    let secrets = match archive {
        Some(_) => BTreeMap::new(),
        None => config.resolve_source_secrets()?,
    };
    let (review, roster) = load_review(args, &config, as_of)?;
    let mut settings = Settings::resolve(&args.output, &args.email, &config, &as_of)?;
    settings.summary = summary;
    settings.recorded_evidence = evidence_dir.clone();
    let recorder = match &evidence_dir {
        Some(dir) => Some(Arc::new(
            EvidenceRecorder::create(dir).map_err(Error::Fatal)?,
        )),
        None => None,
    };
    if let Some(a) = &archive {
        warn_if_stale(a, as_of);
    }
    Ok(Prepared {
        as_of,
        config,
        sources,
        secrets,
        archive,
        evidence_dir,
        recorder,
        review,
        roster,
        settings,
    })
}

impl Prepared {
    fn fetch_plan(&self) -> FetchPlan<'_> {
        FetchPlan {
            sources: &self.sources,
            secrets: &self.secrets,
            archive: self.archive.as_ref(),
            recorder: self.recorder.as_ref(),
            as_of: self.as_of,
            scope_details: self
                .config
                .rules
                .needs()
                .contains(rules::Needs::ORG_SETTINGS),
        }
    }

    /// The digest of the evidence manifest: the one just recorded, or the one replayed once every
    /// body in it is known to be as recorded.
    fn finish_evidence(&self) -> Result<Option<String>, Error> {
        // Every body replayed was checked as it was read; the rest are checked now, and an
        // altered one fails the run before a report is written (whatever else the run does).
        if let Some(archive) = &self.archive {
            archive.verify_unreplayed().map_err(Error::Fatal)?;
        }
        Ok(match (&self.recorder, &self.archive) {
            (Some(rec), _) => Some(
                rec.finish(self.sources.iter().map(|s| s.spec.clone()).collect())
                    .map_err(|e| {
                        Error::Fatal(format!("cannot finish the evidence archive: {e}"))
                    })?,
            ),
            (None, Some(a)) => Some(a.manifest_sha256.clone()),
            (None, None) => None,
        })
    }

    fn context(&self) -> rules::Context<'_> {
        rules::Context {
            as_of: self.as_of,
            roster: self.roster.as_ref(),
        }
    }

    fn report(
        &self,
        args: &RunArgs,
        Fetched { results, retries }: Fetched,
        Judged {
            reviewed,
            evaluated,
        }: Judged,
        evidence_manifest_sha256: Option<String>,
        stopped: Option<StopReason>,
    ) -> Report {
        Report::build(ReportInput {
            run_id: self.settings.run_id.clone(),
            retries,
            title: self.config.report.title.clone(),
            as_of: self.as_of,
            generated_at: Utc::now(),
            results,
            findings: reviewed.findings,
            rules: self.config.rules.active_with(self.context().provides()),
            evaluated,
            fail_on: self.settings.fail_on,
            stopped: stopped.map(|r| r.to_string()),
            suppressions: reviewed.suppressions,
            changes: reviewed.changes,
            config_sha256: self.config.digest.clone(),
            evidence_manifest_sha256,
            evidence_dir: self
                .evidence_dir
                .as_ref()
                .or(args.replay.as_ref())
                .map(|p| p.display().to_string()),
            replayed: self.archive.is_some(),
            shard: args.shard,
            framework: args.framework.map(|f| f.name().to_string()),
        })
    }
}

/// What the rules and the review stage made of the accounts.
struct Judged {
    reviewed: Reviewed,
    /// How many accounts (or scopes) each rule evaluated.
    evaluated: Vec<(crate::model::RuleId, usize)>,
}

/// What fetching needs besides the command line.
struct FetchPlan<'a> {
    sources: &'a [SourceConfig],
    secrets: &'a BTreeMap<String, SecretString>,
    archive: Option<&'a Arc<ReplayArchive>>,
    recorder: Option<&'a Arc<EvidenceRecorder>>,
    as_of: DateTime<Utc>,
    /// Fetch each scope's own settings too (a rule needs them).
    scope_details: bool,
}

/// What fetching produced: every scope's result, and the requests retried on the way.
struct Fetched {
    results: Vec<ScopeResult>,
    retries: u32,
}

/// Fetch every source at once, each from the network or the archive.
async fn fetch_all(
    plan: &FetchPlan<'_>,
    args: &RunArgs,
    stop: &StopSignal,
) -> Result<Fetched, Error> {
    let progress = crate::progress::Progress::new(!args.no_progress);
    let retries = sources::RetryCount::default();
    let mut fetches = Vec::new();
    for source in plan.sources {
        let page_source = match plan.archive {
            Some(a) => PageSource::Replay(Arc::clone(a)),
            None => {
                let secret = plan.secrets.get(&source.spec.name).ok_or_else(|| {
                    Error::Fatal(format!(
                        "internal: no secret resolved for source {}",
                        source.spec.name
                    ))
                })?;
                sources::live_source(source, secret, plan.recorder.cloned())
                    .map_err(Error::Fatal)?
            }
        };
        fetches.push(sources::fetch_source(SourceContext {
            spec: &source.spec,
            concurrency: source.fetch.concurrency,
            fetcher: Fetcher {
                provenance: Default::default(),
                source: page_source,
                stop: stop.clone(),
                retries: retries.clone(),
            },
            as_of: plan.as_of,
            shard: args.shard,
            progress: progress.clone(),
            scope_details: plan.scope_details,
        }));
    }
    let results: Vec<ScopeResult> = futures::future::join_all(fetches)
        .await
        .into_iter()
        .flatten()
        .collect();
    stop.fetching_done();
    progress.finish();
    for r in &results {
        if let Err(e) = &r.outcome {
            tracing::error!(
                source = %r.source_name,
                scope = %r.scope,
                http_status = e.http_status,
                code = e.code.as_deref(),
                request_id = e.request_id.as_deref(),
                error = %e,
                "scope failed; its accounts are not in the report"
            );
        }
    }
    Ok(Fetched {
        results,
        retries: retries.total(),
    })
}

/// The rules over every scope that was fetched, and how many accounts (or scopes) each rule
/// evaluated over all of them. The scopes are split into runs of about equal accounts, one per
/// core, evaluated at once and put back together in the scopes' order.
fn evaluate(results: &[ScopeResult], config: &Config, context: rules::Context) -> rules::Evaluated {
    let phase = std::time::Instant::now();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let parts: Vec<rules::Evaluated> = std::thread::scope(|s| {
        let running: Vec<_> = split_by_accounts(results, cores)
            .into_iter()
            .map(|part| s.spawn(move || evaluate_part(part, config, context)))
            .collect();
        running
            .into_iter()
            // A panic in a rule is a bug: it goes on as it would have on this thread.
            .map(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut all = rules::Evaluated::default();
    for part in parts {
        if all.findings.is_empty() {
            all.findings = part.findings;
        } else {
            all.findings.extend(part.findings);
        }
        all.evaluated.extend(part.evaluated);
    }
    tracing::debug!(
        findings = all.findings.len(),
        ms = phase.elapsed().as_millis() as u64,
        "rules evaluated"
    );
    all
}

fn evaluate_part(
    results: &[ScopeResult],
    config: &Config,
    context: rules::Context,
) -> rules::Evaluated {
    let mut all = rules::Evaluated::default();
    let mut details = rules::DetailText::default();
    for r in results {
        if let Ok(accounts) = &r.outcome {
            let scope =
                rules::evaluate_scope_sharing(accounts, context, &config.rules, &mut details);
            all.findings.extend(scope.findings);
            all.evaluated.extend(scope.evaluated);
        }
    }
    all
}

/// `results` cut into at most `parts` consecutive runs of about the same number of accounts.
fn split_by_accounts(results: &[ScopeResult], parts: usize) -> Vec<&[ScopeResult]> {
    let size = |r: &ScopeResult| r.outcome.as_ref().map_or(0, Vec::len);
    let total: usize = results.iter().map(size).sum();
    let per_part = total.div_ceil(parts.max(1)).max(1);
    let mut runs = Vec::with_capacity(parts);
    let (mut start, mut filled) = (0, 0);
    for (i, r) in results.iter().enumerate() {
        filled += size(r);
        if filled >= per_part {
            runs.push(&results[start..=i]);
            (start, filled) = (i + 1, 0);
        }
    }
    if start < results.len() {
        runs.push(&results[start..]);
    }
    runs
}

/// The instant the rules judge at: `--as-of`; without it, now, or for a replay the moment the
/// archive was recorded, so that a replay reproduces the recorded run's findings.
fn as_of(option: Option<AsOf>, archive: Option<&ReplayArchive>) -> Result<DateTime<Utc>, Error> {
    match (option, archive) {
        (Some(AsOf::At(t)), _) => Ok(t),
        (Some(AsOf::Now), _) | (None, None) => Ok(Utc::now()),
        (None, Some(a)) => crate::timestamp::parse_timestamp(&a.manifest.finished_at).ok_or_else(|| {
            Error::Fatal(format!(
                "the evidence manifest's finished_at `{}` is not a timestamp, so the replay cannot \
                 evaluate as of the recording: pass --as-of RFC3339 (or --as-of now)",
                a.manifest.finished_at
            ))
        }),
    }
}

/// Replaying old evidence "as of now" ages every account by the archive's age; say so.
fn warn_if_stale(archive: &ReplayArchive, as_of: chrono::DateTime<Utc>) {
    if let Some(finished) = crate::timestamp::parse_timestamp(&archive.manifest.finished_at) {
        let age = as_of - finished;
        if age > chrono::TimeDelta::days(1) {
            tracing::warn!(
                recorded = %archive.manifest.finished_at,
                as_of = %crate::model::format_time(&as_of),
                "the archive was recorded {} days before --as-of; ages are measured from --as-of \
                 (leave --as-of out, or pass --as-of {}, to evaluate as the original run did)",
                age.num_days(),
                archive.manifest.finished_at
            );
        }
    }
}
