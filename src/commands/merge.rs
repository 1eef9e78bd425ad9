//! `access-audit merge DIR…`: one report from the reports of shard runs (`run --shard I/N`), with
//! coverage intact — a shard whose report is missing shows up as a failed scope, never as nothing.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::Utc;

use crate::cli::MergeArgs;
use crate::config::Config;
use crate::exit::ExitStatus;
use crate::finish::finish;
use crate::model::{
    Account, Finding, RuleId, ScopeError, ScopeResult, ScopeStatus, Shard, SourceKind,
};
use crate::report::schema::{self, ReportFile};
use crate::report::{Report, ReportInput, ScopeEntry};
use crate::rules::{ActiveRule, rule_info};
use crate::settings::Settings;
use crate::stop::StopSignal;
use crate::{ConfigPath, Error};

pub(crate) async fn merge(
    args: &MergeArgs,
    config_path: &ConfigPath,
    summary: bool,
) -> Result<ExitStatus, Error> {
    let config = match config_path {
        ConfigPath::Default(p) if !p.exists() => Config::defaults(),
        _ => Config::load(config_path.path())?,
    };
    let shards = read_shards(&args.inputs)?;
    let first = &shards[0].1;
    let (as_of, first_title) = (first.as_of, first.title.clone());
    let rules = active_rules(first);
    // Every operator mistake in the config or options fails here, before the merge is built,
    // exactly as it would for `run`.
    let mut settings = Settings::resolve(&args.output, &args.email, &config, &as_of)?;
    settings.summary = summary;
    let missing = missing_shards(&shards)?;
    let mut combined = combine(shards)?;
    combined
        .results
        .extend(missing.into_iter().map(missing_shard));

    let title = if config.file.is_some() {
        config.report.title.clone()
    } else {
        first_title
    };
    let report = Report::build(ReportInput {
        run_id: settings.run_id.clone(),
        retries: combined.retries,
        title,
        as_of,
        generated_at: Utc::now(),
        results: combined.results,
        findings: combined.findings,
        rules,
        evaluated: combined.evaluated,
        fail_on: settings.fail_on,
        stopped: (!combined.stopped.is_empty()).then(|| combined.stopped.join("; ")),
        suppressions: Vec::new(),
        changes: None,
        config_sha256: config.digest.clone(),
        evidence_manifest_sha256: None,
        evidence_dir: None,
        replayed: false,
        shard: None,
        framework: None,
    });
    // From the first write on, a signal is recorded in the reports rather than ending the process
    // (before, the default action ends it at once, with nothing written).
    let stop = StopSignal::new();
    let _armed = stop.arm(None);
    tracing::info!(reports = args.inputs.len(), "merged");
    finish(report, &settings, &stop, None).await
}

/// Read every shard's report and check they belong to one run: one `as_of` (different configs
/// are allowed, with a warning).
fn read_shards(inputs: &[PathBuf]) -> Result<Vec<(PathBuf, ReportFile)>, Error> {
    let shards: Vec<(PathBuf, ReportFile)> = inputs
        .iter()
        .map(|p| schema::read(p, "shard report.json").map_err(Error::Fatal))
        .collect::<Result<_, _>>()?;
    let Some((first_path, first)) = shards.first() else {
        return Err(Error::Fatal("merge needs at least one report".into()));
    };
    let mut digests: Vec<&str> = shards
        .iter()
        .filter_map(|(_, s)| s.run.config_sha256.as_deref())
        .collect();
    digests.sort_unstable();
    digests.dedup();
    if digests.len() > 1 {
        tracing::warn!(
            configs = digests.len(),
            "the reports were made with different config files; rules and severities may differ"
        );
    }
    if let Some((path, s)) = shards.iter().find(|(_, s)| s.as_of != first.as_of) {
        return Err(Error::Fatal(format!(
            "{} was evaluated as of {}, but {} as of {}: merge reports of one run (give every shard the same --as-of)",
            path.display(),
            s.as_of,
            first_path.display(),
            first.as_of
        )));
    }
    Ok(shards)
}

/// The rules the shards ran, as the first one recorded them.
fn active_rules(first: &ReportFile) -> Vec<ActiveRule> {
    first
        .run
        .rules
        .iter()
        .filter_map(|r| {
            rule_info(&r.id).map(|info| ActiveRule {
                id: info.id,
                severity: r.severity,
                criteria: r.checks.clone().unwrap_or_else(|| info.checks.to_string()),
                settings: r.settings.clone(),
            })
        })
        .collect()
}

