//! `access-audit check-config` and `access-audit rules`.

use std::fmt::Write as _;

use crate::cli::{CheckConfigArgs, RulesArgs, RulesFormat};
use crate::config::Config;
use crate::exit::ExitStatus;
use crate::rules::{ROSTER_RULES, RULES, RuleSettings};
use crate::sources;
use crate::sources::spec::SourceConfig;
use crate::{ConfigPath, Error};

pub async fn check_config(
    args: &CheckConfigArgs,
    config_path: &ConfigPath,
) -> Result<ExitStatus, Error> {
    let config = Config::load(config_path.path())?;
    let secrets = config.resolve_secrets(config.email.enabled)?;
    crate::templates::Templates::load(config.report.template_dir.as_deref())
        .map_err(Error::Fatal)?;
    let smtp = match &secrets.smtp_url {
        Some(url) => Some(crate::deliver::smtp::SmtpTarget::from_config(&config, url)?),
        None => None,
    };
    let mut out = String::new();
    let file = config_path.path().display();
    let _ = writeln!(out, "{file}: valid.\n");
    let r = &config.report;
    let formats: Vec<&str> = r
        .formats
        .iter()
        .map(|f| match f {
            crate::report::Format::Html => "html",
            crate::report::Format::Csv => "csv",
            crate::report::Format::Json => "json",
        })
        .collect();
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
    describe_rules(&mut out, &config.rules);
    let e = &config.email;
    if e.enabled {
        let server = smtp.as_ref().map_or_else(String::new, |t| {
            let security = match t.security {
                crate::deliver::smtp::Security::ImplicitTls => "implicit TLS",
                crate::deliver::smtp::Security::StartTls => "STARTTLS required",
                crate::deliver::smtp::Security::Plain => "plain, loopback relay",
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
                crate::config::SendPolicy::Always => "after every run",
                crate::config::SendPolicy::Problems =>
                    "only when there are failing findings or the run is incomplete",
                crate::config::SendPolicy::Changes =>
                    "only when findings are new or resolved since the baseline",
            }
        );
    } else {
        let _ = writeln!(out, "\nEmail    disabled");
    }
    print!("{out}");

    if !args.connect {
        return Ok(ExitStatus::Clean);
    }
    println!("\nConnecting (one request per source)");
    let mut all_ok = true;
    for s in &config.sources {
        let Some(secret) = secrets.sources.get(&s.spec.name) else {
            continue;
        };
        let verdict = sources::probe::connect(s, secret).await;
        all_ok &= verdict.starts_with("ok");
        println!("  {:<16} {verdict}", s.spec.name);
    }
    Ok(if all_ok {
        ExitStatus::Clean
    } else {
        ExitStatus::Fatal
    })
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
    for line in spec.settings.describe() {
        let _ = writeln!(out, "         {line}");
    }
    let f = &s.fetch;
    let pace = f.requests_per_minute.map_or_else(
        || "server headers only".to_string(),
        |r| format!("{r}/min, burst {}", f.burst),
    );
    let _ = writeln!(
        out,
        "         {} scopes at a time, pacing {pace}, timeout {}s, {} attempts per request",
        f.concurrency,
        f.request_timeout.as_secs(),
        f.max_attempts
    );
}

fn describe_rules(out: &mut String, settings: &RuleSettings) {
    let active = settings.active();
    for info in RULES {
        let state = match active.iter().find(|a| a.id == info.id) {
            Some(a) => a.severity.to_string(),
            None => "disabled".to_string(),
        };
        let params = match info.id {
            "stale_login" => format!(
                "max_inactive_days = {}, grace_days = {}",
                settings.stale_login.max_inactive_days.0, settings.stale_login.grace_days.0
            ),
            "pending_invite" => format!(
                "max_pending_days = {}",
                settings.pending_invite.max_pending_days.0
            ),
            _ => String::new(),
        };
        let _ = writeln!(out, "  {:<20} {:<9} {params}", info.id, state);
    }
}

pub fn list_rules(args: &RulesArgs) -> Result<ExitStatus, Error> {
    let defaults = RuleSettings::default();
    let on_by_default: Vec<&str> = defaults.active().iter().map(|r| r.id).collect();
    let listed = RULES
        .iter()
        .filter(|r| args.framework.is_none_or(|f| f.covers(r)));
    match args.format {
        RulesFormat::Json => {
            let rules: Vec<serde_json::Value> = listed
                .map(|r| {
                    serde_json::json!({
                        "id": r.id, "default_severity": r.default_severity,
                        "enabled_by_default": on_by_default.contains(&r.id) || ROSTER_RULES.contains(&r.id),
                        "requires_roster": ROSTER_RULES.contains(&r.id),
                        "checks": r.checks, "references": r.references,
                    })
                })
                .collect();
            let text =
                serde_json::to_string_pretty(&rules).map_err(|e| Error::Fatal(e.to_string()))?;
            println!("{text}");
        }
        RulesFormat::Text => {
            for r in listed {
                let opt_in = if on_by_default.contains(&r.id) {
                    ""
                } else if ROSTER_RULES.contains(&r.id) {
                    "  (runs when a [roster] is configured)"
                } else {
                    "  (opt-in: enabled = true)"
                };
                println!("{:<22} {}{opt_in}", r.id, r.default_severity);
                println!("    {}", r.checks);
                println!("    references: {}\n", r.references.join(", "));
            }
        }
    }
    Ok(ExitStatus::Clean)
}
