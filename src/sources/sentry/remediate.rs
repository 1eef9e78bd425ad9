//! Changing access in Sentry (`remediate`): `DELETE …/members/{id}/` removes a member or
//! cancels an invitation, `PUT …/members/{id}/` with `orgRole` changes the role, `GET
//! …/members/{id}/` reads one member (with `isOnlyOwner`), and `GET /api/0/` says which user a
//! token acts as. Sentry has no sandbox: a rehearsal reads and checks only.

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::Deserialize;
use url::Url;

use super::errors::{detail, error_from_answer};
use super::members::one_member;
use crate::http::{MutationAnswer, MutationRequest};
use crate::sources::SecretKeys;
use crate::sources::lenient::{opt_object, opt_string};
use crate::sources::remediate::{
    Action, Current, Identity, Outcome, Read, Remediator, as_answer, url_with_segments,
};
use crate::sources::spec::SourceSpec;

pub(super) struct SentryRemediator;

/// Org roles Sentry assigns (`admin` is refused by Business and Enterprise plans; the server
/// says so).
const ROLES: &[&str] = &["member", "admin", "manager", "owner", "billing"];

fn member_url(base: &Url, org: &str, member_id: &str) -> Result<Url, String> {
    url_with_segments(
        base,
        &["api", "0", "organizations", org, "members", member_id, ""],
    )
}

#[derive(Debug, Deserialize)]
struct AuthInfo {
    #[serde(default, deserialize_with = "opt_object")]
    user: Option<AuthUser>,
    #[serde(default, deserialize_with = "opt_object")]
    auth: Option<Auth>,
}

#[derive(Debug, Deserialize)]
struct Auth {
    #[serde(default)]
    scopes: Option<Vec<String>>,
}

/// The scope a change needs (CONTRACT 10).
const WRITE_SCOPE: &str = "member:admin";

#[derive(Debug, Deserialize)]
struct AuthUser {
    #[serde(default, deserialize_with = "opt_string")]
    id: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    email: Option<String>,
}

impl Remediator for SentryRemediator {
    fn secret_keys(&self) -> SecretKeys {
        SecretKeys {
            env: "remediate_token_env",
            file: "remediate_token_file",
            what: "Sentry auth token with member:admin, used only by `remediate`",
        }
    }

