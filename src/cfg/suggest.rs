//! "Did you mean …?": the expected name closest to a misspelt key or value.

/// For serde's "unknown field `x`, expected one of `a`, `b`" (and "unknown variant …", which the
/// sources' own key and type checks repeat word for word), the expected name closest to `x`, if
/// it is close enough to be a likely misspelling.
pub(crate) fn did_you_mean(message: &str) -> Option<String> {
    if message.contains("did you mean") {
        return None;
    }
    let rest = ["unknown field `", "unknown variant `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))?;
    let (got, rest) = rest.split_once('`')?;
    let (_, expected) = rest.split_once("expected")?;
    let candidates = expected.split('`').skip(1).step_by(2);
    closest(got, candidates).map(str::to_string)
}

/// The candidate most like `got`: Jaro–Winkler similarity at least 0.8, or at most two edits
/// away for a word of four letters or more.
pub(crate) fn closest<'a>(
    got: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .filter(|c| *c != got)
        .map(|c| (c, strsim::jaro_winkler(got, c), strsim::levenshtein(got, c)))
        .filter(|(_, similarity, edits)| {
            *similarity >= 0.8 || (*edits <= 2 && got.chars().count() >= 4)
        })
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.2.cmp(&a.2)))
        .map(|(c, _, _)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_a_close_field_or_variant_and_nothing_for_a_stranger() {
        assert_eq!(
            did_you_mean("unknown field `titel`, expected one of `title`, `output_dir`, `formats`")
                .as_deref(),
            Some("title")
        );
        assert_eq!(
            did_you_mean("unknown variant `sentyr`, expected `sentry` or `sentdm`").as_deref(),
            Some("sentry")
        );
        assert_eq!(
            did_you_mean("unknown field `bogus`, expected one of `suppressions`, `report`"),
            None
        );
        assert_eq!(did_you_mean("the title is empty"), None);
    }
}
