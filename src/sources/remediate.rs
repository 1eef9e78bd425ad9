//! How a source changes access, for `remediate` (CONTRACT section 10): the requests that read
//! one account, identify the write credential's own user, and remove an account or change its
//! role — and what the API's answers to them mean. The plan, the safety checks and the records
//! are `remediation/`'s; a source only knows its API.

use chrono::{DateTime, Utc};
use url::Url;

use super::SecretKeys;
use super::spec::SourceSpec;
use crate::http::{Answer, MutationAnswer, MutationRequest};
use crate::model::Account;

/// What a change does to one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Remove the member (or cancel the pending invitation).
    Remove,
    /// Give the account this role.
    ChangeRole(String),
}

/// One account as the API shows it now.
#[derive(Debug, Clone)]
pub(crate) struct Current {
    pub account: Account,
    /// The API says this account is the scope's only owner (Sentry's `isOnlyOwner`).
    pub only_owner: bool,
}

/// What reading one account found.
#[derive(Debug, Clone)]
pub(crate) enum Read {
    Found(Box<Current>),
    /// The API says there is no such account (any more).
    Gone,
    /// No usable answer: the message names the status, code and request id.
    Failed(String),
}

/// Who a write credential acts as, when the API says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Identity {
    pub user_id: Option<String>,
    pub email: Option<String>,
}

/// What the answer to a change means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Done (or, in a sandbox, validated and accepted).
    Applied,
    /// The account is not there: nothing to remove, nothing to change.
    Gone,
    /// The server refused, and said why (last owner, permissions, an invalid role).
    Refused(String),
    /// A server error: the change may or may not have been applied.
    Uncertain(String),
}

/// The part of a source that changes access.
pub(crate) trait Remediator: Sync {
    /// The config keys that name the write credential (`remediate_token_env`, …).
    fn secret_keys(&self) -> SecretKeys;

    /// The roles a change may assign.
    fn assignable_roles(&self) -> &'static [&'static str];

    /// The API can rehearse a change without effect (Sent.dm's `"sandbox": true`).
    fn has_sandbox(&self) -> bool;

    /// The request that says who the write credential acts as; `None` when the API's
    /// credentials are never a user who could hold an account under review.
    fn identity_request(&self, base: &Url) -> Option<MutationRequest>;

    /// The identity in an answer to [`Remediator::identity_request`].
    fn identity(&self, answer: &MutationAnswer) -> Result<Identity, String>;

    /// The request that reads one account now.
    fn read_request(
        &self,
        base: &Url,
        scope: &str,
        account_id: &str,
    ) -> Result<MutationRequest, String>;

    /// What a read found, normalised as a run would have (`as_of`: for ages such as an
    /// invitation's).
    fn read(
        &self,
        spec: &SourceSpec,
        scope: &str,
        answer: &MutationAnswer,
        as_of: DateTime<Utc>,
    ) -> Read;

    /// The request that makes the change (`sandbox`: as a rehearsal; `idempotency_key`: sent
    /// where the API takes one, the same for every attempt of one change).
    fn change_request(
        &self,
        base: &Url,
        scope: &str,
        account_id: &str,
        action: &Action,
        sandbox: bool,
        idempotency_key: &str,
    ) -> Result<MutationRequest, String>;

    /// What the answer to `action` means.
    fn outcome(&self, answer: &MutationAnswer, action: &Action) -> Outcome;
}

/// A mutation's answer as the sources' error readers take a page's.
pub(crate) fn as_answer(a: &MutationAnswer) -> Answer {
    Answer {
        status: a.status,
        body: a.body.clone(),
        link: None,
        request_id: a.request_id.clone(),
        fetched_at: a.at,
        retries: 0,
    }
}

/// `base` joined with `path` segments, each percent-encoded: an id from a report cannot add a
/// path segment or a query of its own.
pub(crate) fn url_with_segments(base: &Url, segments: &[&str]) -> Result<Url, String> {
    // `.` and `..` would be dropped or climb (a DELETE could land on the list's URL); an empty
    // segment anywhere but the end (a trailing slash) would do the same.
    let last = segments.len().saturating_sub(1);
    if let Some(bad) = segments
        .iter()
        .enumerate()
        .find(|(i, s)| matches!(**s, "." | "..") || (s.is_empty() && *i != last))
    {
        return Err(format!("`{}` cannot be part of an API path", bad.1));
    }
    let mut url = base.clone();
    {
        let mut path = url
            .path_segments_mut()
            .map_err(|()| format!("{base} cannot be a base URL"))?;
        path.pop_if_empty();
        for s in segments {
            path.push(s);
        }
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::url_with_segments;

    #[test]
    fn ids_are_one_path_segment_each() {
        let base = url::Url::parse("https://sentry.example.com/sentry").unwrap();
        let url = url_with_segments(&base, &["api", "0", "a/b?c#d", ""]).unwrap();
        assert_eq!(
            url.as_str(),
            "https://sentry.example.com/sentry/api/0/a%2Fb%3Fc%23d/"
        );
        for bad in ["..", ".", ""] {
            assert!(
                url_with_segments(&base, &["api", bad, "x"]).is_err(),
                "{bad:?}"
            );
        }
    }
}
