//! The deployment examples hold what the README promises:
//!
//! * every manifest is valid against the API schema of every supported Kubernetes minor version
//!   (1.30 to 1.34), field for field: nothing misspelt, misplaced or missing;
//! * each Job ends as it should for each exit code of the tool (a week with findings is a
//!   Complete Job; a config error fails at once; an incomplete run or a failed delivery is
//!   retried within the backoff limit; no exit code re-creates pods forever), and the real
//!   binary, run with the manifests' own arguments, mounts and config, behaves that way;
//! * the pods run as the image's non-root user, can read their Secret, write only to their
//!   volumes, have resources, and evaluate as of their own start unless told otherwise;
//! * the Dockerfile builds a non-root, digest-pinned, labelled image, built as the README says.

use crate::support::common;
use crate::support::smtp_server;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use access_audit::model::FailOn;
use access_audit::{Cli, Command};
use clap::Parser as _;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use common::{SENTDM_KEY, SENTRY_TOKEN, sentdm_ok, sentdm_user, sentry_link, sentry_member};

const MANIFESTS: [&str; 4] = [
    "cronjob.yaml",
    "indexed-job.yaml",
    "configmap.yaml",
    "secret.example.yaml",
];

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/kubernetes")
        .join(name)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every document of a manifest, as kubectl reads it.
fn load(name: &str) -> Vec<Value> {
    kyaml::load(&read(&example(name)), name).unwrap_or_else(|e| panic!("{e}"))
}

/// A manifest after the text substitutions its header comment tells you to make.
fn load_with(name: &str, substitutions: &[(&str, &str)]) -> Vec<Value> {
    let mut text = read(&example(name));
    for (from, to) in substitutions {
        text = text.replace(from, to);
    }
    kyaml::load(&text, name).unwrap_or_else(|e| panic!("{e}"))
}

/// YAML as kubectl reads it, into JSON.
///
/// kubectl (sigs.k8s.io/yaml) reads YAML 1.1, and yaml-rust2 implements YAML 1.2: they differ on
/// plain scalars such as `0400` (octal in 1.1, the Secret's `defaultMode`) and `on`/`yes` (booleans
/// in 1.1). This loader builds JSON from yaml-rust2's events and resolves plain scalars the way
/// kubectl does; anything the two would read differently, or that this loader does not model
/// (anchors, aliases, tags, merge keys, duplicate keys), is an error, so the test never reads a
/// manifest differently from the cluster. It is ~100 lines on the parser already in the
/// dev-dependencies, instead of a second YAML crate.
mod kyaml {
    use serde_json::{Map, Value};
    use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
    use yaml_rust2::scanner::{Marker, TScalarStyle};

    pub fn load(text: &str, file: &str) -> Result<Vec<Value>, String> {
        let mut builder = Builder::default();
        Parser::new_from_str(text)
            .load(&mut builder, true)
            .map_err(|e| format!("{file}: {e}"))?;
        match builder.error {
            Some((mark, message)) => Err(format!("{file}, line {}: {message}", mark.line())),
            None => Ok(builder.docs),
        }
    }

    enum Frame {
        Seq(Vec<Value>),
        /// The mapping so far and the key waiting for its value.
        Map(Map<String, Value>, Option<String>),
    }

    #[derive(Default)]
    struct Builder {
        stack: Vec<Frame>,
        docs: Vec<Value>,
        error: Option<(Marker, String)>,
    }

    impl MarkedEventReceiver for Builder {
        fn on_event(&mut self, event: Event, mark: Marker) {
            if self.error.is_some() {
                return;
            }
            if let Err(message) = self.event(event) {
                self.error = Some((mark, message));
            }
        }
    }

    impl Builder {
        fn event(&mut self, event: Event) -> Result<(), String> {
            match event {
                Event::SequenceStart(anchor, tag) | Event::MappingStart(anchor, tag)
                    if anchor != 0 || tag.is_some() =>
                {
                    Err("anchors and tags are not used in these manifests".into())
                }
                Event::SequenceStart(..) => {
                    self.stack.push(Frame::Seq(Vec::new()));
                    Ok(())
                }
                Event::MappingStart(..) => {
                    self.stack.push(Frame::Map(Map::new(), None));
                    Ok(())
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let value = match self.stack.pop() {
                        Some(Frame::Seq(items)) => Value::Array(items),
                        Some(Frame::Map(map, None)) => Value::Object(map),
                        Some(Frame::Map(_, Some(key))) => {
                            return Err(format!("key `{key}` has no value"));
                        }
                        None => return Err("unbalanced collection".into()),
                    };
                    self.insert(value, false)
                }
                Event::Scalar(_, _, anchor, tag) if anchor != 0 || tag.is_some() => {
                    Err("anchors and tags are not used in these manifests".into())
                }
                Event::Scalar(text, style, ..) => {
                    let value = match style {
                        TScalarStyle::Plain => resolve_plain(&text)?,
                        _ => Value::String(text),
                    };
                    self.insert(value, style == TScalarStyle::Plain)
                }
                Event::Alias(_) => Err("aliases are not used in these manifests".into()),
                _ => Ok(()),
            }
        }

        fn insert(&mut self, value: Value, plain: bool) -> Result<(), String> {
            match self.stack.last_mut() {
                None => self.docs.push(value),
                Some(Frame::Seq(items)) => items.push(value),
                Some(Frame::Map(map, pending @ None)) => {
                    let key = match value {
                        Value::String(key) if plain && (key == "<<" || key == "=") => {
                            return Err(format!("`{key}` keys are not used in these manifests"));
                        }
                        Value::String(key) => key,
                        other => return Err(format!("a key must be a string, not {other}")),
                    };
                    if map.contains_key(&key) {
                        return Err(format!("duplicate key `{key}`"));
                    }
                    *pending = Some(key);
                }
                Some(Frame::Map(map, pending)) => {
                    let key = pending.take().expect("a pending key");
                    map.insert(key, value);
                }
            }
            Ok(())
        }
    }

