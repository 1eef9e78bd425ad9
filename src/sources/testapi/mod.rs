//! A third API that exists only in tests, to prove the recipe of ARCHITECTURE.md: this folder and
//! one line in `registry.rs` are all it takes. Teams of people: `GET {base}/teams/{team}/people`
//! answers `[{"id", "email", "role"}]` in one page; the key goes in `x-test-key`.
//!
//! ```toml
//! [[sources]]
//! type = "testapi"
//! key_env = "TESTAPI_KEY"    # or key_file
//! teams = ["red", "blue"]
//! ```

use std::sync::Arc;

use futures::future::BoxFuture;
use reqwest::header::HeaderName;
use serde::{Deserialize, Serialize};
use url::Url;

use super::config::{SourceTable, keys_of};
use super::spec::{manifest_entries, settings_from_manifest};
use super::{
    Endpoint, PageRequest, Probe, ScopeAccounts, SecretKeys, Source, SourceContext, SourceSettings,
    body_excerpt, local_error,
};
use crate::cfg::ConfigError;
use crate::http::{Answer, from_json_lossy};
use crate::model::{Account, AccountStatus, ScopeError, ScopeResult, SourceKind};

const KIND: SourceKind = SourceKind::new("testapi");
const PEOPLE: Endpoint = Endpoint::new("testapi.people");

/// The test API.
pub(crate) struct TestApi;

impl Source for TestApi {
    fn kind(&self) -> SourceKind {
        KIND
    }

    fn default_base_url(&self) -> &'static str {
        "https://testapi.invalid"
    }

    fn secret_keys(&self) -> SecretKeys {
        SecretKeys {
            env: "key_env",
            file: "key_file",
            what: "test API key",
        }
    }

    fn config_keys(&self) -> &'static [&'static str] {
        keys_of::<RawTestApi>()
    }

    fn configure(&self, table: &SourceTable<'_>) -> Result<Arc<dyn SourceSettings>, ConfigError> {
        let raw: RawTestApi = table.read()?;
        match raw.teams {
            Some(teams) if !teams.is_empty() => Ok(Arc::new(Settings { teams })),
            _ => Err(table.error(Some("teams"), "name at least one team".into())),
        }
    }

    fn read_manifest(
        &self,
        entries: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Arc<dyn SourceSettings>, String> {
        Ok(Arc::new(settings_from_manifest::<Settings>(entries)?))
    }

    fn auth_header(&self, secret: &str) -> (HeaderName, String) {
        (HeaderName::from_static("x-test-key"), secret.to_string())
    }

    fn discovery_scope(&self) -> &'static str {
        "_teams"
    }

    fn owner_role(&self) -> Option<&'static str> {
        // Teams have members and admins, no owners.
        None
    }
}

/// The keys as written.
#[derive(Debug, Deserialize)]
struct RawTestApi {
    teams: Option<Vec<String>>,
}

/// What one test-API source audits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Settings {
    pub teams: Vec<String>,
}

impl SourceSettings for Settings {
    fn source(&self) -> &'static dyn Source {
        &TestApi
    }

    fn fetch<'a>(&'a self, ctx: &'a SourceContext<'a>) -> BoxFuture<'a, Vec<ScopeResult>> {
        Box::pin(async move {
            let teams = ctx.select(self.teams.clone());
            ctx.fetch_scopes(&teams, |team| async move {
                ctx.spec.scope_result(team, fetch_team(ctx, team).await)
            })
            .await
        })
    }

    fn probe(&self, base_url: &str) -> Result<Probe, String> {
        let team = self.teams.first().ok_or("no team to ask for")?;
        let url = people_url(base_url, team).map_err(|e| e.message)?;
        Ok(Probe {
            endpoint: PEOPLE,
            url,
        })
    }

    fn describe(&self) -> Vec<String> {
        vec![format!("teams: {}", self.teams.join(", "))]
    }

    fn manifest(&self) -> Result<Vec<(String, serde_json::Value)>, String> {
        manifest_entries(self)
    }
}

