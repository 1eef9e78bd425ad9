//! The page's two bar charts, drawn as inline SVG: failing findings by rule and by scope.

use serde::Serialize;

use super::super::view::ScopeNames;
use super::super::{Report, plural};
use crate::model::Outcome;

/// Bars in the "by scope" chart.
const MAX_SCOPE_BARS: usize = 12;

#[derive(Serialize)]
pub(super) struct Chart {
    title: &'static str,
    width: usize,
    height: usize,
    bars: Vec<Bar>,
    note: String,
}

#[derive(Serialize)]
struct Bar {
    label: String,
    value: usize,
    x: usize,
    y: usize,
    text_y: usize,
    width: usize,
    value_x: usize,
}

/// Labels are shown whole up to this many characters; only a hostile name is longer.
const MAX_LABEL_CHARS: usize = 80;

/// A horizontal bar chart's geometry: a label column as wide as the longest label (labels are
/// not cut: a profile's name is how people find it), bars scaled to the largest value.
fn chart(title: &'static str, values: Vec<(String, usize)>, note: String) -> Chart {
    const ROW: usize = 24;
    const BAR_W: usize = 300;
    // 12 px text averages under 7 px a character.
    const CHAR_W: usize = 7;
    let max = values.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let labels: Vec<String> = values
        .iter()
        .map(|(label, _)| {
            if label.chars().count() > MAX_LABEL_CHARS {
                let cut = label.chars().take(MAX_LABEL_CHARS - 1);
                cut.chain(std::iter::once('…')).collect()
            } else {
                label.clone()
            }
        })
        .collect();
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let label_w = (longest * CHAR_W + 12).max(120);
    let bars: Vec<Bar> = labels
        .into_iter()
        .zip(values)
        .enumerate()
        .map(|(i, (label, (_, value)))| {
            let width = if value == 0 {
                0
            } else {
                (value * BAR_W / max).max(2)
            };
            Bar {
                label,
                value,
                x: label_w,
                y: i * ROW + 4,
                text_y: i * ROW + 18,
                width,
                value_x: label_w + width + 6,
            }
        })
        .collect();
    Chart {
        title,
        width: label_w + BAR_W + 60,
        height: bars.len() * ROW + 8,
        bars,
        note,
    }
}

pub(super) fn charts<'a>(report: &'a Report, names: &ScopeNames<'a>) -> Vec<Chart> {
    let by_rule: Vec<(String, usize)> = report
        .summary
        .by_rule
        .0
        .iter()
        .map(|(r, n)| (r.clone(), *n))
        .collect();
    // One pass over the findings, not one per scope: reports can hold thousands of scopes.
    let mut counts: std::collections::HashMap<(&str, &str), usize> =
        std::collections::HashMap::new();
    for f in report
        .findings
        .iter()
        .filter(|f| f.outcome == Outcome::Fail && !f.suppressed)
    {
        *counts.entry((&*f.source_name, &*f.scope)).or_default() += 1;
    }
    let mut per_scope: Vec<(String, usize)> = report
        .scopes
        .iter()
        .filter_map(|s| {
            let n = counts
                .get(&(s.source_name.as_str(), s.scope.as_str()))
                .copied()
                .unwrap_or(0);
            (n > 0).then(|| (names.place(&s.source_name, &s.scope), n))
        })
        .collect();
    per_scope.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let hidden = per_scope.len().saturating_sub(MAX_SCOPE_BARS);
    per_scope.truncate(MAX_SCOPE_BARS);
    let note = if hidden > 0 {
        format!("and {hidden} more scope{} with findings", plural(hidden))
    } else {
        String::new()
    };
    let mut out = vec![chart("Failing findings by rule", by_rule, String::new())];
    if !per_scope.is_empty() {
        out.push(chart("Failing findings by scope", per_scope, note));
    }
    out
}
