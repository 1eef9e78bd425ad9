//! `remediate plan`: the signed-off review's revoke and change_role decisions, each account
//! re-read and checked, as `RUN_DIR/remediation/plan.json` and `plan.html`, recorded in the ledger.

use std::fmt::Write as _;
use std::path::Path;

use chrono::Utc;

use super::remediate::*;
use crate::Error;
use crate::access_review::config::ReviewSettings;
use crate::cli::RemediatePlanArgs;
use crate::config::Config;
use crate::exit::ExitStatus;
use crate::remediation::apply::ApplyLog;
use crate::remediation::build::{self};
use crate::remediation::channel::Channel;
use crate::remediation::plan::{self, Change, Plan};
use crate::remediation::{PLAN_HTML, PLAN_JSON, REMEDIATION_DIR, apply_log_name, html, trust};

pub(super) async fn make_plan(
    args: &RemediatePlanArgs,
    config: &Config,
    review: &ReviewSettings,
) -> Result<ExitStatus, Error> {
    let run_dir = &args.run_dir;
    let _lock = crate::output::lock_dir(run_dir).map_err(Error::Fatal)?;
    let recorded = trust::recorded(&review.ledger_dir).map_err(Error::Fatal)?;
    let signed = signed_review(run_dir, &recorded)?;
    keep_earlier_plan(run_dir, args.replace)?;
    let (candidates, missing) = build::candidates(&signed.state, &signed.accounts);
    if !missing.is_empty() {
        return Err(Error::Fatal(format!(
            "decisions of review {} name accounts report.json does not hold: {}",
            signed.state.review_id,
            missing.join(", ")
        )));
    }
    let names: Vec<&str> = candidates
        .iter()
        .map(|c| c.target.source_name.as_str())
        .collect();
    let (recorder, channels) = channels(config, &names, run_dir, "plan")?;
    let plan_id = format!("{:016x}", rand::random::<u64>());
    let now = Utc::now();
    let (changes, mut refused) =
        build::check_all(candidates, &config.sources, &channels, &plan_id, now).await;
    let owner_role = |name: &str| {
        config
            .sources
            .iter()
            .find(|s| s.spec.name == name)
            .and_then(|s| s.spec.source().owner_role())
    };
    let (changes, no_owner) = build::keep_an_owner(changes, &signed.accounts, owner_role);
    refused.extend(
        no_owner
            .into_iter()
            .map(|(c, why)| build::refused_change(c, why)),
    );
    let plan = Plan {
        plan_version: plan::PLAN_VERSION,
        plan_id,
        created_at: now,
        run_id: signed.state.run_id.clone(),
        review: review_ref(&signed),
        sources: source_refs(config, &changes),
        changes,
        refused,
        digest: String::new(),
    }
    .seal()
    .map_err(Error::Fatal)?;
    let evidence = finish_evidence(&recorder, &channels);
    let dir = run_dir.join(REMEDIATION_DIR);
    write_plan(&dir, &plan, &signed.title)?;
    let recorded = ledger_record(
        review,
        crate::ledger::Kind::RemediationPlan,
        &plan.run_id,
        run_dir,
        vec![dir.join(PLAN_JSON)],
        serde_json::json!({
            "plan_id": plan.plan_id,
            "review_id": plan.review.review_id,
            "changes": plan.changes.len(),
            "refused": plan.refused.len(),
            "plan_sha256": plan.digest,
        }),
    );
    print_plan(&plan, &dir)?;
    if let Err(e) = evidence {
        tracing::error!(error = %e, "the plan's reads could not be kept as evidence");
        return Ok(ExitStatus::EmailFailed);
    }
    let lost = channels.values().any(Channel::lost_evidence);
    Ok(if lost {
        ExitStatus::EmailFailed
    } else {
        recorded
    })
}