    /// A plain scalar as YAML 1.1 (go-yaml v2, under kubectl) resolves it, or an error where
    /// YAML 1.1 and 1.2 disagree.
    pub fn resolve_plain(s: &str) -> Result<Value, String> {
        let ambiguous = |why: &str| {
            Err(format!(
                "`{s}` is {why}; quote it, or write the number in decimal"
            ))
        };
        match s {
            "" | "~" | "null" | "Null" | "NULL" => return Ok(Value::Null),
            "true" | "True" | "TRUE" => return Ok(Value::Bool(true)),
            "false" | "False" | "FALSE" => return Ok(Value::Bool(false)),
            "y" | "Y" | "yes" | "Yes" | "YES" | "n" | "N" | "no" | "No" | "NO" | "on" | "On"
            | "ON" | "off" | "Off" | "OFF" => {
                return ambiguous("a boolean to kubectl (YAML 1.1) but a string in YAML 1.2");
            }
            _ => {}
        }
        let (negative, digits) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let signed = |n: i64| Value::from(if negative { -n } else { n });
        let numeric = !digits.is_empty()
            && digits.bytes().any(|b| b.is_ascii_digit())
            && digits
                .bytes()
                .all(|b| b.is_ascii_digit() || b"._eE+-".contains(&b));
        if !numeric {
            if let Some(hex) = digits.strip_prefix("0x")
                && let Ok(n) = i64::from_str_radix(hex, 16)
            {
                return Ok(signed(n));
            }
            if digits.starts_with("0o") || digits.starts_with("0b") {
                return ambiguous("a number in one YAML version and not the other");
            }
            return Ok(Value::String(s.to_string()));
        }
        if digits.contains('_') {
            return ambiguous("a number with `_`, read differently by YAML 1.1 and 1.2");
        }
        if digits.len() > 1 && digits.starts_with('0') && digits.bytes().all(|b| b.is_ascii_digit())
        {
            // YAML 1.1: a leading zero means octal (`0400` = 256); YAML 1.2 reads decimal.
            return match i64::from_str_radix(digits, 8) {
                Ok(n) => Ok(signed(n)),
                Err(_) => ambiguous("not octal, although it starts with 0"),
            };
        }
        if let Ok(n) = digits.parse::<i64>() {
            return Ok(signed(n));
        }
        match s.parse::<f64>() {
            Ok(f) => serde_json::Number::from_f64(f)
                .map(Value::Number)
                .ok_or_else(|| format!("`{s}` is not a finite number")),
            Err(_) => Ok(Value::String(s.to_string())),
        }
    }
}

