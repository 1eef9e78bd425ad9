//! `remediate verify RUN_DIR --against NEW_RUN_DIR`, and the same check at the end of every run
//! for each plan the ledger holds that is not verified in full.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::remediate::*;
use crate::Error;
use crate::access_review::config::ReviewSettings;
use crate::cli::RemediateVerifyArgs;
use crate::exit::ExitStatus;
use crate::remediation::apply::ApplyLog;
use crate::remediation::plan::{self};
use crate::remediation::{
    PLAN_JSON, REMEDIATION_DIR, VERIFICATION_JSON, apply_log_name, trust, verify,
};

pub(super) fn verify_against(
    args: &RemediateVerifyArgs,
    review: &ReviewSettings,
) -> Result<ExitStatus, Error> {
    verify_plan(&args.run_dir, &args.against, review)
}

/// After a run, with `[review]`: every plan in the ledger not yet verified in full is checked
/// against this run (what `remediate verify RUN_DIR --against` does), so that the next run
/// proves the changes. It never changes the run's exit status: a plan that cannot be checked
/// is logged, and `remediate verify` says why.
pub(crate) fn verify_open_plans(review: &ReviewSettings, this_run: &Path) {
    let mut plans: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut verified: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    let visit = |_: u64, r: &crate::ledger::Record| {
        let plan_id = r.summary.get("plan_id").and_then(serde_json::Value::as_str);
        let Some(plan_id) = plan_id else { return };
        match r.kind {
            crate::ledger::Kind::RemediationPlan => {
                plans.insert(plan_id.to_string(), PathBuf::from(&r.run_dir));
            }
            crate::ledger::Kind::RemediationVerify => {
                let left: u64 = ["not_verified", "unverifiable"]
                    .iter()
                    .filter_map(|k| r.summary.get(*k).and_then(serde_json::Value::as_u64))
                    .sum();
                if left == 0 {
                    verified.insert(plan_id.to_string());
                }
            }
            _ => {}
        }
    };
    if let Err(e) = crate::ledger::verify(&review.ledger_dir, visit) {
        tracing::debug!(error = %e, "no remediation plan to verify");
        return;
    }
    for (plan_id, run_dir) in plans.into_iter().filter(|(id, _)| !verified.contains(id)) {
        let current = plan::read(&run_dir.join(REMEDIATION_DIR).join(PLAN_JSON));
        // A plan replaced by a newer one of the same run is the newer one's to verify.
        if !current.as_ref().is_ok_and(|p| p.plan_id == plan_id) {
            continue;
        }
        if let Err(e) = verify_plan(&run_dir, this_run, review) {
            tracing::warn!(plan = %plan_id, error = %e, "the remediation plan could not be verified against this run");
        }
    }
}

fn verify_plan(
    run_dir: &Path,
    against: &Path,
    review: &ReviewSettings,
) -> Result<ExitStatus, Error> {
    let dir = run_dir.join(REMEDIATION_DIR);
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same(run_dir, against) {
        return Err(Error::Fatal(format!(
            "--against {} is the reviewed run itself: verify against a later run",
            against.display()
        )));
    }
    let recorded = trust::recorded(&review.ledger_dir).map_err(Error::Fatal)?;
    let plan_path = dir.join(PLAN_JSON);
    let plan = plan::read(&plan_path).map_err(Error::Fatal)?;
    recorded
        .check_plan(&plan.plan_id, &plan_path)
        .map_err(Error::Fatal)?;
    let log = ApplyLog::read(&dir.join(apply_log_name(&plan.plan_id))).map_err(Error::Fatal)?;
    let (_, later) = super::review::read_report(against)?;
    if later.as_of <= plan.created_at {
        return Err(Error::Fatal(format!(
            "the run in {} is as of {}, not after plan {} was made ({}): it cannot show the plan's changes",
            against.display(),
            crate::model::format_human(&later.as_of),
            plan.plan_id,
            crate::model::format_human(&plan.created_at)
        )));
    }
    let accounts = later.accounts().map_err(Error::Fatal)?;
    let later_view = verify::Later {
        dir: against.display().to_string(),
        run_id: later.run.run_id.clone().unwrap_or_default(),
        as_of: later.as_of,
        scopes: &later.scopes,
        accounts: &accounts,
    };
    let result = verify::verify(&plan, log.as_ref(), &later_view, review.revoke_within_days);
    let path = dir.join(VERIFICATION_JSON);
    crate::output::write_atomically(&path, |out| {
        serde_json::to_writer_pretty(&mut *out, &result)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        out.write_all(b"\n")
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    })
    .map_err(Error::Fatal)?;
    let recorded = ledger_record(
        review,
        crate::ledger::Kind::RemediationVerify,
        &plan.run_id,
        run_dir,
        vec![path.clone(), against.join(crate::report::REPORT_JSON)],
        serde_json::json!({
            "plan_id": plan.plan_id,
            "review_id": plan.review.review_id,
            "against_run_id": result.against_run_id,
            "verified": result.verified,
            "not_verified": result.not_verified,
            "unverifiable": result.unverifiable,
            "revoke_within_days": result.revoke_within_days,
            "late": result.rows.iter().filter(|r| r.within_deadline == Some(false)).count(),
        }),
    );
    print_verification(&result, &path)?;
    let all = result.verified == result.rows.len();
    Ok(if all {
        ExitStatus::Clean
    } else {
        ExitStatus::Incomplete
    }
    .worse(recorded))
}

fn print_verification(v: &verify::Verification, path: &Path) -> Result<(), Error> {
    let mut out = format!(
        "Plan {} against the run of {}: {} verified, {} not verified, {} unverifiable.\n",
        v.plan_id,
        crate::model::format_human(&v.against_as_of),
        v.verified,
        v.not_verified,
        v.unverifiable
    );
    for r in &v.rows {
        let timing = match (r.days_to_apply, r.within_deadline) {
            (Some(d), Some(true)) => format!(
                " (made {d} days after sign-off, within {})",
                v.revoke_within_days
            ),
            (Some(d), Some(false)) => format!(
                " (made {d} days after sign-off: LATE, over {})",
                v.revoke_within_days
            ),
            _ => " (not made by access-audit)".to_string(),
        };
        let line = format!(
            "  {} {} {}: {} — {}{timing}",
            r.change_id,
            r.action_describe(),
            r.target.describe(),
            r.result.as_str(),
            r.detail
        );
        let _ = writeln!(out, "{}", crate::text::escape_controls(&line));
    }
    let _ = writeln!(out, "Written to {}", path.display());
    crate::output::to_stdout(out.as_bytes()).map_err(Error::Fatal)
}