pub(super) fn source_refs(config: &Config, changes: &[Change]) -> Vec<plan::SourceRef> {
    config
        .sources
        .iter()
        .filter(|s| changes.iter().any(|c| c.target.source_name == s.spec.name))
        .map(|s| plan::SourceRef {
            name: s.spec.name.clone(),
            source_type: s.spec.kind().as_str().to_string(),
            base_url: s.spec.base_url.clone(),
        })
        .collect()
}

/// A plan whose changes were sent is not replaced silently: its log would no longer be
/// verified. With `--replace` the earlier plan is kept as `plan-<id>.json` beside its log.
fn keep_earlier_plan(run_dir: &Path, replace: bool) -> Result<(), Error> {
    let dir = run_dir.join(REMEDIATION_DIR);
    let Ok(earlier) = plan::read(&dir.join(PLAN_JSON)) else {
        return Ok(());
    };
    let log = ApplyLog::read(&dir.join(apply_log_name(&earlier.plan_id))).map_err(Error::Fatal)?;
    let sent = log.is_some_and(|l| l.attempts.iter().any(|a| !a.dry_run));
    if !sent {
        return Ok(());
    }
    if !replace {
        return Err(Error::Fatal(format!(
            "plan {} of {} has changes that were already sent: a new plan would replace it and its record. \
             Verify it first (`remediate verify`), or pass --replace to keep it as plan-{}.json and make a new one",
            earlier.plan_id,
            run_dir.display(),
            earlier.plan_id
        )));
    }
    let kept = dir.join(format!("plan-{}.json", earlier.plan_id));
    std::fs::rename(dir.join(PLAN_JSON), &kept).map_err(|e| {
        Error::Fatal(format!(
            "cannot keep the earlier plan as {}: {e}",
            kept.display()
        ))
    })
}

fn write_plan(dir: &Path, plan: &Plan, title: &str) -> Result<(), Error> {
    let json = plan::to_json(plan).map_err(Error::Fatal)?;
    let page = html::render(plan, title);
    let mut set = crate::output::FileSet::new(dir).map_err(Error::Fatal)?;
    let put = |out: &mut dyn std::io::Write, bytes: &[u8], name: &str| {
        out.write_all(bytes)
            .map_err(|e| format!("cannot write {name}: {e}"))
    };
    set.stage(PLAN_JSON, |out| put(out, &json, PLAN_JSON))
        .map_err(Error::Fatal)?;
    set.stage(PLAN_HTML, |out| put(out, page.as_bytes(), PLAN_HTML))
        .map_err(Error::Fatal)?;
    set.commit().map(|_| ()).map_err(Error::Fatal)
}

fn print_plan(plan: &Plan, dir: &Path) -> Result<(), Error> {
    let mut out = format!(
        "Plan {} from review {}: {} change{}, {} decision{} not acted on.\n",
        plan.plan_id,
        plan.review.review_id,
        plan.changes.len(),
        crate::report::plural(plan.changes.len()),
        plan.refused.len(),
        crate::report::plural(plan.refused.len()),
    );
    let shown = |line: String| crate::text::escape_controls(&line).into_owned();
    for c in &plan.changes {
        let line = format!(
            "  {} {}: {}",
            c.id,
            c.action.describe(&c.target),
            c.target.describe()
        );
        let _ = writeln!(out, "{}", shown(line));
    }
    for r in &plan.refused {
        let line = format!("  not acted on: {}: {}", r.target.describe(), r.reason);
        let _ = writeln!(out, "{}", shown(line));
    }
    let plan_path = dir.join(PLAN_JSON);
    let _ = writeln!(
        out,
        "Read {} first. Then rehearse: access-audit remediate apply {} --dry-run --yes\n\
         and apply:   access-audit remediate apply {} --yes",
        dir.join(PLAN_HTML).display(),
        plan_path.display(),
        plan_path.display()
    );
    crate::output::to_stdout(out.as_bytes()).map_err(Error::Fatal)
}