#[test]
fn yaml_is_read_as_kubectl_reads_it() {
    let docs = kyaml::load(
        "a: 0400\nb: 256\nc: \"0400\"\nd: 250m\ne: [1, 2]\nf: -1\ng: true\nh: ~\ni: 0x1F\nj: 1.5\n---\nk: v\n",
        "t.yaml",
    )
    .unwrap();
    assert_eq!(
        docs,
        vec![
            json!({"a": 256, "b": 256, "c": "0400", "d": "250m", "e": [1, 2], "f": -1, "g": true,
                   "h": null, "i": 31, "j": 1.5}),
            json!({"k": "v"})
        ]
    );
    for bad in [
        "a: on\n",
        "a: yes\n",
        "a: 1\na: 2\n",
        "a: &x 1\nb: *x\n",
        "a: 0o400\n",
        "a: 089\n",
        "a: !!str 1\n",
    ] {
        assert!(
            kyaml::load(bad, "t.yaml").is_err(),
            "{bad:?} must be refused"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The API schemas of Kubernetes 1.30 to 1.34
// ---------------------------------------------------------------------------------------------

/// One Kubernetes minor version's types (a k8s-openapi release with that version's feature):
/// the typed resource a document deserialises into, serialised back to JSON.
macro_rules! kubernetes_version {
    ($module:ident, $krate:ident, $version:literal) => {
        mod $module {
            use $krate::api::batch::v1::{CronJob, Job};
            use $krate::api::core::v1::{ConfigMap, Secret};

            pub const VERSION: &str = $version;

            pub fn round_trip(doc: &serde_json::Value) -> Result<serde_json::Value, String> {
                match (doc["apiVersion"].as_str(), doc["kind"].as_str()) {
                    (Some("batch/v1"), Some("CronJob")) => super::via::<CronJob>(doc),
                    (Some("batch/v1"), Some("Job")) => super::via::<Job>(doc),
                    (Some("v1"), Some("ConfigMap")) => super::via::<ConfigMap>(doc),
                    (Some("v1"), Some("Secret")) => super::via::<Secret>(doc),
                    (api, kind) => Err(format!("no schema in this test for {api:?} {kind:?}")),
                }
            }
        }
    };
}

kubernetes_version!(v1_30, k8s_openapi_v1_30, "1.30");
kubernetes_version!(v1_31, k8s_openapi_v1_31, "1.31");
kubernetes_version!(v1_32, k8s_openapi_v1_32, "1.32");
kubernetes_version!(v1_33, k8s_openapi_v1_33, "1.33");
kubernetes_version!(v1_34, k8s_openapi_v1_34, "1.34");

type RoundTrip = fn(&Value) -> Result<Value, String>;

const VERSIONS: [(&str, RoundTrip); 5] = [
    (v1_30::VERSION, v1_30::round_trip),
    (v1_31::VERSION, v1_31::round_trip),
    (v1_32::VERSION, v1_32::round_trip),
    (v1_33::VERSION, v1_33::round_trip),
    (v1_34::VERSION, v1_34::round_trip),
];

/// Deserialise into the typed resource (wrong types and missing `apiVersion`/`kind` fail here,
/// with the path), then serialise back.
fn via<T: serde::de::DeserializeOwned + serde::Serialize>(doc: &Value) -> Result<Value, String> {
    let typed: T = serde_path_to_error::deserialize(doc.clone())
        .map_err(|e| format!("{}: {}", e.path(), e.inner()))?;
    serde_json::to_value(&typed).map_err(|e| e.to_string())
}

/// Where the typed round trip differs from the document. k8s-openapi ignores unknown fields and
/// fills in a missing required field with its default, so a dropped field is one the schema does
/// not have, and an added one is a required field the manifest lacks.
fn differences(path: &str, original: &Value, typed: &Value, out: &mut Vec<String>) {
    match (original, typed) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, va) in a {
                match b.get(key) {
                    Some(vb) => differences(&format!("{path}.{key}"), va, vb, out),
                    None => out.push(format!(
                        "{path}.{key}: not in the schema (misspelt or misplaced?)"
                    )),
                }
            }
            for (key, vb) in b {
                if !a.contains_key(key) {
                    out.push(format!(
                        "{path}.{key}: required by the schema but missing (filled in as {vb})"
                    ));
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                differences(&format!("{path}[{i}]"), va, vb, out);
            }
        }
        _ if original == typed => {}
        _ => out.push(format!("{path}: {original} reads as {typed}")),
    }
}

#[test]
fn every_manifest_matches_the_api_schema_of_kubernetes_1_30_to_1_34() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for name in MANIFESTS {
        for (i, doc) in load(name).iter().enumerate() {
            let what = format!("{name}#{i} ({})", doc["kind"].as_str().unwrap_or("?"));
            for (version, round_trip) in VERSIONS {
                checked += 1;
                match round_trip(doc) {
                    Err(e) => problems.push(format!("Kubernetes {version}: {what}: {e}")),
                    Ok(typed) => {
                        let mut diffs = Vec::new();
                        differences("", doc, &typed, &mut diffs);
                        problems.extend(
                            diffs
                                .into_iter()
                                .map(|d| format!("Kubernetes {version}: {what}: {d}")),
                        );
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // CronJob, two Jobs, ConfigMap, Secret: five documents, five versions each.
    assert_eq!(checked, 25);
}

#[test]
fn the_schema_check_catches_what_the_api_server_would_reject() {
    let job = &load("cronjob.yaml")[0];
    let check = |doc: &Value| -> Vec<String> {
        VERSIONS
            .iter()
            .flat_map(|(version, round_trip)| match round_trip(doc) {
                Err(e) => vec![format!("{version}: {e}")],
                Ok(typed) => {
                    let mut diffs = Vec::new();
                    differences("", doc, &typed, &mut diffs);
                    diffs
                        .into_iter()
                        .map(|d| format!("{version}: {d}"))
                        .collect()
                }
            })
            .collect()
    };
    assert!(check(job).is_empty());

    // The old bug: an onPodConditions pattern without `status`.
    let mut missing = job.clone();
    let patterns = &mut missing["spec"]["jobTemplate"]["spec"]["podFailurePolicy"]["rules"][2]["onPodConditions"]
        [0];
    patterns.as_object_mut().unwrap().remove("status");
    let found = check(&missing);
    assert_eq!(found.len(), 5, "{found:?}");
    assert!(found.iter().all(|p| p.contains(
        ".spec.jobTemplate.spec.podFailurePolicy.rules[2].onPodConditions[0].status: required"
    )));

    // A misspelt field, a misplaced one, a wrong type.
    let mut misspelt = job.clone();
    misspelt["spec"]["jobTemplate"]["spec"]["template"]["spec"]["securityContext"]["runAsNonroot"] =
        json!(true);
    assert!(
        check(&misspelt)
            .iter()
            .all(|p| p.contains("securityContext.runAsNonroot: not in the schema"))
    );
    let mut misplaced = job.clone();
    misplaced["spec"]["backoffLimit"] = json!(2);
    assert_eq!(check(&misplaced).len(), 5);
    let mut wrong_type = job.clone();
    wrong_type["spec"]["jobTemplate"]["spec"]["backoffLimit"] = json!("two");
    assert!(
        check(&wrong_type)
            .iter()
            .all(|p| p.contains("spec.jobTemplate.spec.backoffLimit"))
    );
}

// ---------------------------------------------------------------------------------------------
// What each exit code does to each Job
// ---------------------------------------------------------------------------------------------

/// What becomes of a Job's pod that ended with an exit code (restartPolicy: Never), by the
/// Job's podFailurePolicy, as the Job controller decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Exit 0: the pod succeeded, so the Job (or this index) is Complete.
    Complete,
    /// FailJob: the Job fails at once, nothing is retried.
    FailJob,
    /// FailIndex: this index of an Indexed Job fails at once, not retried.
    FailIndex,
    /// Count, or no rule matched: retried until backoffLimit (backoffLimitPerIndex), then failed.
    Retry,
    /// Ignore: a new pod, not counted. For an exit that a new pod repeats, that never ends.
    Ignore,
}

fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|n| n.as_i64().unwrap_or_else(|| panic!("not an integer: {n}")))
        .collect()
}

fn fate(job_spec: &Value, container: &str, code: i64) -> Fate {
    if code == 0 {
        return Fate::Complete;
    }
    let rules = job_spec["podFailurePolicy"]["rules"].as_array();
    for rule in rules.into_iter().flatten() {
        let Some(on) = rule.get("onExitCodes") else {
            // onPodConditions: a pod that simply exited has no DisruptionTarget condition.
            continue;
        };
        if on
            .get("containerName")
            .is_some_and(|c| c.as_str() != Some(container))
        {
            continue;
        }
        let values = ints(&on["values"]);
        let matched = match on["operator"].as_str() {
            Some("In") => values.contains(&code),
            Some("NotIn") => !values.contains(&code),
            other => panic!("operator {other:?}"),
        };
        if matched {
            return match rule["action"].as_str() {
                Some("FailJob") => Fate::FailJob,
                Some("FailIndex") => Fate::FailIndex,
                Some("Count") => Fate::Retry,
                Some("Ignore") => Fate::Ignore,
                other => panic!("action {other:?}"),
            };
        }
    }
    Fate::Retry
}

/// A Job's pod template, whether the document is a Job or a CronJob.
fn job_spec(doc: &Value) -> &Value {
    match doc["kind"].as_str() {
        Some("CronJob") => &doc["spec"]["jobTemplate"]["spec"],
        Some("Job") => &doc["spec"],
        other => panic!("not a Job: {other:?}"),
    }
}

fn pod_spec(doc: &Value) -> &Value {
    &job_spec(doc)["template"]["spec"]
}

fn container(doc: &Value) -> &Value {
    let containers = pod_spec(doc)["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1, "one container");
    &containers[0]
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().expect("a string").to_string())
        .collect()
}

fn args(doc: &Value) -> Vec<String> {
    strings(&container(doc)["args"])
}

fn option<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .map(|i| args[i + 1].as_str())
}

/// The value of each `$(NAME)` the kubelet expands in args, from the container's `env`: a plain
/// value, or what the Job controller puts in the completion-index annotation.
fn env_values(doc: &Value, index: Option<u32>) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for e in container(doc)["env"].as_array().into_iter().flatten() {
        let name = e["name"].as_str().expect("env name").to_string();
        let value = if let Some(v) = e["value"].as_str() {
            v.to_string()
        } else {
            let field = e["valueFrom"]["fieldRef"]["fieldPath"].as_str();
            assert_eq!(
                field,
                Some("metadata.annotations['batch.kubernetes.io/job-completion-index']"),
                "{name}"
            );
            index.expect("an Indexed Job's pod").to_string()
        };
        vars.insert(name, value);
    }
    vars
}

fn expand(arg: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = arg.to_string();
    for (name, value) in vars {
        out = out.replace(&format!("$({name})"), value);
    }
    assert!(
        !out.contains("$("),
        "`{arg}` refers to a variable the container does not define"
    );
    out
}

/// The container's arguments as the real command-line parser reads them (the image's
/// entrypoint is the binary).
fn parse(args: &[String]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("access-audit".to_string()).chain(args.iter().cloned()))
}

/// `--fail-on`, as the manifest's arguments set it.
fn fail_on(cli: &Cli) -> Option<FailOn> {
    match &cli.command {
        Command::Run(a) => a.output.fail_on,
        Command::Merge(a) => a.output.fail_on,
        other => panic!("not run or merge: {other:?}"),
    }
}

