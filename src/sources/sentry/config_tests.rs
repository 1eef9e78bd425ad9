//! A Sentry source's own keys (`organizations`, `projects`) read through `Config::parse`.

use crate::cfg::SecretRef;
use crate::config::test_support::*;
use crate::sources::spec::Selection;

#[test]
fn sentry_organizations_and_projects_are_deduplicated() {
    let config = ok(r#"[[sources]]
type = "sentry"
token_file = "/run/secrets/sentry"
organizations = ["acme", "acme-labs", "acme"]
projects = [123456, "42", "42"]
"#);
    let spec = sentry_of(&config.sources[0].spec);
    assert_eq!(
        spec.organizations,
        Selection::List(vec!["acme".into(), "acme-labs".into()])
    );
    assert_eq!(spec.projects, vec!["123456".to_string(), "42".to_string()]);
    assert_eq!(
        config.sources[0].secret,
        Some(SecretRef::File("/run/secrets/sentry".into()))
    );
    assert_eq!(config.sources[0].secret_key, "token_file");
}

/// Refused Sentry keys, each named by the test it was written as.
const REFUSED: &[Refused] = &[
    (
        "empty_organizations_list",
        "[[sources]]\ntype = \"sentry\"\ntoken_env = \"T\"\norganizations = []\n",
        "sources[0].organizations",
        4,
        "the list is empty: name at least one organization slug, or use \"all\"",
    ),
    (
        "organizations_word_other_than_all",
        "[[sources]]\ntype = \"sentry\"\ntoken_env = \"T\"\norganizations = \"some\"\n",
        "sources[0].organizations",
        4,
        "`some` is not allowed here: expected \"all\" or a list of organization slugs",
    ),
    (
        "organizations_of_the_wrong_type",
        "[[sources]]\ntype = \"sentry\"\ntoken_env = \"T\"\norganizations = 5\n",
        "sources[0].organizations",
        4,
        "expected \"all\" or a list of organization slugs",
    ),
    (
        "missing_organizations",
        "[[sources]]\ntype = \"sentry\"\ntoken_env = \"T\"\n",
        "sources[0]",
        1,
        "missing `organizations`: expected a list of organization slugs, or \"all\"",
    ),
    (
        "malformed_slug: a space and capitals",
        "[[sources]]\ntype = \"sentry\"\ntoken_env = \"T\"\norganizations = [\"acme\", \"Acme Labs\"]\n",
        "sources[0].organizations[1]",
        4,
        "`Acme Labs` is not a Sentry organization slug: expected lower-case letters, digits and `-`",
    ),
    (
        "malformed_slug: leading underscore",
        "[[sources]]\ntype = \"sentry\"\ntoken_env = \"T\"\norganizations = [\"_acme\"]\n",
        "sources[0].organizations[0]",
        4,
        "`_acme` is not a Sentry organization slug",
    ),
    (
        "bad_project_ids: not numeric",
        concat!(sentry_source!(), "projects = [123, \"12a\"]\n"),
        "sources[0].projects[1]",
        5,
        "`12a` is not a Sentry project id: expected the numeric id",
    ),
    (
        "bad_project_ids: empty list",
        concat!(sentry_source!(), "projects = []\n"),
        "sources[0].projects",
        5,
        "the list is empty: remove the key to audit every member",
    ),
];

#[test]
fn refused_sentry_keys_name_file_key_and_line() {
    check_refused(REFUSED);
}