fn people_url(base: &str, team: &str) -> Result<Url, ScopeError> {
    let mut url =
        Url::parse(&format!("{base}/")).map_err(|e| local_error(format!("bad base URL: {e}")))?;
    url.path_segments_mut()
        .map_err(|_| local_error("bad base URL".into()))?
        .pop_if_empty()
        .extend(["teams", team, "people"]);
    Ok(url)
}

#[derive(Debug, Deserialize)]
struct Person {
    id: Option<String>,
    email: Option<String>,
    role: Option<String>,
}

async fn fetch_team(ctx: &SourceContext<'_>, team: &str) -> Result<Vec<Account>, ScopeError> {
    let req = PageRequest {
        scope: team,
        endpoint: PEOPLE,
        url: people_url(&ctx.spec.base_url, team)?,
        headers: Vec::new(),
    };
    let answer = ctx.fetcher.get(&ctx.spec.name, &req).await?;
    let error = |message: String, a: &Answer| ScopeError {
        http_status: Some(a.status),
        code: None,
        message,
        request_id: a.request_id.clone(),
    };
    if !answer.is_success() {
        return Err(error(body_excerpt(&answer.body), &answer));
    }
    let people: Vec<Person> = from_json_lossy(&answer.body)
        .map_err(|e| error(format!("not a people list: {e}"), &answer))?;
    let mut accounts = ScopeAccounts::new(&ctx.spec.name, team);
    let page = people
        .into_iter()
        .map(|p| {
            let identified = p.id.is_some();
            (account(&ctx.spec.name, team, p), identified)
        })
        .collect();
    accounts.add_page(1, page, "people list")?;
    Ok(accounts.finish())
}

fn account(source_name: &str, team: &str, p: Person) -> Account {
    let privileged = p.role.as_deref() == Some("admin");
    Account {
        source: KIND,
        source_name: source_name.into(),
        scope: team.into(),
        account_id: p.id.as_deref().unwrap_or("unknown").into(),
        user_id: p.id.map(Into::into),
        email: p.email.map(Into::into),
        name: None,
        role: p.role.map(Into::into),
        privileged,
        status: AccountStatus::Active,
        mfa: None,
        last_login_at: None,
        last_active_at: None,
        last_seen_at: None,
        invited_at: None,
        created_at: None,
        flags: Vec::new(),
    }
}