/// The exit codes a command with these arguments can end with (README, "Exit codes"): 3 only
/// when a failing finding can be at or above `fail_on`.
fn reachable(cli: &Cli) -> BTreeSet<i64> {
    let mut codes = BTreeSet::from([0, 1, 4, 5]);
    if fail_on(cli) != Some(FailOn::None) {
        codes.insert(3);
    }
    codes
}

const AS_OF: &str = "2026-11-23T06:00:00Z";

/// Each manifest's Jobs: the CronJob's, the shards', the merge's.
fn jobs() -> Vec<(&'static str, Value)> {
    let cron = load("cronjob.yaml").remove(0);
    let mut indexed = load_with("indexed-job.yaml", &[("@AS_OF@", AS_OF)]);
    let merge = indexed.remove(1);
    let shards = indexed.remove(0);
    vec![("cronjob", cron), ("shards", shards), ("merge", merge)]
}

#[test]
fn each_exit_code_ends_each_job_as_designed() {
    use Fate::*;
    let expected: [(&str, [(i64, Fate); 8]); 3] = [
        // A week with findings exits 0 (--fail-on none) and completes; 1 and 2 cannot be fixed
        // by a retry; 3 only without --fail-on none, and then it is not mailed twice; an
        // incomplete run (4), a failed delivery (5) and a crash (137) are retried.
        (
            "cronjob",
            [
                (0, Complete),
                (1, FailJob),
                (2, FailJob),
                (3, FailJob),
                (4, Retry),
                (5, Retry),
                (101, Retry),
                (137, Retry),
            ],
        ),
        // A shard with findings completes; a config error is every shard's: FailJob; an
        // incomplete shard is retried, alone.
        (
            "shards",
            [
                (0, Complete),
                (1, FailJob),
                (2, FailJob),
                (3, FailIndex),
                (4, Retry),
                (5, Retry),
                (101, Retry),
                (137, Retry),
            ],
        ),
        // The merge decides: merging the same reports again cannot complete them (4).
        (
            "merge",
            [
                (0, Complete),
                (1, FailJob),
                (2, FailJob),
                (3, FailJob),
                (4, FailJob),
                (5, Retry),
                (101, Retry),
                (137, Retry),
            ],
        ),
    ];
    let jobs = jobs();
    for (name, table) in expected {
        let doc = &jobs.iter().find(|(n, _)| *n == name).unwrap().1;
        let container = container(doc)["name"].as_str().unwrap();
        for (code, want) in table {
            assert_eq!(
                fate(job_spec(doc), container, code),
                want,
                "{name}: exit {code}"
            );
        }
        // No exit code re-creates pods without end.
        for code in 1..=255 {
            assert_ne!(
                fate(job_spec(doc), container, code),
                Ignore,
                "{name}: exit {code} would be Ignored: a new pod, the same exit, forever"
            );
        }
    }
}

#[test]
fn a_week_with_findings_completes_and_only_the_merge_decides() {
    for (name, doc) in jobs() {
        let vars = env_values(&doc, Some(0));
        let args: Vec<String> = args(&doc).iter().map(|a| expand(a, &vars)).collect();
        let cli = parse(&args).unwrap_or_else(|e| panic!("{name}: {args:?}: {e}"));
        let codes = reachable(&cli);
        assert!(
            !codes.contains(&3),
            "{name}: findings must not fail the Job: run with --fail-on none"
        );
        let container = container(&doc)["name"].as_str().unwrap();
        for code in codes {
            let fate = fate(job_spec(&doc), container, code);
            let ok = match code {
                0 => fate == Fate::Complete,
                1 => fate == Fate::FailJob,
                4 if name == "merge" => fate == Fate::FailJob,
                4 | 5 => fate == Fate::Retry,
                _ => unreachable!(),
            };
            assert!(ok, "{name}: exit {code} ends as {fate:?}");
        }
        if name == "shards" {
            assert!(
                matches!(&cli.command, Command::Run(a) if a.email.no_email),
                "a shard never mails: the merge does"
            );
        }
    }
}

#[test]
fn pod_failure_policies_are_ones_the_api_server_accepts() {
    for (name, doc) in jobs() {
        let spec = job_spec(&doc);
        assert_eq!(
            pod_spec(&doc)["restartPolicy"].as_str(),
            Some("Never"),
            "{name}: a podFailurePolicy needs restartPolicy: Never"
        );
        let container = container(&doc)["name"].as_str().unwrap();
        let rules = spec["podFailurePolicy"]["rules"].as_array().expect("rules");
        assert!(rules.len() <= 20, "{name}: at most 20 rules");
        let mut disruption_ignored = false;
        for rule in rules {
            let action = rule["action"].as_str().unwrap();
            if action == "FailIndex" {
                assert!(
                    spec["backoffLimitPerIndex"].is_i64(),
                    "{name}: FailIndex needs backoffLimitPerIndex"
                );
            }
            if let Some(on) = rule.get("onExitCodes") {
                assert_eq!(on["containerName"].as_str(), Some(container), "{name}");
                let values = ints(&on["values"]);
                let mut sorted = values.clone();
                sorted.sort_unstable();
                sorted.dedup();
                assert_eq!(
                    values, sorted,
                    "{name}: exit codes ordered, without duplicates"
                );
                assert!(!values.contains(&0), "{name}: 0 cannot be used with In");
            }
            for pattern in rule["onPodConditions"].as_array().into_iter().flatten() {
                assert!(
                    matches!(
                        pattern["status"].as_str(),
                        Some("True" | "False" | "Unknown")
                    ),
                    "{name}: onPodConditions[].status is required"
                );
                if pattern["type"] == "DisruptionTarget" && pattern["status"] == "True" {
                    assert_eq!(action, "Ignore", "{name}");
                    disruption_ignored = true;
                }
            }
        }
        assert!(
            disruption_ignored,
            "{name}: an evicted or preempted pod is not the tool's failure"
        );
    }
}

fn seconds(duration: &str) -> i64 {
    humantime::parse_duration(duration)
        .unwrap_or_else(|e| panic!("{duration}: {e}"))
        .as_secs() as i64
}