/// Every shard of N must be there exactly once; the ones not given.
fn missing_shards(shards: &[(PathBuf, ReportFile)]) -> Result<Vec<Shard>, Error> {
    let Some(n) = shards
        .iter()
        .find_map(|(_, s)| s.run.shard)
        .map(|s| s.count)
    else {
        return Ok(Vec::new());
    };
    let mut seen: BTreeMap<u32, &Path> = BTreeMap::new();
    for (path, report) in shards {
        match report.run.shard {
            Some(Shard { index: i, count }) if count == n => {
                if let Some(other) = seen.insert(i, path) {
                    return Err(Error::Fatal(format!(
                        "shard {i}/{n} is given twice: {} and {}",
                        other.display(),
                        path.display()
                    )));
                }
            }
            _ => {
                return Err(Error::Fatal(format!(
                    "{} is not one of the {n} shards of this run; merge the shards of one run together",
                    path.display()
                )));
            }
        }
    }
    Ok((0..n)
        .filter(|i| !seen.contains_key(i))
        .map(|index| Shard { index, count: n })
        .collect())
}

/// A shard that was not given: a failed scope, so the merged run is incomplete, never short.
fn missing_shard(shard: Shard) -> ScopeResult {
    let Shard { index: i, count: n } = shard;
    ScopeResult {
        // Not an API's scope: `merge` itself reports the gap.
        source: SourceKind::new("merge"),
        source_name: "merge".into(),
        scope: format!("_shard-{i}-of-{n}"),
        provenance: Default::default(),
        outcome: Err(ScopeError {
            http_status: None,
            code: None,
            message: format!(
                "the report of shard {i}/{n} was not given to merge; its scopes are not in this report"
            ),
            request_id: None,
        }),
    }
}

/// The shards' scopes, findings and stops, combined.
struct Combined {
    results: Vec<ScopeResult>,
    findings: Vec<Finding>,
    stopped: Vec<String>,
    /// Requests the shards retried, together.
    retries: u32,
    /// How many accounts (or scopes) each rule evaluated, over every shard.
    evaluated: Vec<(RuleId, usize)>,
}

/// Each scope once (the same failed discovery scope may come from several shards; a scope
/// audited twice is an error), with its accounts; every finding; every stop.
fn combine(shards: Vec<(PathBuf, ReportFile)>) -> Result<Combined, Error> {
    let mut scope_entries: Vec<ScopeEntry> = Vec::new();
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    let mut accounts_by_scope: HashMap<(String, String), Vec<Account>> = HashMap::new();
    let mut findings: Vec<Finding> = Vec::new();
    let mut stopped: Vec<String> = Vec::new();
    let mut retries = 0u32;
    let mut evaluated = Vec::new();
    for (path, s) in shards {
        let in_file = |e: String| Error::Fatal(format!("{}: {e}", path.display()));
        let accounts = s.accounts().map_err(in_file)?;
        for entry in s.scopes {
            let key = (entry.source_name.clone(), entry.scope.clone());
            match index.get(&key) {
                Some(_) if entry.status == ScopeStatus::Failed => {}
                Some(&i) if scope_entries[i].status == ScopeStatus::Failed => {
                    scope_entries[i] = entry
                }
                Some(_) => {
                    return Err(Error::Fatal(format!(
                        "scope {} / {} was audited by more than one of the reports (again in {})",
                        key.0,
                        key.1,
                        path.display()
                    )));
                }
                None => {
                    index.insert(key, scope_entries.len());
                    scope_entries.push(entry);
                }
            }
        }
        for a in accounts {
            accounts_by_scope
                .entry((a.source_name.to_string(), a.scope.to_string()))
                .or_default()
                .push(a);
        }
        for f in s.findings {
            findings.push(f.into_finding().map_err(in_file)?);
        }
        stopped.extend(s.run.stopped);
        retries = retries.saturating_add(s.run.retries);
        evaluated.extend(s.run.rules.iter().filter_map(|r| {
            let n = r.population.as_ref()?.evaluated;
            Some((rule_info(&r.id)?.id, n))
        }));
    }
    let results = scope_entries
        .into_iter()
        .map(|e| scope_result(e, &mut accounts_by_scope))
        .collect();
    Ok(Combined {
        results,
        findings,
        stopped,
        retries,
        evaluated,
    })
}

/// A shard's scope entry back as a result, with its accounts.
fn scope_result(
    e: ScopeEntry,
    accounts_by_scope: &mut HashMap<(String, String), Vec<Account>>,
) -> ScopeResult {
    let key = (e.source_name.clone(), e.scope.clone());
    ScopeResult {
        source: e.source,
        source_name: e.source_name,
        scope: e.scope,
        provenance: e.provenance,
        outcome: match e.error {
            Some(err) if e.status == ScopeStatus::Failed => Err(err),
            None if e.status == ScopeStatus::Failed => Err(ScopeError {
                http_status: None,
                code: None,
                message: "failed".into(),
                request_id: None,
            }),
            _ => Ok(accounts_by_scope.remove(&key).unwrap_or_default()),
        },
    }
}
