//! Member pages in, accounts out: Sentry's member objects read leniently, one page at a time,
//! and normalised into the shared account model.

use std::borrow::Cow;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::errors::malformed;
use crate::http::{Answer, from_json_lossy, text_lossy};
use crate::model::{Account, AccountStatus, ScopeError, SourceKind, later_of};
use crate::sources::ScopeAccounts;
use crate::sources::lenient::{opt_bool, opt_object, opt_text, true_keys};
use crate::sources::pages::ScopeText;
use crate::timestamp::parse_timestamp;

/// Marks the accounts of an organization that has an SSO auth provider (not a Sentry flag: ours).
pub const ORG_AUTH_PROVIDER: &str = "org:auth-provider";

/// A member as `/members/` and `/users/` return it. Every field is optional and lenient; text
/// is borrowed from the page where it can be, and copied only into the account.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Member<'a> {
    #[serde(default, borrow, deserialize_with = "opt_text")]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_text")]
    email: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_text")]
    name: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_object")]
    user: Option<User<'a>>,
    #[serde(default, borrow, deserialize_with = "opt_text")]
    org_role: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_text")]
    role: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "opt_bool")]
    pending: Option<bool>,
    #[serde(default, deserialize_with = "opt_bool")]
    expired: Option<bool>,
    #[serde(default, borrow, deserialize_with = "opt_text")]
    date_created: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "true_keys")]
    flags: Vec<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct User<'a> {
    #[serde(default, borrow, deserialize_with = "opt_text")]
    id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_text")]
    email: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_text")]
    name: Option<Cow<'a, str>>,
    #[serde(default, rename = "has2fa", deserialize_with = "opt_bool")]
    has2fa: Option<bool>,
    #[serde(default, borrow, deserialize_with = "opt_text")]
    last_login: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "opt_text")]
    last_active: Option<Cow<'a, str>>,
}

/// Raw pages in, accounts out, one page at a time.
pub(super) struct MemberPages<'a> {
    source_name: &'a str,
    org: &'a str,
    text: ScopeText,
    accounts: ScopeAccounts<'a>,
    bad_times: usize,
}

impl<'a> MemberPages<'a> {
    pub(super) fn new(source_name: &'a str, org: &'a str) -> Self {
        MemberPages {
            source_name,
            org,
            text: ScopeText::new(source_name, org),
            accounts: ScopeAccounts::new(source_name, org),
            bad_times: 0,
        }
    }

    pub(super) fn add(&mut self, index: usize, page: &Answer) -> Result<(), ScopeError> {
        let text = text_lossy(&page.body);
        let members: Vec<Member> =
            serde_json::from_str(&text).map_err(|e| malformed_members(page, index, &e))?;
        let accounts = members
            .into_iter()
            .map(|m| normalise(&mut self.text, m, &mut self.bad_times))
            .collect();
        self.accounts.add_page(index + 1, accounts, "member list")
    }

    pub(super) fn finish(self) -> Vec<Account> {
        if self.bad_times > 0 {
            tracing::warn!(
                source = self.source_name,
                scope = self.org,
                count = self.bad_times,
                "timestamps that could not be read were treated as unknown"
            );
        }
        self.accounts.finish()
    }
}

/// A member page that does not parse. Every field is read leniently, so what fails inside a
/// member is ambiguity — the same key twice, with two values — and guessing which value holds
/// could hide an owner or a missing 2FA: the scope fails, naming the member and the key.
fn malformed_members(page: &Answer, index: usize, e: &serde_json::Error) -> ScopeError {
    let text = String::from_utf8_lossy(&page.body);
    let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(&text) else {
        return malformed(page, index, "member list", e);
    };
    for (n, item) in items.iter().enumerate() {
        if let Err(member_error) = serde_json::from_str::<Member>(item.get()) {
            let id = serde_json::from_str::<serde_json::Value>(item.get())
                .ok()
                .and_then(|v| v.get("id").map(ToString::to_string))
                .unwrap_or_else(|| "unknown".into());
            let mut err = malformed(page, index, "member list", e);
            err.message = format!(
                "page {}, member {} (id {id}): {member_error}; the answer is ambiguous, so the scope is not \
                 audited rather than guess which value holds",
                index + 1,
                n + 1
            );
            return err;
        }
    }
    malformed(page, index, "member list", e)
}

