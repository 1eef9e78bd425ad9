//! The deployment examples hold what the README promises: parse every manifest and check the
//! fields that make the CronJob safe to run unattended, and that the ConfigMap's config is valid.

use std::path::Path;

use yaml_rust2::{Yaml, YamlLoader};

fn load(name: &str) -> Vec<Yaml> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/kubernetes")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn ints(y: &Yaml) -> Vec<i64> {
    y.as_vec()
        .unwrap_or_else(|| panic!("not a list: {y:?}"))
        .iter()
        .filter_map(Yaml::as_i64)
        .collect()
}

/// The action a pod failure policy takes for an exit code, if any rule matches.
fn action_for(policy: &Yaml, code: i64) -> Option<String> {
    policy["rules"].as_vec()?.iter().find_map(|rule| {
        let on = &rule["onExitCodes"];
        (on["operator"].as_str() == Some("In") && ints(&on["values"]).contains(&code))
            .then(|| rule["action"].as_str().unwrap_or_default().to_string())
    })
}

#[test]
fn cronjob_is_safe_to_run_unattended() {
    let docs = load("cronjob.yaml");
    let cron = &docs[0];
    assert_eq!(cron["apiVersion"].as_str(), Some("batch/v1"));
    assert_eq!(cron["kind"].as_str(), Some("CronJob"));
    let spec = &cron["spec"];
    assert_eq!(spec["concurrencyPolicy"].as_str(), Some("Forbid"));
    assert!(
        spec["timeZone"].as_str().is_some_and(|tz| tz.contains('/')),
        "an IANA time zone"
    );
    let job = &spec["jobTemplate"]["spec"];
    let deadline = job["activeDeadlineSeconds"]
        .as_i64()
        .expect("activeDeadlineSeconds");
    let pod = &job["template"]["spec"];
    assert_eq!(
        pod["restartPolicy"].as_str(),
        Some("Never"),
        "podFailurePolicy needs restartPolicy: Never"
    );

    // Not re-run on 1 (config) or 3 (findings: a retry would mail the same report again); re-run on 4.
    let policy = &job["podFailurePolicy"];
    assert_eq!(action_for(policy, 1).as_deref(), Some("FailJob"));
    assert_eq!(action_for(policy, 3).as_deref(), Some("FailJob"));
    assert_eq!(action_for(policy, 4).as_deref(), Some("Count"));
    assert_ne!(action_for(policy, 0).as_deref(), Some("FailJob"));

    let container = &pod["containers"][0];
    assert_eq!(container["name"].as_str(), Some("access-audit"));
    assert_eq!(
        container["securityContext"]["readOnlyRootFilesystem"].as_bool(),
        Some(true)
    );
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    let args: Vec<&str> = container["args"]
        .as_vec()
        .expect("args")
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    // The tool's own deadline ends the run cleanly, with a report, before Kubernetes kills it.
    let tool_deadline = args
        .iter()
        .position(|a| *a == "--deadline")
        .map(|i| args[i + 1])
        .expect("--deadline");
    let tool_secs = humantime_secs(tool_deadline);
    assert!(
        tool_secs < deadline,
        "--deadline {tool_deadline} must be shorter than activeDeadlineSeconds {deadline}"
    );

    // The output directory is a writable emptyDir; config and secrets are read-only mounts.
    let mounts = container["volumeMounts"].as_vec().expect("mounts");
    let volumes = pod["volumes"].as_vec().expect("volumes");
    let volume = |name: &str| {
        volumes
            .iter()
            .find(|v| v["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("volume {name}"))
    };
    let mount_of = |path: &str| {
        mounts
            .iter()
            .find(|m| m["mountPath"].as_str() == Some(path))
            .unwrap_or_else(|| panic!("mount {path}"))
    };
    let reports = mount_of("/reports");
    assert!(!volume(reports["name"].as_str().unwrap())["emptyDir"].is_badvalue());
    let secrets = mount_of("/var/run/secrets/access-audit");
    assert_eq!(secrets["readOnly"].as_bool(), Some(true));
    assert!(!volume(secrets["name"].as_str().unwrap())["secret"]["secretName"].is_badvalue());
    let config = mount_of("/etc/access-audit");
    assert_eq!(
        volume(config["name"].as_str().unwrap())["configMap"]["name"].as_str(),
        Some("access-audit-config")
    );
}

fn humantime_secs(s: &str) -> i64 {
    let (n, unit) = s.split_at(s.len() - 1);
    let n: i64 = n.parse().expect("number");
    match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        other => panic!("unit {other}"),
    }
}

#[test]
fn configmap_holds_a_valid_config_that_reads_secrets_from_the_mount() {
    let docs = load("configmap.yaml");
    let text = docs[0]["data"]["access-audit.toml"]
        .as_str()
        .expect("access-audit.toml in the ConfigMap");
    let config = access_audit::config::Config::parse(
        text,
        Some(Path::new("configmap.yaml#access-audit.toml")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        config.report.output_dir.starts_with("/reports"),
        "reports go to the emptyDir"
    );
    for source in &config.sources {
        match &source.secret {
            Some(access_audit::cfg::SecretRef::File(p)) => {
                assert!(p.starts_with("/var/run/secrets/access-audit"))
            }
            other => panic!(
                "{}: secrets come from the mounted Secret, not {other:?}",
                source.spec.name
            ),
        }
    }
    let keys: Vec<String> = load("secret.example.yaml")[0]["stringData"]
        .as_hash()
        .expect("stringData")
        .keys()
        .filter_map(|k| k.as_str().map(str::to_string))
        .collect();
    for source in &config.sources {
        if let Some(access_audit::cfg::SecretRef::File(p)) = &source.secret {
            let file = p.file_name().unwrap().to_str().unwrap();
            assert!(
                keys.iter().any(|k| k == file),
                "the Secret has a key {file}"
            );
        }
    }
}

#[test]
fn indexed_job_shards_and_merges() {
    let docs = load("indexed-job.yaml");
    let shards = &docs[0];
    assert_eq!(shards["spec"]["completionMode"].as_str(), Some("Indexed"));
    let n = shards["spec"]["completions"].as_i64().unwrap();
    let args: Vec<&str> = shards["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    let shard = args
        .iter()
        .position(|a| *a == "--shard")
        .map(|i| args[i + 1])
        .unwrap();
    assert_eq!(shard, format!("$(SHARD)/{n}"));
    assert!(
        args.contains(&"--as-of"),
        "shards must share one --as-of to be merged"
    );
    let merge = &docs[1];
    let merge_args: Vec<&str> = merge["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert_eq!(merge_args[0], "merge");
    assert_eq!(
        merge_args.iter().filter(|a| a.contains("/shard-")).count() as i64,
        n,
        "merge reads every shard"
    );
}

#[test]
fn dockerfile_is_multi_stage_distroless_and_non_root() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/kubernetes/Dockerfile"),
    )
    .unwrap();
    assert_eq!(text.lines().filter(|l| l.starts_with("FROM ")).count(), 2);
    assert!(text.contains("FROM gcr.io/distroless/cc-debian12:nonroot"));
    assert!(text.contains("USER nonroot"));
    assert!(text.contains("cargo build --release --locked"));
}
