//! `findings.ocsf.jsonl`: every finding as an OCSF Compliance Finding, one per line.

use super::Report;

pub(super) fn write(_report: &Report, _out: &mut dyn std::io::Write) -> Result<(), String> {
    Err("the ocsf format is not written yet".into())
}
