//! `findings.ocsf.jsonl`: the real binary's OCSF output, one line per finding of report.json, every
//! line valid against the vendored OCSF 1.8.0 schema — and the validator shown to refuse what is
//! not.

mod validator;

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use access_audit::{Artifact, Templates, render_bytes};
use serde_json::{Value, json};

use crate::support::common::*;
use crate::support::deliver;
use validator::Schema;

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/ocsf/schema");
    Schema::load(&dir).unwrap_or_else(|e| panic!("the vendored OCSF schema: {e}"))
});

/// `run --replay` of the demo into `out` with `--format json,ocsf`, the `global` options before
/// `run` and the `run` options after it.
fn replay(out: &Path, global: &[&str], run: &[&str]) {
    bin()
        .args(global)
        .args(["run", "--replay", demo().to_str().unwrap()])
        .args(["--as-of", DEMO_AS_OF, "--out", out.to_str().unwrap()])
        .args(["--format", "json,ocsf"])
        .args(run)
        .assert()
        .code(4);
}

/// The lines of a findings.ocsf.jsonl, parsed, after checking the framing: UTF-8, every line
/// compact and `\n`-terminated, none empty.
fn parse_lines(bytes: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(bytes).expect("UTF-8");
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "the last line ends with \\n"
    );
    assert!(!text.contains('\r'));
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let event: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("line {}: {e}: {line}", i + 1));
            assert_eq!(
                serde_json::to_string(&event).unwrap().len(),
                line.len(),
                "line {} is compact",
                i + 1
            );
            event
        })
        .collect()
}

fn read_lines(path: &Path) -> Vec<Value> {
    parse_lines(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// Every line valid, or every error with its line number.
fn assert_valid(events: &[Value]) {
    let errors: Vec<String> = events
        .iter()
        .enumerate()
        .flat_map(|(i, e)| {
            SCHEMA
                .validate(e)
                .into_iter()
                .map(move |err| format!("line {}: {err}", i + 1))
        })
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// report.json's finding ids, in its order.
fn report_ids(out: &Path) -> Vec<String> {
    read_json(&out.join("report.json"))["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["id"].as_str().expect("id").to_string())
        .collect()
}

fn uids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["finding_info"]["uid"].as_str().expect("uid").to_string())
        .collect()
}

#[test]
fn the_demo_writes_one_valid_compliance_finding_per_finding_of_report_json() {
    let dir = tempfile::tempdir().unwrap();
    replay(dir.path(), &[], &[]);
    let ids = report_ids(dir.path());
    let events = read_lines(&dir.path().join("findings.ocsf.jsonl"));
    assert!(ids.len() > 50, "the demo has findings: {}", ids.len());
    assert_eq!(
        uids(&events),
        ids,
        "one line per finding, in report.json's order"
    );
    assert_valid(&events);
    let report = read_json(&dir.path().join("report.json"));
    for e in &events {
        assert_eq!(e["class_uid"], 2003);
        assert_eq!(e["metadata"]["correlation_uid"], report["run"]["run_id"]);
    }
}

/// Suppressed, manual, whole-scope and baseline findings, through the binary: each kind is in
/// the file, and every line is valid.
#[test]
fn suppressed_manual_scope_and_baseline_findings_are_valid_too() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        "[rules.admin_sprawl]\nenabled = true\n\
         [rules.external_domain]\nenabled = true\nallowed_domains = [\"acme.example\"]\n",
    );
    let cfg = cfg.to_str().unwrap();
    let first = dir.path().join("first");
    replay(&first, &["--config", cfg], &[]);
    let out = dir.path().join("second");
    let baseline = first.join("report.json");
    let suppressions: PathBuf = demo().join("../suppressions.toml");
    replay(
        &out,
        &["--config", cfg],
        &[
            "--baseline",
            baseline.to_str().unwrap(),
            "--suppressions",
            suppressions.to_str().unwrap(),
        ],
    );

    let events = read_lines(&out.join("findings.ocsf.jsonl"));
    assert_eq!(uids(&events), report_ids(&out));
    assert_valid(&events);
    let any = |what: &str, test: &dyn Fn(&Value) -> bool| {
        assert!(events.iter().any(test), "no {what} finding in {events:#?}");
    };
    any("suppressed", &|e| {
        e["status_id"] == 3 && e["comment"].is_string()
    });
    any("manual", &|e| e["compliance"]["status_id"] == 2);
    any("whole-scope", &|e| {
        e["resources"][0]["type"] == "sentry.scope"
    });
    any("list parameter", &|e| {
        e["compliance"]["control_parameters"]
            == json!([{"name": "allowed_domains", "values": ["acme.example"]}])
    });
    any("baseline", &|e| {
        e["finding_info"]["first_seen_time"].is_i64() && e["unmapped"]["change"] == "persisting"
    });
}

