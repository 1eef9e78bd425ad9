//! Logs go to stderr: text on a terminal, JSON lines otherwise (`--log-format auto`).
//! `RUST_LOG` takes precedence over `-v`/`-q`.
//!
//! Whatever the level and whoever logs (our code or a dependency), two things hold for every
//! line: known secrets are masked ([`crate::redact`]) on the way out, and in text logs control
//! characters inside values are escaped, so an API's error text cannot forge a log line with a
//! newline or reach the terminal with an ANSI escape. JSON logs are escaped by JSON itself.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::MakeExt;

/// How log lines are written on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
    Auto,
}

pub fn init(verbose: u8, quiet: u8, format: Option<LogFormat>) {
    let level = match (verbose, quiet) {
        (0, 0) => "info",
        (0, 1) => "warn",
        (0, _) => "error",
        (1, _) => "debug",
        _ => "trace",
    };
    // Our own crate at the chosen level; dependencies one notch quieter unless asked.
    let default = format!("access_audit={level},warn");
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let json = match format.unwrap_or(LogFormat::Auto) {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| LogWriter);
    let escaped_fields = tracing_subscriber::fmt::format::debug_fn(|w, field, value| {
        let raw = format!("{value:?}");
        let text = crate::text::escape_controls(&raw);
        if field.name() == "message" {
            write!(w, "{text}")
        } else {
            write!(w, "{field}={text}")
        }
    })
    .delimited(" ");
    let result = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init()
    } else {
        builder
            .fmt_fields(escaped_fields)
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .try_init()
    };
    // A second init (tests) is harmless.
    drop(result);
}

/// Writes log lines to stderr, lifting the progress bar out of the way while it does.
struct LogWriter;

impl std::io::Write for LogWriter {
    /// One call carries one whole formatted event, so a secret is never split across calls.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let line = crate::redact::redact(&text);
        let out = || std::io::stderr().write_all(line.as_bytes());
        // Logs are best-effort: a closed or full stderr (`2>&1 | head`, a dead log shipper)
        // must not stop a run that is writing reports and sending email. The error is dropped
        // here rather than returned, because the subscriber would report it on stderr again.
        let _ = match crate::progress::ACTIVE.get() {
            Some(bar) if !bar.is_finished() => bar.suspend(out),
            _ => out(),
        };
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}