/// One member as `GET …/members/{id}/` returns it: the account, and whether the API says it is
/// the organization's only owner.
pub(super) fn one_member(
    source_name: &str,
    org: &str,
    answer: &Answer,
) -> Result<(Account, bool), ScopeError> {
    let text = text_lossy(&answer.body);
    let member: Member =
        serde_json::from_str(&text).map_err(|e| malformed(answer, 0, "member", &e))?;
    let only_owner = from_json_lossy::<serde_json::Value>(&answer.body)
        .ok()
        .and_then(|v| v.get("isOnlyOwner").and_then(serde_json::Value::as_bool))
        .unwrap_or(false);
    let mut bad_times = 0;
    let mut text = ScopeText::new(source_name, org);
    let (account, _) = normalise(&mut text, member, &mut bad_times);
    Ok((account, only_owner))
}

#[cfg(test)]
fn parse_pages(source_name: &str, org: &str, pages: &[Answer]) -> Result<Vec<Account>, ScopeError> {
    let mut parser = MemberPages::new(source_name, org);
    for (i, page) in pages.iter().enumerate() {
        parser.add(i, page)?;
    }
    Ok(parser.finish())
}

fn time(raw: Option<&str>, bad: &mut usize) -> Option<DateTime<Utc>> {
    let raw = raw?;
    let t = parse_timestamp(raw);
    if t.is_none() && !raw.trim().is_empty() {
        *bad += 1;
    }
    t
}

