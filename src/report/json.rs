//! `report.json`: the whole report, for machines.

use std::path::Path;

use super::{Report, write_atomically};

pub fn write(report: &Report, path: &Path) -> Result<(), String> {
    write_atomically(path, |out| {
        serde_json::to_writer_pretty(&mut *out, report)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        out.write_all(b"\n")
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    })
}
