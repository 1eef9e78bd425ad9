//! `report.xlsx`: one workbook for reviewers and auditors.

use super::Report;

pub(super) fn write(_report: &Report, _out: &mut dyn std::io::Write) -> Result<(), String> {
    Err("the xlsx format is not written yet".into())
}
