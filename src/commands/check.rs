//! `access-audit check-config` and `access-audit rules`.

use crate::cli::{CheckConfigArgs, RulesArgs, RulesFormat};
use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::Utc;
use secrecy::SecretString;

use crate::cfg::{ConfigError, ConfigErrors};
use crate::config::{Checked, Config};
use crate::deliver::smtp::SmtpTarget;
use crate::exit::ExitStatus;
use crate::people::Roster;
use crate::review::Review;
use crate::rules::{Needs, RuleSettings};
use crate::settings::Targets;
use crate::sources;
use crate::sources::spec::SourceConfig;
use crate::templates::Templates;
use crate::{ConfigPath, Error};

pub(crate) async fn check_config(
    args: &CheckConfigArgs,
    config_path: &ConfigPath,
) -> Result<ExitStatus, Error> {
    let Checked { config, mut errors } = Config::check(config_path.path());
    let checked = config.map(|config| {
        let inputs = check_inputs(&config);
        (config, inputs)
    });
    let (config, secrets, smtp) = match checked {
        Some((config, inputs)) => {
            errors.extend(inputs.errors);
            (config, inputs.secrets, inputs.smtp)
        }
        None => return Err(ConfigErrors(errors).into()),
    };
    if !errors.is_empty() {
        return Err(ConfigErrors(
            errors
                .into_iter()
                .map(ConfigError::with_suggestion)
                .collect(),
        )
        .into());
    }
    let mut out = String::new();
    let _ = writeln!(out, "{}: valid.\n", config_path.path().display());
    describe_report(&mut out, &config.report);
    if let Some(review) = &config.review {
        describe_review(&mut out, review);
    }
    if config.sources.is_empty() {
        let _ = writeln!(
            out,
            "Sources  none configured: `run` needs at least one [[sources]] entry"
        );
    }
    for s in &config.sources {
        describe_source(&mut out, s);
    }
    let _ = writeln!(out, "\nRules");
    describe_rules(
        &mut out,
        &config.rules,
        Needs::provided(config.roster.is_some()),
    );
    describe_email(&mut out, &config.email, smtp.as_ref());
    print(&out)?;

    if !args.connect {
        return Ok(ExitStatus::Clean);
    }
    print("\nConnecting (one request per source)\n")?;
    let mut all_ok = true;
    for s in &config.sources {
        let Some(secret) = secrets.get(&s.spec.name) else {
            continue;
        };
        let verdict = sources::probe::connect(s, secret).await;
        all_ok &= verdict.starts_with("ok");
        print(&format!("  {:<16} {verdict}\n", s.spec.name))?;
    }
    Ok(if all_ok {
        ExitStatus::Clean
    } else {
        ExitStatus::Fatal
    })
}

/// What `run` reads and prepares before its first request, beyond the config itself.
struct Inputs {
    secrets: BTreeMap<String, SecretString>,
    smtp: Option<SmtpTarget>,
    errors: Vec<ConfigError>,
}

