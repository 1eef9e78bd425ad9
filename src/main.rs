//! The binary: parse arguments, run the library, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

use access_audit::{Cli, ExitStatus, execute, init_logging};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                ExitStatus::Usage.code()
            } else {
                0
            });
        }
    };
    init_logging(cli.verbose, cli.quiet, cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            print_error(&format!("cannot start the async runtime: {e}"));
            return ExitCode::from(ExitStatus::Fatal.code());
        }
    };
    match runtime.block_on(execute(cli)) {
        Ok(status) => ExitCode::from(status.code()),
        Err(access_audit::Error::Configs(errors)) => {
            // Every config problem on its own line, each an `error:`.
            for e in errors.in_file_order() {
                print_error(&with_causes(e));
            }
            ExitCode::from(ExitStatus::Fatal.code())
        }
        Err(e) => {
            print_error(&with_causes(&e));
            ExitCode::from(ExitStatus::Fatal.code())
        }
    }
}

/// `error: …` on stderr. A closed stderr (`2>&1 | head`) must not turn a fatal error into a
/// panic: the exit code still says what happened.
fn print_error(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "error: {text}");
}

/// The error and each cause under it, once each: "error: A: B: C".
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}
