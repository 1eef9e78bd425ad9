//! Criterion benchmarks of the hot inner functions: the rules loop, CSV and JSON rendering,
//! timestamp and Link-header parsing.
//!
//! cargo bench --bench hot

use std::hint::black_box;

use access_audit::Templates;
use access_audit::evidence::next_cursor;
use access_audit::model::{Account, FailOn, ScopeResult, SourceKind};
use access_audit::parse_timestamp;
use access_audit::{Artifact, Report, ReportInput, render_bytes};
use access_audit::{RuleSettings, evaluate};
use chrono::{TimeDelta, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn accounts(n: usize) -> Vec<Account> {
    let as_of = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    (0..n)
        .map(|i| {
            let seen = (i % 5 != 0).then(|| as_of - TimeDelta::days((i % 200) as i64));
            Account {
                source: SourceKind::Sentry,
                source_name: "sentry".into(),
                scope: format!("org-{}", i / 1000).into(),
                account_id: i.to_string().into(),
                user_id: Some((i * 7).to_string().into()),
                email: Some(format!("user{i}@acme.example").into()),
                name: Some(format!("User {i}").into()),
                role: Some(if i % 20 == 0 { "owner" } else { "member" }.into()),
                privileged: i % 20 == 0,
                status: if i % 30 == 0 { "invited" } else { "active" }.into(),
                mfa: Some(i % 3 != 0),
                last_login_at: seen,
                last_active_at: None,
                last_seen_at: seen,
                invited_at: Some(as_of - TimeDelta::days(20)),
                created_at: Some(as_of - TimeDelta::days(400)),
                flags: Vec::new(),
            }
        })
        .collect()
}

fn benches(c: &mut Criterion) {
    let as_of = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let settings = RuleSettings::default();
    let accts = accounts(100_000);

    let mut g = c.benchmark_group("rules");
    g.throughput(Throughput::Elements(accts.len() as u64));
    g.bench_function("evaluate 100k accounts", |b| {
        b.iter(|| evaluate(black_box(&accts), as_of, &settings))
    });
    g.finish();

    let findings = evaluate(&accts, as_of, &settings);
    let report = Report::build(ReportInput {
        run_id: "0123456789abcdef".into(),
        retries: 0,
        title: "bench".into(),
        as_of,
        generated_at: as_of,
        results: vec![ScopeResult {
            source: SourceKind::Sentry,
            source_name: "sentry".into(),
            scope: "all".into(),
            provenance: Default::default(),
            outcome: Ok(accts),
        }],
        findings,
        rules: settings.active(),
        evaluated: Vec::new(),
        fail_on: FailOn::None,
        stopped: None,
        config_sha256: None,
        evidence_manifest_sha256: None,
        evidence_dir: None,
        replayed: false,
        suppressions: Vec::new(),
        changes: None,
        shard: None,
        framework: None,
    });
    let templates = Templates::load(None).expect("templates");
    let mut g = c.benchmark_group("render 100k accounts");
    g.sample_size(10);
    g.throughput(Throughput::Elements(100_000));
    for artifact in [
        Artifact::AccountsCsv,
        Artifact::FindingsCsv,
        Artifact::Json,
        Artifact::Html,
    ] {
        g.bench_function(artifact.file_name(), |b| {
            b.iter(|| render_bytes(black_box(&report), artifact, &templates))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("parse");
    g.bench_function("timestamp, 7 fractional digits", |b| {
        b.iter(|| parse_timestamp(black_box("2025-09-11T21:50:49.7725221+00:00")))
    });
    let link = "<https://us.sentry.io/api/0/organizations/acme/members/?per_page=100&cursor=100:-1:1>; rel=\"previous\"; results=\"false\"; cursor=\"100:-1:1\", <https://us.sentry.io/api/0/organizations/acme/members/?per_page=100&cursor=100:1:0>; rel=\"next\"; results=\"true\"; cursor=\"100:1:0\"";
    g.bench_function("Link header next cursor", |b| {
        b.iter(|| next_cursor(black_box(link)))
    });
    g.finish();
}

criterion_group!(hot, benches);
criterion_main!(hot);
