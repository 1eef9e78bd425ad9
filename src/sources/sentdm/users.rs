//! User lists in, accounts out: Sent.dm's user objects read leniently and normalised into the
//! shared account model.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::envelope::{Envelope, Pagination};
use crate::http::Answer;
use crate::model::{Account, AccountStatus, ScopeError, SourceKind};
use crate::sources::lenient::{opt_object, opt_string};
use crate::sources::pages::ScopeText;
use crate::timestamp::{older_than_days, parse_timestamp};

#[derive(Debug, Deserialize)]
pub(super) struct UsersData {
    pub(super) users: Option<Vec<SentUser>>,
    #[serde(default, deserialize_with = "opt_object")]
    pub(super) pagination: Option<Pagination>,
}

#[derive(Debug, Deserialize)]
pub(super) struct SentUser {
    #[serde(default, deserialize_with = "opt_string")]
    id: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    email: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    role: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    status: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    invited_at: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    last_login_at: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    created_at: Option<String>,
}

/// A user list that does not parse: name the user whose fields are ambiguous (a key sent
/// twice) rather than the page alone, as for Sentry members.
pub(super) fn ambiguous_user(answer: &Answer, err: ScopeError) -> ScopeError {
    #[derive(Deserialize)]
    struct RawUsers<'a> {
        #[serde(borrow)]
        users: Vec<&'a serde_json::value::RawValue>,
    }
    let text = String::from_utf8_lossy(&answer.body);
    let Ok(raw) = serde_json::from_str::<Envelope<RawUsers<'_>>>(&text) else {
        return err;
    };
    let Some(data) = raw.data else { return err };
    for (n, item) in data.users.iter().enumerate() {
        if let Err(e) = serde_json::from_str::<SentUser>(item.get()) {
            let id = serde_json::from_str::<serde_json::Value>(item.get())
                .ok()
                .and_then(|v| v.get("id").map(ToString::to_string))
                .unwrap_or_else(|| "unknown".into());
            return ScopeError {
                message: format!(
                    "user {} (id {id}): {e}; the answer is ambiguous, so the scope is not audited rather than \
                     guess which value holds",
                    n + 1
                ),
                ..err
            };
        }
    }
    err
}

fn time(raw: Option<&str>) -> Option<DateTime<Utc>> {
    raw.and_then(parse_timestamp)
}

/// The account, and whether its id is the user id the API gave.
/// `invite_ttl_days`: after how long an invitation has expired, which the API does not say.
pub(super) fn normalise(
    text: &mut ScopeText,
    invite_ttl_days: u32,
    u: SentUser,
    as_of: DateTime<Utc>,
) -> (Account, bool) {
    let role = text.role(u.role.as_deref());
    let privileged = role
        .as_deref()
        .is_some_and(|r| matches!(r, "owner" | "admin"));
    let invited_at = time(u.invited_at.as_deref());
    let api_status = u
        .status
        .filter(|s| !s.trim().is_empty())
        .map_or(AccountStatus::Other("unknown".into()), |s| {
            AccountStatus::parse(&s)
        });
    // Sent.dm invitations expire after invite_ttl_days, but the API keeps saying `invited`.
    let status = match invited_at {
        Some(t)
            if api_status == AccountStatus::Invited
                && older_than_days(t, as_of, invite_ttl_days) =>
        {
            AccountStatus::Expired
        }
        _ => api_status,
    };
    let last_login_at = time(u.last_login_at.as_deref());
    let identified = u.id.as_deref().is_some_and(|id| !id.is_empty());
    let account_id = match &u.id {
        Some(id) if identified => id.clone(),
        _ => u
            .email
            .as_ref()
            .map(|e| format!("email:{e}"))
            .unwrap_or_else(|| "unknown".to_string()),
    };
    let account = Account {
        source: SourceKind::Sentdm,
        source_name: text.source_name.clone(),
        scope: text.scope.clone(),
        account_id: account_id.into(),
        user_id: u.id.map(Into::into),
        email: u.email.map(Into::into),
        name: u.name.map(Into::into),
        role,
        privileged,
        status,
        mfa: None,
        last_login_at,
        last_active_at: None,
        last_seen_at: last_login_at,
        invited_at,
        created_at: time(u.created_at.as_deref()),
        flags: Vec::new(),
    };
    (account, identified)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::sentdm::envelope::open;
    use crate::sources::sentdm::envelope::tests::answer;
    use chrono::TimeZone;

    #[test]
    fn invited_past_ttl_is_expired_and_roles_are_open() {
        let as_of = Utc.with_ymd_and_hms(2026, 3, 20, 0, 0, 0).unwrap();
        let body = r#"{"success":true,"data":{"users":[
            {"id":"u1","email":"a@x","name":"A","role":"Admin","status":"active","invited_at":"2025-09-11T21:50:49.7725221+00:00","last_login_at":"2026-03-11T19:50:49.7725233+00:00","created_at":"2025-09-11T21:50:49.7725237+00:00"},
            {"id":"u2","email":"b@x","role":"developer","status":"invited","invited_at":"2026-03-09T21:50:49.7725246+00:00","last_login_at":null},
            {"id":"u3","email":"c@x","role":"developer","status":"invited","invited_at":"2026-03-14T00:00:00+00:00"},
            {"id":"u4","email":"d@x","role":"Auditor","status":"SUSPENDED"}
        ]},"error":null,"meta":{"request_id":"r"}}"#;
        let data: UsersData = open(&answer(200, body), "user list").unwrap();
        let accounts: Vec<Account> = data
            .users
            .unwrap()
            .into_iter()
            .map(|u| normalise(&mut ScopeText::new("sentdm", "organization"), 7, u, as_of).0)
            .collect();
        assert_eq!(
            (
                accounts[0].role.as_deref(),
                accounts[0].privileged,
                accounts[0].mfa
            ),
            (Some("admin"), true, None)
        );
        assert_eq!(accounts[0].last_seen_at, accounts[0].last_login_at);
        assert_eq!(accounts[1].status.as_str(), "expired");
        assert_eq!(accounts[2].status.as_str(), "invited");
        assert_eq!(
            (
                accounts[3].status.as_str(),
                accounts[3].role.as_deref(),
                accounts[3].privileged
            ),
            ("suspended", Some("auditor"), false)
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::sources::lenient::strategies::any_json;
    use crate::sources::sentdm::envelope::open;
    use bytes::Bytes;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    const FIELDS: [&str; 8] = [
        "id",
        "email",
        "name",
        "role",
        "status",
        "invited_at",
        "last_login_at",
        "created_at",
    ];

    proptest! {
        #[test]
        fn any_user_fields_are_kept(values in prop::collection::vec(any_json(), FIELDS.len())) {
            let user: serde_json::Map<String, Value> = FIELDS.iter().map(|k| (*k).to_string()).zip(values).collect();
            let body = json!({"success": true, "data": {"users": [user]}}).to_string();
            let answer = Answer { status: 200, body: Bytes::from(body), link: None, request_id: None, fetched_at: Utc::now(), retries: 0 };
            let data: UsersData = open(&answer, "user list").unwrap();
            let accounts: Vec<Account> = data.users.unwrap().into_iter().map(|u| normalise(&mut ScopeText::new("s", "organization"), 7, u, Utc::now()).0).collect();
            prop_assert_eq!(accounts.len(), 1);
        }
    }
}
