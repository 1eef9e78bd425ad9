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
}

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
            404 => Read::Gone,
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

    fn outcome(&self, answer: &MutationAnswer) -> Outcome {
        let error = || refusal(answer);
        match answer.status {
            200..=299 => Outcome::Applied,
            404 => Outcome::Gone,
            500..=599 => Outcome::Uncertain(error()),
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
