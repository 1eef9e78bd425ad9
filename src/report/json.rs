//! `report.json`: the whole report, for machines.

use std::io::Write;

use super::Report;

pub fn write_to(report: &Report, out: &mut dyn Write) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("cannot write report.json: {e}");
    serde_json::to_writer(&mut *out, report).map_err(|e| err(&e))?;
    out.write_all(b"\n").map_err(|e| err(&e))
}