/// A valid event to break: the first line of the library's sample report.
fn sample_event() -> Value {
    let templates = Templates::load(None).unwrap();
    let bytes = render_bytes(&deliver::report(), Artifact::Ocsf, &templates).unwrap();
    let events = parse_lines(&bytes);
    assert_valid(&events);
    events.into_iter().next().expect("the sample has findings")
}

#[test]
fn the_compiled_class_requires_what_ocsf_documents() {
    assert_eq!(SCHEMA.version, "1.8.0");
    assert_eq!(
        SCHEMA.required(2003),
        Some(
            [
                "activity_id",
                "category_uid",
                "class_uid",
                "compliance",
                "finding_info",
                "metadata",
                "severity_id",
                "time",
                "type_uid",
            ]
            .map(String::from)
            .to_vec()
        )
    );
}

/// Set (`Some`) or remove (`None`) the attribute at a JSON pointer (`/resources/0/name`).
fn change(event: &mut Value, pointer: &str, value: Option<Value>) {
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
    let parent = event.pointer_mut(parent).expect("the parent exists");
    match (parent, value) {
        (Value::Object(map), Some(v)) => drop(map.insert(key.to_string(), v)),
        (Value::Object(map), None) => drop(map.remove(key)),
        (Value::Array(list), Some(v)) => list[key.parse::<usize>().expect("an index")] = v,
        (other, _) => panic!("cannot change {pointer} in {other}"),
    }
}