/// Everything `run` checks before its first request, through the functions `run` uses, every
/// error kept: the sources' secrets, the suppressions file, the roster, the templates, the SMTP
/// URL when email is enabled, and the store, notify and metrics targets (secrets read, URLs
/// checked). Nothing is sent and the output directory is neither created nor locked.
fn check_inputs(config: &Config) -> Inputs {
    let mut errors = Vec::new();
    let as_of = Utc::now();
    let mut secrets = BTreeMap::new();
    for s in &config.sources {
        match config.resolve_source_secret(s) {
            Ok(Some(secret)) => {
                secrets.insert(s.spec.name.clone(), secret);
            }
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    let mut keep = |r: Result<(), Error>| {
        if let Err(e) = r {
            errors.extend(located(config, e));
        }
    };
    keep(Review::load(config.suppressions.as_deref(), None, as_of).map(drop));
    if let Some(roster) = &config.roster {
        keep(Roster::load(roster).map(drop).map_err(Error::from));
    }
    keep(
        Templates::load(config.report.template_dir.as_deref())
            .map(drop)
            .map_err(|m| config.error_at(&["report", "template_dir"], m).into()),
    );
    let mut smtp = None;
    if config.email.enabled {
        keep(
            config
                .resolve_smtp_url()
                .and_then(|url| crate::settings::smtp_target(config, &url))
                .map(|t| smtp = Some(t))
                .map_err(Error::from),
        );
    }
    keep(Targets::prepare(config, &as_of).map(drop));
    Inputs {
        secrets,
        smtp,
        errors,
    }
}

/// A check's error as config errors: a message without a key is the config file's.
fn located(config: &Config, e: Error) -> Vec<ConfigError> {
    match e {
        Error::Config(e) => vec![e],
        Error::Configs(ConfigErrors(list)) => list,
        Error::Fatal(message) => vec![ConfigError {
            file: config.file.clone(),
            key: None,
            line: None,
            message,
        }],
    }
}

fn describe_report(out: &mut String, r: &crate::config::ReportConfig) {
    let formats: Vec<&str> = r.formats.iter().map(|f| f.as_str()).collect();
    let _ = writeln!(
        out,
        "Report   \"{}\" → {}/ ({})",
        r.title,
        r.output_dir.display(),
        formats.join(", ")
    );
    let _ = writeln!(
        out,
        "         exit 3 on failing findings of severity {} and above",
        r.fail_on
    );
    let dir_state = if r.output_dir.is_dir() {
        match sources::evidence::probe_writable(&r.output_dir) {
            Ok(()) => "exists, writable".to_string(),
            Err(e) => format!("NOT WRITABLE: {e}"),
        }
    } else {
        "will be created".to_string()
    };
    let _ = writeln!(out, "         output directory {dir_state}\n");
}

fn describe_review(out: &mut String, r: &crate::access_review::config::ReviewSettings) {
    for reviewer in &r.reviewers {
        let _ = writeln!(
            out,
            "Review   {} reviews {}",
            reviewer.email,
            reviewer.scopes.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "Review   {} reviews every other scope; decisions due {} days after `review start`, \
         revocations within {} days of sign-off, a review every {} days; ledger {}/\n",
        r.default_reviewer,
        r.due_days,
        r.revoke_within_days,
        r.cadence_days,
        r.ledger_dir.display()
    );
}

fn describe_email(
    out: &mut String,
    e: &crate::deliver::email::EmailConfig,
    smtp: Option<&crate::deliver::smtp::SmtpTarget>,
) {
    use crate::deliver::email::SendPolicy;
    use crate::deliver::smtp::Security;
    if !e.enabled {
        let _ = writeln!(out, "\nEmail    disabled");
        return;
    }
    let server = smtp.map_or_else(String::new, |t| {
        let security = match t.security {
            Security::ImplicitTls => "implicit TLS",
            Security::StartTls => "STARTTLS required",
            Security::Plain => "plain, loopback relay",
        };
        format!("{}:{} ({security})", t.host, t.port)
    });
    let _ = writeln!(
        out,
        "\nEmail    enabled: from {} to {}",
        e.from.as_deref().unwrap_or("?"),
        e.to.join(", ")
    );
    let _ = writeln!(
        out,
        "         via {server}, URL from {} (set); sent {}",
        e.smtp_url
            .as_ref()
            .map_or_else(|| "?".into(), |s| s.describe()),
        match e.send {
            SendPolicy::Always => "after every run",
            SendPolicy::Problems => "only when there are failing findings or the run is incomplete",
            SendPolicy::Changes => "only when findings are new or resolved since the baseline",
        }
    );
}

fn describe_source(out: &mut String, s: &SourceConfig) {
    let spec = &s.spec;
    let secret = s
        .secret
        .as_ref()
        .map_or_else(String::new, |r| format!("{} (set)", r.describe()));
    let _ = writeln!(
        out,
        "Source   {} ({}, {})",
        spec.name,
        spec.kind(),
        spec.base_url
    );
    let _ = writeln!(out, "         credentials from {secret}");
    if let Some(r) = &s.remediate {
        // Only `remediate` reads it; a run never does, so it is named here, not resolved.
        let _ = match &r.secret {
            Some(w) => writeln!(
                out,
                "         write credential for `remediate` from {} (read only by remediate), {} changes/min",
                w.describe(),
                r.requests_per_minute
            ),
            None => writeln!(
                out,
                "         no write credential: `remediate` cannot change it"
            ),
        };
    }
    for line in spec.settings.describe() {
        let _ = writeln!(out, "         {line}");
    }
    let f = &s.fetch;
    let pace = f.requests_per_minute.map_or_else(
        || "server headers only".to_string(),
        |r| format!("{r}/min, burst {}", f.burst),
    );
    let at_once = if f.max_concurrency > f.concurrency {
        format!(
            "{} scopes at a time (up to {} while the server's budget headers allow)",
            f.concurrency, f.max_concurrency
        )
    } else {
        format!("{} scopes at a time", f.concurrency)
    };
    let _ = writeln!(
        out,
        "         {at_once}, pacing {pace}, timeout {}s, {} attempts per request",
        f.request_timeout.as_secs(),
        f.max_attempts
    );
}

/// Each rule: the severity it runs at given what the run will provide, or `disabled`.
fn describe_rules(out: &mut String, settings: &RuleSettings, provided: Needs) {
    let active = settings.active_with(provided);
    for rule in settings.all() {
        let id = rule.info().id;
        let state = match active.iter().find(|a| a.id == id) {
            Some(a) => a.severity.to_string(),
            None => "disabled".to_string(),
        };
        let _ = writeln!(
            out,
            "  {:<20} {:<9} {}",
            id,
            state,
            rule.describe_settings()
        );
    }
}

pub(crate) fn list_rules(args: &RulesArgs) -> Result<ExitStatus, Error> {
    let defaults = RuleSettings::default();
    let listed = defaults
        .all()
        .into_iter()
        .filter(|rule| args.framework.is_none_or(|f| f.covers(rule.info())));
    match args.format {
        RulesFormat::Json => {
            let rules: Vec<serde_json::Value> = listed
                .map(|rule| {
                    let r = rule.info();
                    serde_json::json!({
                        "id": r.id, "default_severity": r.default_severity,
                        "enabled_by_default": rule.enabled(),
                        "requires_roster": rule.needs().contains(Needs::ROSTER),
                        "checks": r.checks, "references": r.references,
                    })
                })
                .collect();
            let text =
                serde_json::to_string_pretty(&rules).map_err(|e| Error::Fatal(e.to_string()))?;
            print(&format!("{text}\n"))?;
        }
        RulesFormat::Text => {
            for rule in listed {
                let r = rule.info();
                let opt_in = if rule.needs().contains(Needs::ROSTER) {
                    "  (runs when a [roster] is configured)"
                } else if rule.enabled() {
                    ""
                } else {
                    "  (opt-in: enabled = true)"
                };
                print(&format!(
                    "{:<22} {}{opt_in}\n    {}\n    references: {}\n\n",
                    r.id,
                    r.default_severity,
                    r.checks,
                    r.references.join(", ")
                ))?;
            }
        }
    }
    Ok(ExitStatus::Clean)
}

/// Standard output, where a closed pipe is a normal end.
fn print(text: &str) -> Result<(), Error> {
    crate::output::to_stdout(text.as_bytes()).map_err(Error::Fatal)
}