/// The test API through the real pipeline: the config file, the secret, the live fetch with
/// evidence recorded, `check-config`'s probe, and a replay of the archive.
#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use crate::config::Config;
    use crate::model::{ScopeResult, SourceKind};
    use crate::progress::Progress;
    use crate::sources::evidence::EvidenceRecorder;
    use crate::sources::replay::ReplayArchive;
    use crate::sources::spec::SourceConfig;
    use crate::sources::{Fetcher, PageSource, SourceContext, fetch_source, live_source, probe};
    use crate::stop::StopSignal;

    async fn server() -> MockServer {
        let server = MockServer::start().await;
        let people = serde_json::json!([
            {"id": "p1", "email": "ann@acme.example", "role": "admin"},
            {"id": "p2", "email": "bob@acme.example", "role": "member"}
        ]);
        Mock::given(method("GET"))
            .and(path("/teams/red/people"))
            .and(header("x-test-key", "s3cret"))
            .respond_with(ResponseTemplate::new(200).set_body_json(people))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/teams/blue/people"))
            .respond_with(ResponseTemplate::new(403).set_body_string("not your team"))
            .mount(&server)
            .await;
        server
    }

    fn config(base: &str, key_file: &std::path::Path) -> Config {
        let text = format!(
            "[[sources]]\ntype = \"testapi\"\nname = \"teams\"\nbase_url = \"{base}\"\nkey_file = '{}'\n\
             teams = [\"red\", \"blue\"]\nconcurrency = 2\n",
            key_file.display()
        );
        match Config::parse(&text, None) {
            Ok(c) => c,
            Err(e) => panic!("the test API's config is refused: {e}"),
        }
    }

    async fn fetch(source: &SourceConfig, page_source: PageSource) -> Vec<ScopeResult> {
        fetch_source(SourceContext {
            spec: &source.spec,
            concurrency: source.fetch.concurrency,
            fetcher: Fetcher {
                provenance: Default::default(),
                source: page_source,
                stop: StopSignal::new(),
                retries: Default::default(),
            },
            as_of: chrono::Utc::now(),
            shard: None,
            progress: Progress::hidden(),
            scope_details: false,
        })
        .await
    }

    /// A scope, and its account ids or the HTTP status that failed it.
    type Outcome = (String, Result<Vec<String>, Option<u16>>);

    fn outcome(results: &[ScopeResult]) -> Vec<Outcome> {
        results
            .iter()
            .map(|r| {
                assert_eq!(r.source, SourceKind::new("testapi"));
                let accounts = r.outcome.as_ref().map_err(|e| e.http_status);
                let ids = accounts.map(|a| a.iter().map(|a| a.account_id.to_string()).collect());
                (r.scope.clone(), ids)
            })
            .collect()
    }

    #[tokio::test]
    async fn a_third_source_runs_through_the_real_pipeline() {
        let server = server().await;
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("key");
        std::fs::write(&key_file, "s3cret\n").unwrap();
        let config = config(&server.uri(), &key_file);
        let source = &config.sources[0];
        assert_eq!(source.spec.kind().as_str(), "testapi");
        assert_eq!(source.secret_key, "key_file");
        assert_eq!(source.fetch.concurrency, 2);
        assert_eq!(source.spec.settings.describe(), vec!["teams: red, blue"]);

        let secrets = config.resolve_source_secrets().unwrap();
        let secret = &secrets["teams"];
        let evidence = dir.path().join("evidence");
        let recorder = Arc::new(EvidenceRecorder::create(&evidence).unwrap());
        let live = live_source(source, secret, Some(Arc::clone(&recorder))).unwrap();
        let results = fetch(source, live).await;
        let expected = vec![
            (
                "red".to_string(),
                Ok(vec!["p1".to_string(), "p2".to_string()]),
            ),
            ("blue".to_string(), Err(Some(403))),
        ];
        assert_eq!(outcome(&results), expected);
        let ann = &results[0].outcome.as_ref().unwrap()[0];
        assert!(ann.privileged, "an admin of the team is privileged");

        // The manifest records the source as its table had it; a replay needs nothing else.
        recorder.finish(vec![source.spec.clone()]).unwrap();
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(evidence.join("manifest.json")).unwrap())
                .unwrap();
        assert_eq!(
            manifest["sources"][0],
            serde_json::json!({"type": "testapi", "name": "teams", "base_url": server.uri(), "teams": ["red", "blue"]})
        );
        let archive = Arc::new(ReplayArchive::load(&evidence).unwrap());
        let replayed = SourceConfig::replayed(0, archive.manifest.sources[0].clone());
        let again = fetch(&replayed, PageSource::Replay(archive)).await;
        assert_eq!(outcome(&again), expected);

        // check-config --connect: the source's own probe.
        let verdict = probe::connect(source, secret).await;
        assert_eq!(verdict, "ok (GET /teams/red/people answered 200)");
    }

    #[test]
    fn its_config_errors_are_located_like_every_other_source() {
        let bad = |text: &str| match Config::parse(text, None) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => (e.key.unwrap_or_default(), e.line, e.message),
        };
        let (key, line, message) =
            bad("[[sources]]\ntype = \"testapi\"\nkey_env = \"K\"\nteams = []\n");
        assert_eq!((key.as_str(), line), ("sources[0].teams", Some(4)));
        assert_eq!(message, "name at least one team");
        let (key, line, message) =
            bad("[[sources]]\ntype = \"testapi\"\nkey_env = \"K\"\nteamz = 1\n");
        assert_eq!((key.as_str(), line), ("sources[0].teamz", Some(4)));
        assert!(
            message.starts_with("unknown field `teamz`, expected one of `type`, `name`, `base_url`, `key_env`, `key_file`, `teams`"),
            "{message}"
        );
        let (key, _, message) = bad(
            "[[sources]]\ntype = \"sentry\"\ntoken_env = \"T\"\norganizations = \"all\"\nteams = [\"x\"]\n",
        );
        assert_eq!(key, "sources[0].teams");
        assert_eq!(
            message,
            "`teams` belongs to type = \"testapi\" sources; this source is type = \"sentry\""
        );
    }
}
