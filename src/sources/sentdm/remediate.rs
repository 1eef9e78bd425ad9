//! Changing access in Sent.dm (`remediate`): `DELETE /v3/users/{id}` removes a user, `PATCH
//! /v3/users/{id}` with `role` changes the role (with an `Idempotency-Key`), `GET
//! /v3/users/{id}` reads one — each with `x-profile-id` for a child profile's user. Every
//! change carries `"sandbox"`: with `true` the server validates it and changes nothing, which
//! is what a rehearsal sends. A key is never a user, and the organization's owner is not
//! listed: no change can touch the key's own account.

use chrono::{DateTime, Utc};
use reqwest::Method;
use reqwest::header::{HeaderName, HeaderValue};
use url::Url;

use super::ORGANIZATION_SCOPE;
use super::Settings;
use super::envelope::open;
use super::users::{SentUser, normalise};
use crate::http::{MutationAnswer, MutationRequest};
use crate::sources::SecretKeys;
use crate::sources::pages::ScopeText;
use crate::sources::remediate::{
    Action, Current, Identity, Outcome, Read, Remediator, as_answer, url_with_segments,
};
use crate::sources::spec::SourceSpec;

pub(super) struct SentdmRemediator;

const ROLES: &[&str] = &["admin", "billing", "developer"];

fn user_url(base: &Url, user_id: &str) -> Result<Url, String> {
    url_with_segments(base, &["v3", "users", user_id])
}

/// `x-profile-id` for a profile's user; none for the organization's own.
fn profile_header(scope: &str) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
    if scope == ORGANIZATION_SCOPE {
        return Ok(Vec::new());
    }
    let value = HeaderValue::from_str(scope)
        .map_err(|_| format!("profile `{scope}` cannot be sent as an x-profile-id header"))?;
    Ok(vec![(HeaderName::from_static("x-profile-id"), value)])
}

impl Remediator for SentdmRemediator {
    fn secret_keys(&self) -> SecretKeys {
        SecretKeys {
            env: "remediate_api_key_env",
            file: "remediate_api_key_file",
            what: "Sent.dm API key of an admin, used only by `remediate`",
        }
    }

    fn assignable_roles(&self) -> &'static [&'static str] {
        ROLES
    }

    fn has_sandbox(&self) -> bool {
        true
    }

    fn identity_request(&self, _base: &Url) -> Option<MutationRequest> {
        None
    }

    fn identity(&self, _answer: &MutationAnswer) -> Result<Identity, String> {
        Ok(Identity::default())
    }

    fn read_request(
        &self,
        base: &Url,
        scope: &str,
        account_id: &str,
    ) -> Result<MutationRequest, String> {
        Ok(MutationRequest {
            endpoint: "sentdm.user",
            method: Method::GET,
            url: user_url(base, account_id)?,
            headers: profile_header(scope)?,
            body: None,
        })
    }

    fn read(
        &self,
        spec: &SourceSpec,
        scope: &str,
        answer: &MutationAnswer,
        as_of: DateTime<Utc>,
    ) -> Read {
        let ttl = spec
            .settings_of::<Settings>()
            .map_or(super::DEFAULT_INVITE_TTL_DAYS, |s| s.invite_ttl_days);
        match open::<SentUser>(&as_answer(answer), "user") {
            Ok(user) => {
                let (account, _) =
                    normalise(&mut ScopeText::new(&spec.name, scope), ttl, user, as_of);
                Read::Found(Box::new(Current {
                    account,
                    only_owner: false,
                }))
            }
            Err(e) if not_found(&e) => Read::Gone,
            Err(e) => Read::Failed(e.to_string()),
        }
    }

    fn change_request(
        &self,
        base: &Url,
        scope: &str,
        account_id: &str,
        action: &Action,
        sandbox: bool,
        idempotency_key: &str,
    ) -> Result<MutationRequest, String> {
        let url = user_url(base, account_id)?;
        let mut headers = profile_header(scope)?;
        let key = HeaderValue::from_str(idempotency_key)
            .map_err(|_| "the idempotency key cannot be sent as a header".to_string())?;
        headers.push((HeaderName::from_static("idempotency-key"), key));
        Ok(match action {
            Action::Remove => MutationRequest {
                endpoint: "sentdm.user.delete",
                method: Method::DELETE,
                url,
                headers,
                body: Some(serde_json::json!({ "sandbox": sandbox })),
            },
            Action::ChangeRole(role) => MutationRequest {
                endpoint: "sentdm.user.update",
                method: Method::PATCH,
                url,
                headers,
                body: Some(serde_json::json!({ "role": role, "sandbox": sandbox })),
            },
        })
    }

    fn outcome(&self, answer: &MutationAnswer, action: &Action) -> Outcome {
        let ok = (200..300).contains(&answer.status);
        match (
            open::<serde_json::Value>(&as_answer(answer), "answer"),
            action,
        ) {
            (Ok(data), Action::ChangeRole(role)) => {
                let got = data.get("role").and_then(serde_json::Value::as_str);
                match got.map(|r| r.trim().to_lowercase()) {
                    Some(got) if got == *role => Outcome::Applied,
                    got => Outcome::Uncertain(format!(
                        "HTTP {} but the user's role in the answer is {}, not {role}",
                        answer.status,
                        got.as_deref().unwrap_or("missing")
                    )),
                }
            }
            (Ok(_), Action::Remove) => Outcome::Applied,
            // A success envelope without data (DELETE answers none) is still a success.
            (Err(_), Action::Remove) if ok && success_without_data(answer) => Outcome::Applied,
            // A 2xx that is no envelope (a proxy's page) says nothing about the change.
            (Err(e), _) if ok => Outcome::Uncertain(e.to_string()),
            (Err(e), _) if not_found(&e) => Outcome::Gone,
            (Err(e), _) if matches!(answer.status, 408 | 500..=599) => {
                Outcome::Uncertain(e.to_string())
            }
            (Err(e), _) => Outcome::Refused(e.to_string()),
        }
    }
}

/// `{"success": true, "data": null, …}`: what a DELETE answers.
fn success_without_data(answer: &MutationAnswer) -> bool {
    crate::http::from_json_lossy::<serde_json::Value>(&answer.body)
        .ok()
        .is_some_and(|v| v.get("success") == Some(&serde_json::Value::Bool(true)))
}

/// The user is not there: 404 `RESOURCE_006`. A 404 without it (an unknown profile, a proxy,
/// a wrong base_url) is an error, not an absent user.
fn not_found(e: &crate::model::ScopeError) -> bool {
    e.http_status == Some(404) && e.code.as_deref() == Some("RESOURCE_006")
}
