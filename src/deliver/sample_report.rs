// A small report with something of everything — failing, manual and suppressed findings, a
// failed scope, a baseline comparison. One file for two test crates: `include!`d by the
// library's `deliver::sample` (unit tests) and by `tests/it/support/deliver.rs` (integration
// tests), each of which brings the names it uses into scope first. Items only, no `use`.

fn account(scope: &str, id: &str, privileged: bool, mfa: Option<bool>, days_ago: i64) -> Account {
    let as_of = Utc.with_ymd_and_hms(2026, 11, 20, 6, 0, 0).unwrap();
    let seen = Some(as_of - TimeDelta::days(days_ago));
    Account {
        source: SourceKind::Sentry,
        source_name: "sentry".into(),
        scope: scope.into(),
        account_id: id.into(),
        user_id: Some(id.into()),
        email: Some(format!("{id}@acme.example").into()),
        name: Some(format!("User \"{id}\"").into()),
        role: Some(if privileged { "owner" } else { "member" }.into()),
        privileged,
        status: "active".into(),
        mfa,
        last_login_at: seen,
        last_active_at: None,
        last_seen_at: seen,
        invited_at: None,
        created_at: Some(as_of - TimeDelta::days(400)),
        flags: Vec::new(),
    }
}

/// Title `Acme "Q4" review`; scopes acme (ok), acme-legacy (failed, HTTP 403); findings: two
/// stale logins (one suppressed), one admin without 2FA, one manual 2FA check.
pub(crate) fn report() -> Report {
    let as_of = Utc.with_ymd_and_hms(2026, 11, 20, 6, 0, 0).unwrap();
    let accounts = vec![
        account("acme", "u1", false, Some(true), 200),
        account("acme", "u2", false, Some(true), 300),
        account("acme", "u3", true, Some(false), 1),
        account("acme", "u4", true, None, 1),
        account("acme", "u5", false, Some(true), 1),
    ];
    let settings = RuleSettings::default();
    let Evaluated {
        mut findings,
        evaluated,
    } = evaluate_scope(&accounts, as_of, &settings);
    if let Some(f) = findings.iter_mut().find(|f| f.subject.account_id() == "u2") {
        f.suppressed = true;
    }
    let mut report = Report::build(ReportInput {
        run_id: "0123456789abcdef".into(),
        retries: 0,
        title: "Acme \"Q4\" review".into(),
        as_of,
        generated_at: as_of,
        results: vec![
            ScopeResult {
                source: SourceKind::Sentry,
                source_name: "sentry".into(),
                scope: "acme".into(),
                provenance: Default::default(),
                outcome: Ok(accounts),
            },
            ScopeResult {
                source: SourceKind::Sentry,
                source_name: "sentry".into(),
                scope: "acme-legacy".into(),
                provenance: Default::default(),
                outcome: Err(ScopeError {
                    http_status: Some(403),
                    code: None,
                    message: "forbidden".into(),
                    request_id: None,
                }),
            },
        ],
        findings,
        rules: settings.active(),
        evaluated,
        fail_on: FailOn::Severity(Severity::Low),
        stopped: None,
        suppressions: Vec::new(),
        changes: None,
        config_sha256: None,
        evidence_manifest_sha256: None,
        evidence_dir: None,
        replayed: false,
        shard: None,
        framework: None,
    });
    report.changes = Some(Changes {
        baseline_as_of: "2026-11-13T06:00:00Z".into(),
        new: 2,
        persisting: 1,
        resolved: Vec::new(),
        not_rechecked: 0,
    });
    report
}
