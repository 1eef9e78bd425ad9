//! Rules on who is listed: `inactive_still_listed` (Sent.dm) and `external_domain` (both).

use serde::Deserialize;

use super::{Context, Hit, InvalidSetting, Population, Rule, RuleInfo};
use crate::model::{Account, AccountStatus, RuleId, Severity};

pub(crate) const INACTIVE_STILL_LISTED: RuleInfo = RuleInfo {
    id: RuleId::new("inactive_still_listed"),
    default_severity: Severity::Low,
    population: Population::Accounts("accounts", |_| true),
    checks: "Suspended or rejected accounts still listed with the source: remove them so they cannot be \
             re-activated by mistake.",
    references: &[
        "SOC 2 CC6.2",
        "ISO/IEC 27001:2022 A.5.18",
        "PCI DSS v4.0 8.2.4",
    ],
};

pub(crate) const EXTERNAL_DOMAIN: RuleInfo = RuleInfo {
    id: RuleId::new("external_domain"),
    default_severity: Severity::Medium,
    population: Population::Accounts("accounts with an email address", |a| {
        a.email.as_deref().is_some_and(|e| e.contains('@'))
    }),
    checks: "Accounts whose email domain (or a subdomain of it) is not in allowed_domains.",
    references: &["SOC 2 CC6.1", "ISO/IEC 27001:2022 A.5.15"],
};

/// Opt-in: off by default (only the contract's four rules are on out of the box).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InactiveStillListed {
    pub enabled: bool,
    pub severity: Option<Severity>,
}

impl Rule for InactiveStillListed {
    fn info(&self) -> &'static RuleInfo {
        &INACTIVE_STILL_LISTED
    }
    fn enabled(&self) -> bool {
        self.enabled
    }
    fn severity(&self) -> Option<Severity> {
        self.severity
    }
    fn check(&self, account: &Account, _context: &Context) -> Option<Hit> {
        matches!(
            account.status,
            AccountStatus::Suspended | AccountStatus::Rejected
        )
        .then(|| Hit::fail(format!("{} account still listed", account.status)))
    }
}

/// Opt-in: off by default, and needs `allowed_domains`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExternalDomain {
    pub enabled: bool,
    pub severity: Option<Severity>,
    /// Domains whose addresses are ours; subdomains included (`acme.example` allows `eu.acme.example`).
    pub allowed_domains: Vec<String>,
}

impl Rule for ExternalDomain {
    fn info(&self) -> &'static RuleInfo {
        &EXTERNAL_DOMAIN
    }
    fn enabled(&self) -> bool {
        self.enabled
    }
    fn severity(&self) -> Option<Severity> {
        self.severity
    }
    /// Enabled without domains, every address would be external.
    fn validate(&self) -> Result<(), InvalidSetting> {
        if self.enabled && self.allowed_domains.is_empty() {
            return Err(InvalidSetting {
                key: "allowed_domains",
                message: "external_domain is enabled but allowed_domains is empty: list your domains, such as [\"acme.example\"]".into(),
            });
        }
        Ok(())
    }
    fn settings(&self) -> Vec<(&'static str, serde_json::Value)> {
        vec![("allowed_domains", self.allowed_domains.clone().into())]
    }
    fn criteria(&self) -> String {
        format!(
            "Accounts whose email domain (or a subdomain of it) is not one of {} (allowed_domains).",
            self.allowed_domains.join(", ")
        )
    }
    fn check(&self, account: &Account, _context: &Context) -> Option<Hit> {
        let email = account.email.as_deref()?;
        let domain = email.rsplit_once('@')?.1.trim().to_ascii_lowercase();
        let allowed = self.allowed_domains.iter().any(|d| {
            let d = d.trim().trim_start_matches('@').to_ascii_lowercase();
            domain == d || domain.ends_with(&format!(".{d}"))
        });
        (!allowed).then(|| Hit::fail(format!("email domain {domain} is not an allowed domain")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::{account, context};

    #[test]
    fn suspended_and_rejected_are_listed() {
        let mut a = account();
        assert!(
            InactiveStillListed::default()
                .check(&a, &context())
                .is_none()
        );
        a.status = "Suspended".into();
        assert_eq!(
            InactiveStillListed::default()
                .check(&a, &context())
                .unwrap()
                .detail,
            "suspended account still listed"
        );
    }

    #[test]
    fn enabled_without_domains_is_invalid() {
        let mut rule = ExternalDomain::default();
        assert_eq!(rule.validate(), Ok(()), "off, nothing to check");
        rule.enabled = true;
        let err = rule.validate().map_err(|e| (e.key, e.message));
        assert!(
            err.as_ref()
                .is_err_and(|(key, message)| *key == "allowed_domains"
                    && message
                        .starts_with("external_domain is enabled but allowed_domains is empty")),
            "{err:?}"
        );
        rule.allowed_domains = vec!["acme.example".into()];
        assert_eq!(rule.validate(), Ok(()));
    }

    #[test]
    fn external_domains_and_subdomains() {
        let rule = ExternalDomain {
            enabled: true,
            allowed_domains: vec!["example.com".into()],
            ..ExternalDomain::default()
        };
        let mut a = account();
        a.email = Some("A@Example.com".into());
        assert!(rule.check(&a, &context()).is_none());
        a.email = Some("a@eu.example.com".into());
        assert!(rule.check(&a, &context()).is_none());
        a.email = Some("a@notexample.com".into());
        assert!(
            rule.check(&a, &context())
                .unwrap()
                .detail
                .contains("notexample.com")
        );
        a.email = None;
        assert!(rule.check(&a, &context()).is_none());
    }
}
