//! `access-audit run`: config → fetch every scope → rules → reports → (email) → exit status.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;

use crate::cli::RunArgs;
use crate::config::{Config, FetchSettings, SourceConfig};
use crate::deliver::smtp::SmtpTarget;
use crate::deliver::{self, EmailJob};
use crate::exit::ExitStatus;
use crate::model::{FailOn, ScopeResult};
use crate::report::{self, Report, ReportInput};
use crate::rules;
use crate::sources::evidence::{EvidenceRecorder, probe_writable};
use crate::sources::replay::ReplayArchive;
use crate::sources::{self, Fetcher, PageSource, SourceContext};
use crate::stop::StopSignal;
use crate::templates::Templates;
use crate::{ConfigPath, Error};

/// The config after command-line overrides: what this run will do.
struct Plan {
    config: Config,
    sources: Vec<SourceConfig>,
    output_dir: PathBuf,
    formats: Vec<crate::config::Format>,
    fail_on: FailOn,
    email: bool,
}

fn plan(
    args: &RunArgs,
    config_path: &ConfigPath,
    archive: Option<&ReplayArchive>,
) -> Result<Plan, Error> {
    let config = match (archive, config_path) {
        // Replay needs no config: the sources come from the manifest, rules take defaults.
        (Some(_), ConfigPath::Default(p)) if !p.exists() => Config::defaults(),
        _ => Config::load(config_path.path())?,
    };
    let sources = match archive {
        Some(a) => a
            .manifest
            .sources
            .iter()
            .enumerate()
            .map(|(index, spec)| SourceConfig {
                spec: spec.clone(),
                secret: None,
                secret_key: String::new(),
                index,
                fetch: FetchSettings::defaults_for(spec.kind),
            })
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
    let email = if args.email {
        true
    } else if args.no_email {
        false
    } else {
        config.email.enabled
    };
    if email && args.email_preview.is_none() {
        config
            .email
            .check_complete()
            .map_err(|(key, msg)| config.error_at(&["email", key], msg))?;
    }
    if args.email_preview.is_some() {
        // A preview needs the addresses, not the SMTP server.
        if config.email.from.is_none() {
            return Err(config
                .error_at(
                    &["email", "from"],
                    "--email-preview needs email.from to be set".into(),
                )
                .into());
        }
        if config.email.to.is_empty() {
            return Err(config
                .error_at(
                    &["email", "to"],
                    "--email-preview needs at least one address in email.to".into(),
                )
                .into());
        }
    }
    Ok(Plan {
        output_dir: args
            .out
            .clone()
            .unwrap_or_else(|| config.report.output_dir.clone()),
        formats: args.format.clone().map_or_else(
            || config.report.formats.clone(),
            |mut f| {
                f.sort();
                f.dedup();
                f
            },
        ),
        fail_on: args.fail_on.unwrap_or(config.report.fail_on),
        email,
        sources,
        config,
    })
}

pub async fn run(args: &RunArgs, config_path: &ConfigPath) -> Result<ExitStatus, Error> {
    let as_of = args.as_of.unwrap_or_else(Utc::now);
    let archive = match &args.replay {
        Some(dir) => Some(Arc::new(ReplayArchive::load(dir).map_err(Error::Fatal)?)),
        None => None,
    };
    let mut plan = plan(args, config_path, archive.as_deref())?;
    plan.config.rules.framework = args.framework;
    plan.output_dir =
        crate::output::expand_placeholders(&plan.output_dir, &as_of).map_err(Error::Fatal)?;
    let evidence_dir = match &args.evidence {
        Some(dir) => Some(crate::output::expand_placeholders(dir, &as_of).map_err(Error::Fatal)?),
        None => None,
    };

    // Everything that can fail for the operator's reasons fails here, before any request.
    let preview = args.email_preview.as_deref();
    let send_email = plan.email && preview.is_none();
    let secrets = plan.config.resolve_secrets(send_email)?;
    let baseline = match &args.baseline {
        Some(path) => Some(crate::baseline::Baseline::load(path).map_err(Error::Fatal)?),
        None => None,
    };
    if let Some(roster) = &plan.config.roster {
        let loaded = crate::roster::Roster::load(roster)?;
        tracing::info!(people = loaded.people().len(), file = %roster.file.display(), "roster loaded");
        plan.config.rules.roster = Some(Arc::new(loaded));
    }
    let suppressions = match args
        .suppressions
        .as_ref()
        .or(plan.config.suppressions.as_ref())
    {
        Some(path) => crate::suppress::Suppressions::load(path, as_of)?,
        None => crate::suppress::Suppressions::default(),
    };
    let templates =
        Templates::load(plan.config.report.template_dir.as_deref()).map_err(Error::Fatal)?;
    let smtp_target = match &secrets.smtp_url {
        Some(url) if send_email => Some(SmtpTarget::from_config(&plan.config, url)?),
        _ => None,
    };
    std::fs::create_dir_all(&plan.output_dir).map_err(|e| {
        Error::Fatal(format!(
            "cannot create output directory {}: {e}",
            plan.output_dir.display()
        ))
    })?;
    // Held until the run ends, so a second run into this directory fails here, before any
    // request, instead of mixing its reports with ours.
    let _output_lock = crate::output::lock_dir(&plan.output_dir).map_err(Error::Fatal)?;
    probe_writable(&plan.output_dir).map_err(|e| Error::Fatal(format!("output {e}")))?;
    let recorder = match &evidence_dir {
        Some(dir) => Some(Arc::new(
            EvidenceRecorder::create(dir).map_err(Error::Fatal)?,
        )),
        None => None,
    };
    if let Some(a) = &archive {
        warn_if_stale(a, as_of);
    }

    let progress = crate::progress::Progress::new(!args.no_progress);
    let stop = StopSignal::new();
    // Armed until the command ends: a stop while the reports are written or the email is under
    // way must still be honoured.
    let _armed = stop.arm(args.deadline);
    let mut fetches = Vec::new();
    for source in &plan.sources {
        let page_source = match &archive {
            Some(a) => PageSource::Replay(Arc::clone(a)),
            None => {
                let secret = secrets.sources.get(&source.spec.name).ok_or_else(|| {
                    Error::Fatal(format!(
                        "internal: no secret resolved for source {}",
                        source.spec.name
                    ))
                })?;
                sources::live_source(source, secret, recorder.clone()).map_err(Error::Fatal)?
            }
        };
        let fetcher = Fetcher {
            source: page_source,
            stop: stop.clone(),
        };
        fetches.push(sources::fetch_source(SourceContext {
            spec: &source.spec,
            concurrency: source.fetch.concurrency,
            fetcher,
            as_of,
            shard: args.shard,
            progress: progress.clone(),
            org_details: plan
                .config
                .rules
                .active()
                .iter()
                .any(|r| r.id == "sso_not_linked"),
        }));
    }
    let results: Vec<ScopeResult> = futures::future::join_all(fetches)
        .await
        .into_iter()
        .flatten()
        .collect();
    stop.fetching_done();
    progress.finish();

    let evidence_manifest_sha256 = match (&recorder, &archive) {
        (Some(rec), _) => Some(
            rec.finish(plan.sources.iter().map(|s| s.spec.clone()).collect())
                .map_err(|e| Error::Fatal(format!("cannot finish the evidence archive: {e}")))?,
        ),
        (None, Some(a)) => Some(a.manifest_sha256.clone()),
        (None, None) => None,
    };

    let phase = std::time::Instant::now();
    let mut findings = Vec::new();
    for r in &results {
        if let Ok(accounts) = &r.outcome {
            findings.extend(rules::evaluate(accounts, as_of, &plan.config.rules));
        }
    }
    for r in &results {
        if let Err(e) = &r.outcome {
            tracing::error!(source = %r.source_name, scope = %r.scope, error = %e, "scope failed; its accounts are not in the report");
        }
    }

    let suppression_states = suppressions.apply(&mut findings, as_of);
    let changes = baseline
        .as_ref()
        .map(|b| b.compare(&mut findings, &results, &crate::model::format_time(&as_of)));
    for s in &suppression_states {
        match s.state {
            crate::suppress::State::Expired => {
                tracing::warn!(entry = s.index, rule = s.rule, expires = %s.expires,
                matched = s.matched, "a suppression has expired and no longer suppresses")
            }
            crate::suppress::State::Unused => tracing::warn!(
                entry = s.index,
                rule = s.rule,
                "a suppression matched no finding"
            ),
            crate::suppress::State::Active => {}
        }
    }
    tracing::debug!(
        findings = findings.len(),
        ms = phase.elapsed().as_millis() as u64,
        "rules evaluated"
    );
    let phase = std::time::Instant::now();
    let recorded_stop = stop.cause();
    let report = Report::build(ReportInput {
        title: plan.config.report.title.clone(),
        as_of,
        generated_at: Utc::now(),
        results,
        findings,
        rules: plan.config.rules.active(),
        fail_on: plan.fail_on,
        stopped: recorded_stop.map(|r| r.to_string()),
        suppressions: suppression_states,
        changes,
        config_sha256: plan.config.digest.clone(),
        evidence_manifest_sha256,
        evidence_dir: evidence_dir
            .as_ref()
            .or(args.replay.as_ref())
            .map(|p| p.display().to_string()),
        replayed: archive.is_some(),
        shard: args.shard.map(|s| format!("{}/{}", s.index, s.count)),
        framework: args.framework.map(|f| f.name().to_string()),
    });
    tracing::debug!(ms = phase.elapsed().as_millis() as u64, "report built");
    let mut report = report;
    if let Some(roster) = &plan.config.rules.roster {
        report.people = crate::roster::people_view(roster, &report.accounts, &report.findings);
    }
    let written = report::write_all(&report, &plan.output_dir, &plan.formats, &templates)
        .map_err(|e| Error::Fatal(format!("{e}; no complete report was produced")))?;

    let failing = report.failing_at_or_above(plan.fail_on);
    tracing::info!(
        accounts = report.summary.accounts,
        findings = report.summary.findings,
        failing = report.summary.failing,
        manual = report.summary.manual,
        scopes = report.summary.scopes,
        scopes_failed = report.summary.scopes_failed,
        complete = report.complete,
        output_dir = %plan.output_dir.display(),
        files = written.len(),
        "{}",
        report.verdict()
    );

    // Only now, with every report on disk, does anything leave by email.
    let email_failed = if send_email || preview.is_some() {
        let job = EmailJob {
            config: &plan.config.email,
            fail_on: plan.fail_on,
            templates: &templates,
            output_dir: &plan.output_dir,
            target: smtp_target.as_ref(),
            preview,
        };
        deliver::deliver_unless_stopped(&report, &job, &stop).await
    } else {
        false
    };
    crate::stop::record_late_stop(&mut report, recorded_stop, &stop, |r| {
        report::write_all(r, &plan.output_dir, &plan.formats, &templates)
    });
    Ok(ExitStatus::for_run(
        email_failed,
        !report.complete,
        failing > 0,
    ))
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
                 (pass --as-of {} to evaluate as the original run did)",
                age.num_days(),
                archive.manifest.finished_at
            );
        }
    }
}