    fn assignable_roles(&self) -> &'static [&'static str] {
        ROLES
    }

    fn has_sandbox(&self) -> bool {
        false
    }

    fn identity_request(&self, base: &Url) -> Option<MutationRequest> {
        let url = url_with_segments(base, &["api", "0", ""]).ok()?;
        Some(MutationRequest {
            endpoint: "sentry.auth",
            method: Method::GET,
            url,
            headers: Vec::new(),
            body: None,
        })
    }

    /// `GET /api/0/` names the user of a user token; an integration token has none (it is no
    /// member, so it cannot remove itself).
    fn identity(&self, answer: &MutationAnswer) -> Result<Identity, String> {
        if !(200..300).contains(&answer.status) {
            return Err(error_from_answer(&as_answer(answer)).to_string());
        }
        let info: AuthInfo = crate::http::from_json_lossy(&answer.body)
            .map_err(|e| format!("GET /api/0/ did not answer with the token's details: {e}"))?;
        // Where Sentry lists the token's scopes, a token without member:admin is refused
        // before anything is planned or rehearsed as possible.
        if let Some(scopes) = info.auth.as_ref().and_then(|a| a.scopes.as_ref())
            && !scopes.iter().any(|s| s == WRITE_SCOPE)
        {
            return Err(format!(
                "the write token lacks the {WRITE_SCOPE} scope (it has: {})",
                scopes.join(", ")
            ));
        }
        Ok(info.user.map_or_else(Identity::default, |u| Identity {
            user_id: u.id,
            email: u.email,
        }))
    }

    fn read_request(
        &self,
        base: &Url,
        scope: &str,
        account_id: &str,
    ) -> Result<MutationRequest, String> {
        Ok(MutationRequest {
            endpoint: "sentry.member",
            method: Method::GET,
            url: member_url(base, scope, account_id)?,
            headers: Vec::new(),
            body: None,
        })
    }

    fn read(
        &self,
        spec: &SourceSpec,
        scope: &str,
        answer: &MutationAnswer,
        _as_of: DateTime<Utc>,
    ) -> Read {
        match answer.status {
            200..=299 => match one_member(&spec.name, scope, &as_answer(answer)) {
                Ok((account, only_owner)) => Read::Found(Box::new(Current {
                    account,
                    only_owner,
                })),
                Err(e) => Read::Failed(e.to_string()),
            },
            404 if is_sentry_not_found(answer) => Read::Gone,
            _ => Read::Failed(error_from_answer(&as_answer(answer)).to_string()),
        }
    }

    fn change_request(
        &self,
        base: &Url,
        scope: &str,
        account_id: &str,
        action: &Action,
        _sandbox: bool,
        _idempotency_key: &str,
    ) -> Result<MutationRequest, String> {
        let url = member_url(base, scope, account_id)?;
        Ok(match action {
            Action::Remove => MutationRequest {
                endpoint: "sentry.member.delete",
                method: Method::DELETE,
                url,
                headers: Vec::new(),
                body: None,
            },
            Action::ChangeRole(role) => MutationRequest {
                endpoint: "sentry.member.update",
                method: Method::PUT,
                url,
                headers: Vec::new(),
                body: Some(serde_json::json!({ "orgRole": role })),
            },
        })
    }

    fn outcome(&self, answer: &MutationAnswer, action: &Action) -> Outcome {
        let error = || refusal(answer);
        match (answer.status, action) {
            (200..=299, Action::ChangeRole(role)) => match answered_role(answer) {
                Some(got) if got == *role => Outcome::Applied,
                got => Outcome::Uncertain(format!(
                    "HTTP {} but the member's role in the answer is {}, not {role}",
                    answer.status,
                    got.as_deref().unwrap_or("missing")
                )),
            },
            (200..=299, Action::Remove) => Outcome::Applied,
            (404, _) if is_sentry_not_found(answer) => Outcome::Gone,
            (408 | 500..=599, _) => Outcome::Uncertain(error()),
            _ => Outcome::Refused(error()),
        }
    }
}

/// A refused change in words: Sentry's detail, what the status means for a change, the request
/// id.
fn refusal(answer: &MutationAnswer) -> String {
    let (code, message) = detail(&as_answer(answer));
    let hint = match answer.status {
        401 => " (the write token is invalid, expired, or its user was deactivated)",
        403 => {
            " (Sentry refuses to remove or demote an organization's only owner, or a member whose role is \
             above the token's own; the token also needs member:admin)"
        }
        400 => {
            " (Sentry did not accept the role: `admin` cannot be assigned on Business and Enterprise plans)"
        }
        _ => "",
    };
    let error = crate::model::ScopeError {
        http_status: Some(answer.status),
        code,
        message: format!("{message}{hint}"),
        request_id: answer.request_id.clone(),
    };
    error.to_string()
}

/// A 404 from Sentry's API (a JSON `detail`), not from a proxy or a wrong base_url: only
/// that says the member is not there.
fn is_sentry_not_found(answer: &MutationAnswer) -> bool {
    crate::http::from_json_lossy::<serde_json::Value>(&answer.body)
        .ok()
        .is_some_and(|v| v.get("detail").is_some())
}

/// The org role in a member answer, lower-cased.
fn answered_role(answer: &MutationAnswer) -> Option<String> {
    let v = crate::http::from_json_lossy::<serde_json::Value>(&answer.body).ok()?;
    v.get("orgRole")
        .or_else(|| v.get("role"))
        .and_then(serde_json::Value::as_str)
        .map(|r| r.trim().to_lowercase())
}