/// The validator must be able to fail: each change to a valid event is refused, for the reason
/// expected.
#[test]
fn the_validator_refuses_what_the_schema_does_not_allow() {
    let valid = sample_event();
    assert_eq!(SCHEMA.validate(&valid), Vec::<String>::new());

    let set = |pointer, value| vec![(pointer, Some(value))];
    let remove = |pointer| vec![(pointer, None)];
    // (what, the changes: a JSON pointer and its new value or none, the error expected)
    type Changes = Vec<(&'static str, Option<Value>)>;
    let cases: Vec<(&str, Changes, &str)> = vec![
        // Required attributes, at the top and inside objects.
        (
            "no metadata",
            remove("/metadata"),
            "missing required attribute `metadata`",
        ),
        (
            "no compliance",
            remove("/compliance"),
            "missing required attribute `compliance`",
        ),
        (
            "no finding uid",
            remove("/finding_info/uid"),
            "missing required attribute `finding_info.uid`",
        ),
        (
            "no analytic type",
            remove("/finding_info/analytic/type_id"),
            "missing required attribute `finding_info.analytic.type_id`",
        ),
        (
            "no product",
            remove("/metadata/product"),
            "missing required attribute `metadata.product`",
        ),
        // Attributes the class or object does not define.
        (
            "unknown attribute",
            set("/colour", json!("red")),
            "unknown attribute `colour`",
        ),
        (
            "unknown in an object",
            set("/resources/0/colour", json!("red")),
            "unknown attribute `resources[0].colour`",
        ),
        (
            "unknown in a nested object",
            set("/resources/0/owner/password", json!("x")),
            "unknown attribute `resources[0].owner.password`",
        ),
        (
            "a profile not applied",
            set("/impact_score", json!(50)),
            "`impact_score` belongs to profile(s) [\"incident\"]",
        ),
        (
            "an unknown profile",
            set("/metadata/profiles", json!(["nope"])),
            "names `nope`, which is no profile",
        ),
        (
            "an object not vendored",
            set("/device", json!({"hostname": "h"})),
            "`device` is an object `device`, whose schema file is not vendored",
        ),
        // Types.
        (
            "a string for a timestamp",
            set("/time", json!("2026-11-20")),
            "`time` is \"2026-11-20\", not a timestamp_t (long_t)",
        ),
        (
            "a float for an integer",
            set("/severity_id", json!(3.5)),
            "`severity_id` is 3.5, not a integer_t",
        ),
        (
            "an integer beyond 32 bits",
            set("/timezone_offset", json!(1_i64 << 40)),
            "`timezone_offset` is 1099511627776, not a integer_t",
        ),
        (
            "a number for a string",
            set("/finding_info/uid", json!(7)),
            "`finding_info.uid` is 7, not a string_t",
        ),
        (
            "a string for an array",
            set("/compliance/standards", json!("SOC 2")),
            "`compliance.standards` is \"SOC 2\", not an array of string_t",
        ),
        (
            "a number in a string array",
            set("/compliance/requirements", json!(["SOC 2 CC6.1", 6])),
            "`compliance.requirements[1]` is 6, not a string_t",
        ),
        (
            "a string for an object",
            set("/metadata/product", json!("access-audit")),
            "`metadata.product` is \"access-audit\", not an object `product`",
        ),
        (
            "an object for an array",
            set("/resources", valid["resources"][0].clone()),
            "not an array of resource_details",
        ),
        (
            "an address email_t refuses",
            set("/resources/0/owner/email_addr", json!("not an address")),
            "email_t's pattern refuses",
        ),
        (
            "null",
            set("/finding_info/desc", Value::Null),
            "`finding_info.desc` is null",
        ),
        // Enums.
        (
            "a severity out of the enum",
            set("/severity_id", json!(7)),
            "`severity_id` is 7, not one of its enum values",
        ),
        (
            "a compliance status out of the enum",
            set("/compliance/status_id", json!(4)),
            "`compliance.status_id` is 4, not one of its enum values",
        ),
        (
            "an activity out of the enum",
            set("/activity_id", json!(4)),
            "`activity_id` is 4, not one of its enum values",
        ),
        (
            "a resource role out of the enum",
            set("/resources/0/role_id", json!(9)),
            "`resources[0].role_id` is 9, not one of its enum values",
        ),
        (
            "another category",
            set("/category_uid", json!(3)),
            "`category_uid` is 3, not one of its enum values",
        ),
        (
            "a caption that does not match",
            set("/severity", json!("Low")),
            "`severity` is \"Low\", but `severity_id`",
        ),
        // Consistency, versions, constraints, deprecation.
        (
            "a type_uid of another activity",
            set("/type_uid", json!(200302)),
            "`type_uid` is 200302, not class_uid × 100 + activity_id = 200301",
        ),
        (
            "another version",
            set("/metadata/version", json!("1.3.0")),
            "`metadata.version` is 1.3.0, the schema is 1.8.0",
        ),
        (
            "a resource with neither name nor uid",
            vec![("/resources/0/name", None), ("/resources/0/uid", None)],
            "constraint at_least_one of [\"name\", \"uid\"]",
        ),
        (
            "a parameter with neither value nor values",
            set("/compliance/control_parameters", json!([{"name": "days"}])),
            "`compliance.control_parameters[0]` breaks object `key_value_object`'s constraint at_least_one",
        ),
        (
            "a deprecated attribute",
            set("/compliance/compliance_standards", json!(["SOC 2"])),
            "`compliance.compliance_standards` is deprecated",
        ),
        (
            "an unknown class",
            set("/class_uid", json!(2004)),
            "`class_uid` 2004 is no class of this schema",
        ),
    ];
    for (what, changes, expected) in cases {
        let mut event = valid.clone();
        for (pointer, value) in changes {
            change(&mut event, pointer, value);
        }
        let errors = SCHEMA.validate(&event);
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{what}: expected an error containing {expected:?}, got {errors:#?}"
        );
    }
}

/// What the checks above refuse, the right profile or an open object allows.
#[test]
fn the_validator_accepts_what_the_schema_allows() {
    let mut event = sample_event();
    event["impact_score"] = json!(50);
    event["metadata"]["profiles"] = json!(["incident"]);
    event["unmapped"]["anything"] = json!({"nested": [1, "two", null, {"three": 3.0}]});
    event["resources"][0]["data"] = json!(["any", {"json": true}]);
    assert_eq!(SCHEMA.validate(&event), Vec::<String>::new());
}