#[test]
fn deadlines_let_the_tool_stop_cleanly_and_leave_room_for_every_retry() {
    for (name, doc) in jobs() {
        let spec = job_spec(&doc);
        let job_deadline = spec["activeDeadlineSeconds"]
            .as_i64()
            .unwrap_or_else(|| panic!("{name}: activeDeadlineSeconds"));
        let Some(tool_deadline) = option(&args(&doc), "--deadline").map(seconds) else {
            assert_eq!(name, "merge", "{name}: run has a --deadline");
            continue;
        };
        let grace = pod_spec(&doc)["terminationGracePeriodSeconds"]
            .as_i64()
            .unwrap_or(30);
        let retries = spec["backoffLimitPerIndex"]
            .as_i64()
            .or(spec["backoffLimit"].as_i64())
            .unwrap_or(6);
        assert!(
            tool_deadline + grace < job_deadline,
            "{name}: --deadline must end the run, with a report, before Kubernetes kills it"
        );
        assert!(
            (retries + 1) * (tool_deadline + grace) <= job_deadline,
            "{name}: activeDeadlineSeconds {job_deadline} covers the whole Job: it must leave \
             each of the {} attempts its --deadline",
            retries + 1
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Pods: user, secrets, volumes, resources, the evaluation instant
// ---------------------------------------------------------------------------------------------

/// The final stage's `USER uid:gid` in the Dockerfile.
fn image_user() -> (i64, i64) {
    let stages = dockerfile::stages(&read(&example("Dockerfile")));
    let user = stages
        .last()
        .unwrap()
        .instructions
        .iter()
        .rev()
        .find(|(i, _)| i == "USER")
        .map(|(_, v)| v.clone())
        .expect("USER in the final stage");
    let (uid, gid) = user.split_once(':').expect("USER uid:gid");
    (
        uid.parse().expect("numeric uid"),
        gid.parse().expect("numeric gid"),
    )
}

/// Millicores or bytes.
fn quantity(q: &Value) -> i64 {
    let s = q
        .as_str()
        .unwrap_or_else(|| panic!("a quantity string: {q}"));
    let units = [
        ("Ki", 1 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("m", 1),
        ("", 1000),
    ];
    let (number, factor) = units
        .iter()
        .find_map(|(suffix, f)| s.strip_suffix(suffix).map(|n| (n, *f)))
        .unwrap();
    number
        .parse::<i64>()
        .unwrap_or_else(|_| panic!("quantity {s}"))
        * factor
}

#[test]
fn pods_run_as_the_images_non_root_user_and_can_read_their_secret() {
    let (uid, gid) = image_user();
    for (name, doc) in jobs() {
        let pod = pod_spec(&doc);
        assert_eq!(
            pod["automountServiceAccountToken"].as_bool(),
            Some(false),
            "{name}: the tool never calls the Kubernetes API"
        );
        let sc = &pod["securityContext"];
        assert_eq!(sc["runAsNonRoot"].as_bool(), Some(true), "{name}");
        assert_eq!(
            sc["runAsUser"].as_i64(),
            Some(uid),
            "{name}: the image's uid"
        );
        assert_eq!(
            sc["runAsGroup"].as_i64(),
            Some(gid),
            "{name}: the image's gid"
        );
        assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault", "{name}");
        // A Secret volume's files belong to root. With fsGroup, the kubelet gives them to that
        // group and adds group read (0400 becomes 0440): our group is the one that reads them.
        assert_eq!(
            sc["fsGroup"].as_i64(),
            Some(gid),
            "{name}: fsGroup lets the user read the 0400 Secret"
        );
        for volume in pod["volumes"].as_array().expect("volumes") {
            if let Some(secret) = volume.get("secret") {
                let mode = secret["defaultMode"].as_i64().expect("defaultMode");
                assert_eq!(
                    mode, 0o400,
                    "{name}: owner-read only, as kubectl reads 0400"
                );
            }
        }

        let c = container(&doc);
        let csc = &c["securityContext"];
        assert_eq!(
            csc["readOnlyRootFilesystem"].as_bool(),
            Some(true),
            "{name}"
        );
        assert_eq!(
            csc["allowPrivilegeEscalation"].as_bool(),
            Some(false),
            "{name}"
        );
        assert_eq!(strings(&csc["capabilities"]["drop"]), ["ALL"], "{name}");
        for resource in ["cpu", "memory"] {
            let request = quantity(&c["resources"]["requests"][resource]);
            let limit = quantity(&c["resources"]["limits"][resource]);
            assert!(
                0 < request && request <= limit,
                "{name}: {resource} request and limit"
            );
        }
    }
}

/// The volume mounted at the longest mount path that holds `path`, and whether it is writable.
fn mount_of<'a>(doc: &'a Value, path: &str) -> (&'a Value, bool) {
    let mounts = container(doc)["volumeMounts"].as_array().expect("mounts");
    let mount = mounts
        .iter()
        .filter(|m| {
            let at = m["mountPath"].as_str().unwrap();
            path == at || path.starts_with(&format!("{at}/"))
        })
        .max_by_key(|m| m["mountPath"].as_str().unwrap().len())
        .unwrap_or_else(|| panic!("{path} is on the read-only root filesystem"));
    let volume = pod_spec(doc)["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the mount's volume");
    (volume, mount["readOnly"].as_bool() != Some(true))
}

#[test]
fn the_tool_writes_only_to_volumes_and_reads_config_and_secrets_from_read_only_mounts() {
    let config_text = load("configmap.yaml")[0]["data"]["access-audit.toml"]
        .as_str()
        .unwrap()
        .to_string();
    let config = access_audit::Config::parse(&config_text, None).unwrap();
    for (name, doc) in jobs() {
        let vars = env_values(&doc, Some(0));
        let args: Vec<String> = args(&doc).iter().map(|a| expand(a, &vars)).collect();
        let out = option(&args, "--out")
            .map(PathBuf::from)
            .unwrap_or(config.report.output_dir.clone());
        let mut written = vec![out];
        written.extend(option(&args, "--evidence").map(PathBuf::from));
        for dir in written {
            let (volume, writable) = mount_of(&doc, dir.to_str().unwrap());
            assert!(writable, "{name}: {} is writable", dir.display());
            assert!(
                volume.get("emptyDir").is_some() || volume.get("persistentVolumeClaim").is_some(),
                "{name}: {} is on an emptyDir or a claim",
                dir.display()
            );
        }
        let config_path = option(&args, "--config").unwrap();
        let (volume, writable) = mount_of(&doc, config_path);
        assert!(!writable, "{name}: config read-only");
        assert_eq!(volume["configMap"]["name"], "access-audit-config", "{name}");
        for source in &config.sources {
            if let Some(access_audit::SecretRef::File(p)) = &source.secret {
                let (volume, writable) = mount_of(&doc, p.to_str().unwrap());
                assert!(!writable, "{name}: secrets read-only");
                assert_eq!(
                    volume["secret"]["secretName"], "access-audit-secrets",
                    "{name}"
                );
            }
        }
    }
}

#[test]
fn scheduled_runs_evaluate_as_of_their_own_start_and_shards_share_one_instant() {
    let cron = &load("cronjob.yaml")[0];
    assert!(
        option(&args(cron), "--as-of").is_none(),
        "a scheduled run evaluates as of now: a fixed --as-of would audit the same instant forever"
    );
    let spec = &cron["spec"];
    assert_eq!(spec["concurrencyPolicy"], "Forbid");
    assert!(
        spec["timeZone"].as_str().is_some_and(|tz| tz.contains('/')),
        "an IANA time zone"
    );

    // The sharded run's instant is set once per run (the header's sed), for both Jobs.
    let raw = load("indexed-job.yaml");
    for doc in &raw {
        let vars = env_values(doc, Some(0));
        assert_eq!(vars["AS_OF"], "@AS_OF@", "set per run, not in the file");
        let args: Vec<String> = args(doc).iter().map(|a| expand(a, &vars)).collect();
        // Left unset, each Job fails at once: for the shards `--as-of @AS_OF@` is a usage error
        // (2); the merge finds no `/shared/@AS_OF@/shard-0/report.json` (1).
        let code = match parse(&args) {
            Err(e) => e.exit_code(),
            Ok(cli) => {
                let Command::Merge(m) = cli.command else {
                    panic!("{args:?} must not parse")
                };
                assert!(m.inputs.iter().all(|i| i.starts_with("/shared/@AS_OF@")));
                1
            }
        };
        assert_eq!(
            fate(job_spec(doc), "access-audit", code.into()),
            Fate::FailJob
        );
    }
    let jobs = jobs();
    let (shards, merge) = (&jobs[1].1, &jobs[2].1);
    assert_eq!(shards["spec"]["completionMode"], "Indexed");
    let n = shards["spec"]["completions"].as_i64().unwrap();
    assert_eq!(shards["spec"]["parallelism"].as_i64(), Some(n));
    let mut outs = Vec::new();
    for i in 0..n as u32 {
        let vars = env_values(shards, Some(i));
        let args: Vec<String> = args(shards).iter().map(|a| expand(a, &vars)).collect();
        let Command::Run(run) = parse(&args).unwrap().command else {
            panic!("run")
        };
        let Some(access_audit::AsOf::At(as_of)) = run.as_of else {
            panic!("--as-of {:?}", run.as_of)
        };
        assert_eq!(as_of.to_rfc3339(), "2026-11-23T06:00:00+00:00");
        let shard = run.shard.expect("--shard");
        assert_eq!((shard.index, i64::from(shard.count)), (i, n));
        outs.push(run.output.out.expect("--out"));
    }
    let vars = env_values(merge, None);
    let merge_args: Vec<String> = args(merge).iter().map(|a| expand(a, &vars)).collect();
    let Command::Merge(m) = parse(&merge_args).unwrap().command else {
        panic!("merge")
    };
    assert_eq!(m.inputs, outs, "merge reads every shard's folder");
    assert!(
        outs.iter()
            .all(|o| o.starts_with(format!("/shared/{AS_OF}"))),
        "each run has its own folder: no stale shard of another run is merged"
    );
    assert!(!outs.contains(m.output.out.as_ref().unwrap()));
}

#[test]
fn configmap_holds_a_valid_config_that_reads_secrets_from_the_mount() {
    let docs = load("configmap.yaml");
    let text = docs[0]["data"]["access-audit.toml"]
        .as_str()
        .expect("access-audit.toml in the ConfigMap");
    let config =
        access_audit::Config::parse(text, Some(Path::new("configmap.yaml#access-audit.toml")))
            .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        config.report.output_dir.starts_with("/reports"),
        "reports go to the emptyDir"
    );
    let keys: Vec<String> = load("secret.example.yaml")[0]["stringData"]
        .as_object()
        .expect("stringData")
        .keys()
        .cloned()
        .collect();
    let mut files: Vec<&Path> = config
        .sources
        .iter()
        .map(|source| match &source.secret {
            Some(access_audit::SecretRef::File(p)) => p.as_path(),
            other => panic!(
                "{}: secrets come from the mounted Secret, not {other:?}",
                source.spec.name
            ),
        })
        .collect();
    match &config.email.smtp_url {
        Some(access_audit::SecretRef::File(p)) => files.push(p),
        other => panic!("the SMTP URL comes from the mounted Secret, not {other:?}"),
    }
    for p in files {
        assert!(p.starts_with("/var/run/secrets/access-audit"));
        let file = p.file_name().unwrap().to_str().unwrap();
        assert!(
            keys.iter().any(|k| k == file),
            "the Secret has a key {file}"
        );
    }
    // The Jobs run with --fail-on none, under which `problems` means incomplete runs only: the
    // findings must still be sent.
    use access_audit::delivery::SendPolicy;
    assert!(config.email.enabled);
    assert_ne!(config.email.send, SendPolicy::Problems);
    if let Some(notify) = &config.notify {
        assert_ne!(notify.send, SendPolicy::Problems);
    }
}

// ---------------------------------------------------------------------------------------------
// The real binary, in the manifests' pods
// ---------------------------------------------------------------------------------------------

/// A pod of one of the manifests on this machine: each volume a folder (the ConfigMap's and
/// the Secret's keys as files, emptyDirs empty, claims shared between pods), the container's
/// arguments expanded as the kubelet does and pointed at those folders.
struct Pod {
    args: Vec<String>,
    env: BTreeMap<String, String>,
    mounts: Vec<(String, PathBuf)>,
}

impl Pod {
    fn new(
        doc: &Value,
        index: Option<u32>,
        node: &Path,
        claims: &Path,
        files: &dyn Fn(&str) -> BTreeMap<String, String>,
    ) -> Pod {
        let spec = pod_spec(doc);
        let mut mounts = Vec::new();
        for m in container(doc)["volumeMounts"].as_array().unwrap() {
            let name = m["name"].as_str().unwrap();
            let volume = spec["volumes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["name"] == name)
                .unwrap();
            let dir = if let Some(claim) = volume.get("persistentVolumeClaim") {
                claims.join(claim["claimName"].as_str().unwrap())
            } else {
                node.join(name)
            };
            std::fs::create_dir_all(&dir).unwrap();
            let source = volume
                .get("configMap")
                .map(|c| c["name"].as_str().unwrap())
                .or(volume
                    .get("secret")
                    .map(|s| s["secretName"].as_str().unwrap()));
            mounts.push((m["mountPath"].as_str().unwrap().to_string(), dir, source));
        }
        // Longest first, so that a path is mapped by the mount that holds it.
        mounts.sort_by_key(|(at, ..)| std::cmp::Reverse(at.len()));
        let env = env_values(doc, index);
        let mut pod = Pod {
            args: Vec::new(),
            env,
            mounts: mounts
                .iter()
                .map(|(at, dir, _)| (at.clone(), dir.clone()))
                .collect(),
        };
        // The ConfigMap's and the Secret's keys as files; the paths in them (the config names
        // the secret files and the output folder) pointed at this machine's folders.
        for (_, dir, source) in &mounts {
            for (file, content) in source.map(files).unwrap_or_default() {
                let mut content = content;
                for (at, host) in &pod.mounts {
                    content =
                        content.replace(&format!("\"{at}/"), &format!("\"{}/", host.display()));
                }
                std::fs::write(dir.join(file), content).unwrap();
            }
        }
        pod.args = args(doc)
            .iter()
            .map(|a| pod.host_path(&expand(a, &pod.env)))
            .collect();
        if let Some(i) = index {
            // Set by the Job controller in every pod of an Indexed Job.
            pod.env.insert("JOB_COMPLETION_INDEX".into(), i.to_string());
        }
        pod
    }

    /// A path in the pod as a path on this machine.
    fn host_path(&self, path: &str) -> String {
        for (at, dir) in &self.mounts {
            if path == at || path.starts_with(&format!("{at}/")) {
                return format!("{}{}", dir.display(), &path[at.len()..]);
            }
        }
        path.to_string()
    }

    fn run(&self, without: &[&str]) -> i32 {
        let mut args = self.args.clone();
        for flag in without {
            let i = args.iter().position(|a| a == flag).unwrap();
            args.drain(i..i + 2);
        }
        let output = common::bin().envs(&self.env).args(&args).output().unwrap();
        let code = output.status.code().expect("an exit code");
        if ![0, 3].contains(&code) {
            eprintln!("{}", String::from_utf8_lossy(&output.stderr));
        }
        code
    }
}

/// Two Sentry organizations with an owner without 2FA each (high: at or above the ConfigMap's
/// fail_on) and a Sent.dm organization, on loopback.
async fn apis_with_findings() -> MockServer {
    let server = MockServer::start().await;
    let recent = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    for (org, id) in [("acme", 1), ("acme-labs", 2)] {
        Mock::given(method("GET"))
            .and(path(format!("/api/0/organizations/{org}/members/")))
            .and(query_param("per_page", "100"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!([sentry_member(
                        id,
                        "owner",
                        false,
                        Some(recent.as_str())
                    )]))
                    .insert_header("link", sentry_link(org, None).as_str()),
            )
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/v3/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(sentdm_ok(json!({"users": [
            sentdm_user("u1", "developer", "active", "2026-01-01T00:00:00+00:00", Some(recent.as_str()))
        ]}))))
        .mount(&server)
        .await;
    server
}

/// The ConfigMap's config, pointed at the mock APIs (the Sent.dm organization only), and the
/// Secret's keys, holding the mocks' credentials and a local SMTP relay.
fn volume_files(api: &str, smtp_port: u16) -> impl Fn(&str) -> BTreeMap<String, String> + use<> {
    let api = api.to_string();
    move |name: &str| match name {
        "access-audit-config" => {
            let text = load("configmap.yaml")[0]["data"]["access-audit.toml"]
                .as_str()
                .unwrap()
                .replace(
                    "type = \"sentry\"\n",
                    &format!("type = \"sentry\"\nbase_url = \"{api}\"\n"),
                )
                .replace(
                    "type = \"sentdm\"\n",
                    &format!("type = \"sentdm\"\nbase_url = \"{api}\"\n"),
                )
                .replace("profiles = \"all\"", "profiles = []");
            BTreeMap::from([("access-audit.toml".into(), text)])
        }
        "access-audit-secrets" => {
            let keys = load("secret.example.yaml")[0]["stringData"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect::<Vec<_>>();
            let value = |key: &str| match key {
                "sentry-token" => SENTRY_TOKEN.to_string(),
                "sentdm-api-key" => SENTDM_KEY.to_string(),
                "smtp-url" => format!("smtp://127.0.0.1:{smtp_port}"),
                other => panic!("a Secret key this test does not know: {other}"),
            };
            keys.iter().map(|k| (k.clone(), value(k))).collect()
        }
        other => panic!("no such ConfigMap or Secret: {other}"),
    }
}

/// The one `report.json` under `dir`, wherever `{date}` put it.
fn report_under(dir: &Path) -> Value {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else if p.file_name().unwrap() == "report.json" {
                found.push(p);
            }
        }
    }
    assert_eq!(found.len(), 1, "{found:?}");
    common::read_json(&found[0])
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cronjob_pod_completes_a_week_with_findings_and_still_mails_them() {
    let api = apis_with_findings().await;
    let smtp = smtp_server::SmtpServer::start(smtp_server::Options::default());
    let files = volume_files(&api.uri(), smtp.port);
    let cron = &load("cronjob.yaml")[0];
    let dir = tempfile::tempdir().unwrap();

    let pod = Pod::new(cron, None, &dir.path().join("pod-1"), dir.path(), &files);
    let code = pod.run(&[]);
    assert_eq!(code, 0, "a week with findings exits 0");
    assert_eq!(
        fate(job_spec(cron), "access-audit", code.into()),
        Fate::Complete
    );
    let report = report_under(Path::new(&pod.host_path("/reports")));
    assert_eq!(report["complete"], true);
    assert_eq!(
        report["summary"]["failing"], 2,
        "the findings are in the report"
    );
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1, "and in the email");
    let mail = String::from_utf8_lossy(&messages[0].data);
    assert!(mail.contains("2 failing"), "{mail}");

    // Without --fail-on none the same week would fail the Job (exit 3, the ConfigMap's
    // fail_on = "high"). A retry is a new pod, with a new emptyDir.
    let pod = Pod::new(cron, None, &dir.path().join("pod-2"), dir.path(), &files);
    let code = pod.run(&["--fail-on"]);
    assert_eq!(code, 3);
    assert_eq!(
        fate(job_spec(cron), "access-audit", code.into()),
        Fate::FailJob
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn shards_complete_whatever_they_find_and_the_merge_reports_it_all() {
    let api = apis_with_findings().await;
    let smtp = smtp_server::SmtpServer::start(smtp_server::Options::default());
    let files = volume_files(&api.uri(), smtp.port);
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let docs = load_with("indexed-job.yaml", &[("@AS_OF@", &now)]);
    let (shards, merge) = (&docs[0], &docs[1]);
    let dir = tempfile::tempdir().unwrap();
    let n = shards["spec"]["completions"].as_i64().unwrap() as u32;
    for i in 0..n {
        let pod = Pod::new(
            shards,
            Some(i),
            &dir.path().join(format!("shard-pod-{i}")),
            dir.path(),
            &files,
        );
        let code = pod.run(&[]);
        assert_eq!(code, 0, "shard {i}");
        assert_eq!(
            fate(&shards["spec"], "access-audit", code.into()),
            Fate::Complete
        );
    }
    assert!(smtp.messages().is_empty(), "shards do not mail");

    let pod = Pod::new(
        merge,
        None,
        &dir.path().join("merge-pod"),
        dir.path(),
        &files,
    );
    let code = pod.run(&[]);
    assert_eq!(code, 0);
    assert_eq!(
        fate(&merge["spec"], "access-audit", code.into()),
        Fate::Complete
    );
    let merged = common::read_json(
        &Path::new(&pod.host_path(&format!("/shared/{now}"))).join("report.json"),
    );
    assert_eq!(merged["complete"], true);
    assert_eq!(merged["summary"]["scopes"], 3);
    assert_eq!(merged["summary"]["failing"], 2);
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1, "one email, from the merge");
    assert!(String::from_utf8_lossy(&messages[0].data).contains("2 failing"));
}

// ---------------------------------------------------------------------------------------------
// The Dockerfile
// ---------------------------------------------------------------------------------------------

/// Just enough of a Dockerfile parser: continuation lines joined, comments dropped, one
/// `(INSTRUCTION, arguments)` per line, split into stages at each FROM.
mod dockerfile {
    pub struct Stage {
        /// The FROM line's image (or an earlier stage's name).
        pub image: String,
        pub name: Option<String>,
        pub instructions: Vec<(String, String)>,
    }

    pub fn stages(text: &str) -> Vec<Stage> {
        let mut lines = Vec::new();
        let mut current = String::new();
        for line in text.lines() {
            let trimmed = line.trim();
            if trimmed.starts_with('#') {
                continue;
            }
            match trimmed.strip_suffix('\\') {
                Some(part) => {
                    current.push_str(part);
                    current.push(' ');
                }
                None => {
                    current.push_str(trimmed);
                    if !current.trim().is_empty() {
                        lines.push(std::mem::take(&mut current));
                    }
                    current.clear();
                }
            }
        }
        let mut stages: Vec<Stage> = Vec::new();
        for line in lines {
            let (instruction, rest) = line.split_once(' ').unwrap_or((&line, ""));
            let instruction = instruction.to_ascii_uppercase();
            let rest = rest.trim().to_string();
            if instruction == "FROM" {
                let words: Vec<&str> = rest
                    .split_whitespace()
                    .filter(|w| !w.starts_with("--"))
                    .collect();
                stages.push(Stage {
                    image: words[0].to_string(),
                    name: (words.len() == 3 && words[1].eq_ignore_ascii_case("AS"))
                        .then(|| words[2].to_string()),
                    instructions: Vec::new(),
                });
            } else {
                stages
                    .last_mut()
                    .expect("an instruction before FROM")
                    .instructions
                    .push((instruction, rest));
            }
        }
        stages
    }

    /// `key="value" key2="value 2"` of a LABEL.
    pub fn labels(args: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut rest = args.trim();
        while let Some((key, after)) = rest.split_once('=') {
            let after = after.trim_start();
            let (value, next) = match after.strip_prefix('"') {
                Some(quoted) => {
                    let end = quoted.find('"').expect("closing quote");
                    (&quoted[..end], &quoted[end + 1..])
                }
                None => after.split_once(' ').unwrap_or((after, "")),
            };
            out.push((key.trim().to_string(), value.to_string()));
            rest = next.trim_start();
        }
        out
    }
}

#[test]
fn dockerfile_is_pinned_labelled_non_root_and_built_as_the_readme_says() {
    let stages = dockerfile::stages(&read(&example("Dockerfile")));
    assert_eq!(stages.len(), 2, "a build stage and a runtime stage");
    let names: Vec<&str> = stages.iter().filter_map(|s| s.name.as_deref()).collect();
    for stage in &stages {
        if names.contains(&stage.image.as_str()) {
            continue;
        }
        let (reference, digest) = stage
            .image
            .split_once("@sha256:")
            .unwrap_or_else(|| panic!("FROM {} is not pinned by digest", stage.image));
        assert!(
            reference.contains(':'),
            "{reference}: keep the tag for readers"
        );
        assert!(
            digest.len() == 64
                && digest
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{digest}: a sha256 digest"
        );
    }
    assert!(stages[0].image.starts_with("rust:"));
    let build = &stages[0].instructions;
    assert!(
        build
            .iter()
            .any(|(i, v)| i == "RUN" && v.contains("cargo build --release --locked"))
    );
    let runtime = stages.last().unwrap();
    assert!(
        runtime
            .image
            .starts_with("gcr.io/distroless/cc-debian12:nonroot@")
    );

    // Numeric USER, the manifests' runAsUser and runAsGroup (checked against them above).
    let (uid, gid) = image_user();
    assert!(uid > 0 && gid > 0, "not root");

    // OCI labels; the ones that change per build come from build arguments.
    let args: BTreeMap<String, Option<String>> = runtime
        .instructions
        .iter()
        .filter(|(i, _)| i == "ARG")
        .map(|(_, v)| match v.split_once('=') {
            Some((k, d)) => (k.to_string(), Some(d.to_string())),
            None => (v.clone(), None),
        })
        .collect();
    let labels: BTreeMap<String, String> = runtime
        .instructions
        .iter()
        .filter(|(i, _)| i == "LABEL")
        .flat_map(|(_, v)| dockerfile::labels(v))
        .collect();
    let label = |key: &str| {
        labels
            .get(&format!("org.opencontainers.image.{key}"))
            .unwrap_or_else(|| panic!("LABEL org.opencontainers.image.{key}"))
            .as_str()
    };
    assert_eq!(label("title"), "access-audit");
    assert_eq!(label("licenses"), "Apache-2.0", "Cargo.toml's license");
    for (key, arg) in [
        ("version", "VERSION"),
        ("revision", "REVISION"),
        ("created", "CREATED"),
        ("source", "SOURCE"),
    ] {
        assert_eq!(
            label(key),
            format!("${{{arg}}}"),
            "{key} from --build-arg {arg}"
        );
        assert!(args.contains_key(arg), "ARG {arg} in the final stage");
    }
    assert_eq!(
        args["VERSION"].as_deref(),
        Some(env!("CARGO_PKG_VERSION")),
        "the default version is the crate's"
    );

    // The README's build command sets every build argument.
    let readme = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"));
    let start = readme
        .find("docker build -f examples/kubernetes/Dockerfile")
        .expect("the README's docker build command");
    // The command and its continuation lines.
    let mut command = String::new();
    for line in readme[start..].lines() {
        command.push_str(line.trim_end().trim_end_matches('\\'));
        if !line.trim_end().ends_with('\\') {
            break;
        }
    }
    for arg in args.keys() {
        assert!(
            command.contains(&format!("--build-arg {arg}=")),
            "the README's docker build sets {arg}: {command}"
        );
    }
    assert!(
        command.trim_end().ends_with(" ."),
        "built from the repository root"
    );
}
