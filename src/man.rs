//! `access-audit man`: one man page that covers every command. clap_mangen writes a page per
//! command and points at `access-audit-run(1)` and friends, pages nobody installs; here every
//! command gets its own subsection (synopsis, what it does, its options) on the one page.

use std::io::Write;

use clap::CommandFactory;
use clap_mangen::Man;

use crate::cli::Cli;

/// The page, in roff.
pub(crate) fn render() -> std::io::Result<Vec<u8>> {
    let mut cmd = Cli::command();
    cmd.build();
    let man = Man::new(cmd.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    writeln!(out, ".SH COMMANDS")?;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        command_section(&mut out, sub)?;
    }
    man.render_extra_section(&mut out)?;
    man.render_version_section(&mut out)?;
    Ok(out)
}

/// `.SS access-audit <name>`: its synopsis, what it does, and its own options (the global ones
/// are listed once, above).
fn command_section(out: &mut Vec<u8>, sub: &clap::Command) -> std::io::Result<()> {
    let full_name = format!("access-audit {}", sub.get_name());
    let mut own = sub.clone().bin_name(full_name.clone());
    own = own.mut_args(|arg| {
        if arg.is_global_set() {
            arg.hide(true)
        } else {
            arg
        }
    });
    let man = Man::new(own);
    writeln!(out, ".SS \"{}\"", roff_text(&full_name))?;
    let mut synopsis = Vec::new();
    man.render_synopsis_section(&mut synopsis)?;
    write_body(out, &synopsis)?;
    if let Some(about) = sub.get_long_about().or(sub.get_about()) {
        writeln!(out, ".PP\n{}", roff_text(&about.to_string()))?;
    }
    let mut options = Vec::new();
    man.render_options_section(&mut options)?;
    write_body(out, &options)
}

/// A rendered section without its preamble and `.SH` heading, as a paragraph of the current subsection.
fn write_body(out: &mut Vec<u8>, section: &[u8]) -> std::io::Result<()> {
    let text = String::from_utf8_lossy(section);
    // Each section starts with clap_mangen's quote-string preamble, then its `.SH` line.
    let body = text
        .split_once(".SH ")
        .and_then(|(_, heading)| heading.split_once('\n'))
        .map_or("", |(_, rest)| rest);
    if body.trim().is_empty() {
        return Ok(());
    }
    writeln!(out, ".PP")?;
    out.write_all(body.as_bytes())
}

/// Text safe in a roff line: `-` as `\-`, backslashes doubled, no line starting with a dot.
fn roff_text(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('-', "\\-");
    escaped
        .lines()
        .map(|l| {
            if l.starts_with('.') || l.starts_with('\'') {
                format!("\\&{l}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_covers_every_command_and_option_and_names_no_missing_page() {
        let page = String::from_utf8(render().unwrap()).unwrap();
        assert!(
            !page.contains("(1)"),
            "no references to other pages:\n{page}"
        );
        let cmd = Cli::command();
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let heading = format!(
                ".SS \"access\\-audit {}\"",
                sub.get_name().replace('-', "\\-")
            );
            assert!(page.contains(&heading), "{heading}");
            for arg in sub.get_arguments().filter(|a| !a.is_hide_set()) {
                if let Some(long) = arg.get_long() {
                    let flag = format!("\\-\\-{}", long.replace('-', "\\-"));
                    assert!(page.contains(&flag), "{} --{long}", sub.get_name());
                }
            }
        }
        assert_eq!(
            page.matches(".SH SYNOPSIS").count(),
            1,
            "one synopsis section"
        );
        assert_eq!(
            page.matches(".SH OPTIONS").count(),
            1,
            "one options section"
        );
        assert!(page.contains(".SH VERSION"));
        assert!(page.contains("Exit codes"));
    }
}