/// The account, and whether its id is the member id the API gave.
fn normalise(text: &mut ScopeText, m: Member, bad_times: &mut usize) -> (Account, bool) {
    let user = m.user;
    let pending = m.pending.unwrap_or(user.is_none());
    let status = match (pending, m.expired.unwrap_or(false)) {
        (false, _) => AccountStatus::Active,
        (true, false) => AccountStatus::Invited,
        (true, true) => AccountStatus::Expired,
    };
    let role = text.role(m.org_role.or(m.role).as_deref());
    let privileged = role
        .as_deref()
        .is_some_and(|r| matches!(r, "owner" | "manager" | "admin"));
    let created_at = time(m.date_created.as_deref(), bad_times);
    let (user_id, mfa, last_login_at, last_active_at, user_email, user_name) = match user {
        Some(u) => (
            u.id,
            u.has2fa,
            time(u.last_login.as_deref(), bad_times),
            time(u.last_active.as_deref(), bad_times),
            u.email,
            u.name,
        ),
        None => (None, None, None, None, None, None),
    };
    let email = m.email.filter(|e| !e.is_empty()).or(user_email);
    let identified = m.id.as_deref().is_some_and(|id| !id.is_empty());
    let account_id: Arc<str> = match m.id {
        Some(id) if identified => id.into(),
        _ => user_id
            .as_ref()
            .map(|u| format!("user:{u}"))
            .or_else(|| email.as_ref().map(|e| format!("email:{e}")))
            .unwrap_or_else(|| "unknown".to_string())
            .into(),
    };
    let account = Account {
        source: SourceKind::Sentry,
        source_name: text.source_name.clone(),
        scope: text.scope.clone(),
        account_id,
        user_id: user_id.map(Into::into),
        email: email.map(Into::into),
        name: m
            .name
            .filter(|n| !n.is_empty())
            .or(user_name)
            .map(Into::into),
        role,
        privileged,
        status,
        mfa,
        last_login_at,
        last_active_at,
        last_seen_at: later_of(last_login_at, last_active_at),
        invited_at: if pending { created_at } else { None },
        created_at,
        flags: m.flags.iter().map(|f| text.shared(f)).collect(),
    };
    (account, identified)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use bytes::Bytes;

    pub(crate) fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            body: Bytes::from(body.to_string()),
            link: None,
            request_id: None,
            fetched_at: Utc::now(),
            retries: 0,
        }
    }

    #[test]
    fn normalises_members_invites_and_old_servers() {
        let body = r#"[
          {"id":"1","email":"a@x.io","name":"A","user":{"id":"10","has2fa":false,"lastLogin":"2026-01-01T00:00:00Z","lastActive":"2026-02-01T00:00:00.5Z"},
           "orgRole":"Owner","role":"member","pending":false,"expired":false,"flags":{"sso:linked":true,"new:flag":true},"dateCreated":"2020-01-01T00:00:00Z"},
          {"id":"2","email":"b@x.io","name":"b@x.io","user":null,"orgRole":"member","pending":true,"expired":false,"dateCreated":"2026-10-01T00:00:00Z"},
          {"id":"3","email":"c@x.io","user":null,"role":"admin","pending":true,"expired":true,"dateCreated":"2026-01-01T00:00:00Z"},
          {"id":"4","email":"d@x.io","user":{"id":"40","emails":[{"email":"d@x.io"}],"has2fa":"maybe","lastLogin":"not a date"},"role":"manager","pending":false},
          {"id":"1","email":"dup@x.io","user":{"id":"10"}}
        ]"#;
        let accounts = parse_pages("sentry", "acme", &[answer(200, body)]).unwrap();
        assert_eq!(accounts.len(), 4, "duplicate member id 1 is dropped");
        let a = &accounts[0];
        assert_eq!(
            (a.role.as_deref(), a.privileged, a.status.as_str(), a.mfa),
            (Some("owner"), true, "active", Some(false))
        );
        assert_eq!(a.last_seen_at, a.last_active_at);
        assert_eq!(a.invited_at, None);
        assert_eq!(a.user_id.as_deref(), Some("10"));
        let b = &accounts[1];
        assert_eq!(
            (b.status.as_str(), b.mfa, b.user_id.as_deref()),
            ("invited", None, None)
        );
        assert!(b.invited_at.is_some());
        assert_eq!(accounts[2].status.as_str(), "expired");
        assert_eq!(accounts[2].role.as_deref(), Some("admin"));
        let d = &accounts[3];
        assert_eq!((d.mfa, d.last_login_at, d.privileged), (None, None, true));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use bytes::Bytes;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use crate::sources::lenient::strategies::any_json;
    use crate::sources::sentry::error_from_answer;

    const FIELDS: [&str; 12] = [
        "id",
        "email",
        "name",
        "user",
        "orgRole",
        "role",
        "pending",
        "expired",
        "flags",
        "dateCreated",
        "has2fa",
        "lastLogin",
    ];

    proptest! {
        /// A member object whose fields hold anything at all is kept, never a panic, never a
        /// page-level failure.
        #[test]
        fn any_member_fields_are_kept(values in prop::collection::vec(any_json(), FIELDS.len()), user in prop::collection::vec(any_json(), 6)) {
            let mut member = serde_json::Map::new();
            for (k, v) in FIELDS.iter().zip(values) {
                member.insert((*k).to_string(), v);
            }
            let user_obj: serde_json::Map<String, Value> =
                ["id", "has2fa", "lastLogin", "lastActive", "email", "name"].iter().map(|k| (*k).to_string()).zip(user).collect();
            member.insert("user".into(), Value::Object(user_obj));
            member.insert("id".into(), json!("1"));
            let body = Value::Array(vec![Value::Object(member)]).to_string();
            let page = Answer { status: 200, body: Bytes::from(body), link: None, request_id: None, fetched_at: Utc::now(), retries: 0 };
            let accounts = parse_pages("sentry", "acme", &[page]).unwrap();
            prop_assert_eq!(accounts.len(), 1);
        }

        /// Any body at all: an error or accounts, never a panic.
        #[test]
        fn any_body_is_handled(body in any_json()) {
            let page = Answer { status: 200, body: Bytes::from(body.to_string()), link: None, request_id: None, fetched_at: Utc::now(), retries: 0 };
            let _ = parse_pages("sentry", "acme", std::slice::from_ref(&page));
            let _ = error_from_answer(&page);
        }
    }

    #[test]
    fn invalid_utf8_and_control_characters_in_names_are_kept() {
        let mut body = br#"[{"id":"1","email":"a@x","name":"Bad "#.to_vec();
        body.extend_from_slice(&[0xff, 0xfe]);
        body.extend_from_slice(br#" \u0007\u001b[31m","user":{"id":"9","has2fa":true}}]"#);
        let page = Answer {
            status: 200,
            body: Bytes::from(body),
            link: None,
            request_id: None,
            fetched_at: Utc::now(),
            retries: 0,
        };
        let accounts = parse_pages("sentry", "acme", &[page]).unwrap();
        assert_eq!(accounts.len(), 1);
        assert!(
            accounts[0]
                .name
                .as_deref()
                .unwrap()
                .starts_with("Bad \u{fffd}\u{fffd}")
        );
    }
}
