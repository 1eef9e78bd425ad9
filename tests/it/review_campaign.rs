//! The access review end to end through the real binary: a replayed demo run → `review start`
//! with two reviewers → each worksheet filled in as a reviewer would → `review collect` →
//! `review status` (3 while rows are outstanding, 0 when all are decided); and every kind of
//! tampered or mistaken worksheet refused with its file, sheet, row and column.
//!
//! The workbook is filled by editing the cells in its sheet XML inside the zip, as Excel does
//! when a person types in a cell: everything else — the hidden `_review` sheet, the protection,
//! the list validation, the styles — stays byte for byte as `review start` wrote it. Rewriting
//! it with rust_xlsxwriter would test our writer against itself and drop what we did not copy.
//! The CSV is filled by rewriting its decision columns, as a spreadsheet saving a CSV would.

use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

use calamine::{Reader, Xlsx};

use crate::support::common::*;

pub(crate) const ENG: &str = "eng@acme.example";
pub(crate) const SEC: &str = "security@acme.example";

fn config(dir: &Path, default_reviewer: &str) -> PathBuf {
    write_config(
        dir,
        &format!(
            "[review]\ndefault_reviewer = \"{default_reviewer}\"\nledger_dir = \"{}\"\n\
             [[review.reviewers]]\nemail = \"{ENG}\"\nscopes = [\"sentdm/*\"]\n",
            dir.join("ledger").display()
        ),
    )
}

/// A replayed demo run in `dir/run` (incomplete: two scopes fail) and its config.
fn demo_run(dir: &Path) -> (PathBuf, PathBuf) {
    let run = dir.join("run");
    replay_demo(&run, &[]).code(4);
    (run, config(dir, SEC))
}

/// A copy of a run's report.json in a new run folder.
fn copy_run(run: &Path, to: &Path) -> PathBuf {
    std::fs::create_dir_all(to).unwrap();
    std::fs::copy(run.join("report.json"), to.join("report.json")).unwrap();
    to.to_path_buf()
}

pub(crate) fn review(config: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
    bin()
        .args(["--config", config.to_str().unwrap(), "review"])
        .args(args)
        .assert()
}

fn start(config: &Path, run: &Path) {
    review(
        config,
        &["start", run.to_str().unwrap(), "--allow-incomplete"],
    )
    .code(0);
}

pub(crate) fn worksheet(run: &Path, reviewer: &str, ext: &str) -> PathBuf {
    run.join(format!("review/worksheets/{reviewer}.{ext}"))
}

pub(crate) fn stderr(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

/// The rows of a worksheet's `Review` sheet: (Excel row, row key, email, recommended).
fn rows(path: &Path) -> Vec<(usize, String, String, String)> {
    let mut book: Xlsx<_> = calamine::open_workbook(path).unwrap();
    let range = book.worksheet_range("Review").unwrap();
    range
        .rows()
        .enumerate()
        .skip(1)
        .map(|(i, r)| (i + 1, r[0].to_string(), r[2].to_string(), r[11].to_string()))
        .collect()
}

/// Type `text` into the cells of sheet 1 (`Review`), as Excel would save them.
fn fill(path: &Path, cells: &[(String, String)]) {
    let bytes = std::fs::read(path).unwrap();
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).unwrap();
        let name = entry.name().unwrap().to_string();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if name == "xl/worksheets/sheet1.xml" {
            let mut xml = String::from_utf8(data).unwrap();
            for (cell, text) in cells {
                xml = set_cell(&xml, cell, text);
            }
            data = xml.into_bytes();
        }
        out.start_file(name, options).unwrap();
        out.write_all(&data).unwrap();
    }
    std::fs::write(path, out.finish().unwrap().into_inner()).unwrap();
}

/// The cell `reference` (`M2`) as an inline string, its style kept.
fn set_cell(xml: &str, reference: &str, text: &str) -> String {
    let pattern = format!(r#"<c r="{reference}"( s="\d+")?( t="\w+")?(/>|>.*?</c>)"#);
    let re = regex::Regex::new(&pattern).unwrap();
    assert!(re.is_match(xml), "cell {reference} in the sheet");
    let escaped = text.replace('&', "&amp;").replace('<', "&lt;");
    re.replace(xml, |c: &regex::Captures<'_>| {
        let style = c.get(1).map_or("", |m| m.as_str());
        format!(r#"<c r="{reference}"{style} t="inlineStr"><is><t>{escaped}</t></is></c>"#)
    })
    .into_owned()
}

fn decide(row: usize, decision: &str, new_role: &str, why: &str) -> Vec<(String, String)> {
    let mut cells = vec![(format!("M{row}"), decision.to_string())];
    if !new_role.is_empty() {
        cells.push((format!("N{row}"), new_role.to_string()));
    }
    if !why.is_empty() {
        cells.push((format!("O{row}"), why.to_string()));
    }
    cells
}

/// Every row of the CSV worksheet decided `revoke`.
pub(crate) fn revoke_all_csv(path: &Path) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .unwrap();
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let mut out = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    for (i, r) in records.iter().enumerate() {
        let mut cells: Vec<String> = r.iter().map(str::to_string).collect();
        if i >= 2 {
            cells[12] = "revoke".into();
        }
        out.write_record(&cells).unwrap();
    }
    std::fs::write(path, out.into_inner().unwrap()).unwrap();
}

#[test]
fn start_collect_status_until_every_account_is_decided() {
    let dir = tempfile::tempdir().unwrap();
    let (run, config) = demo_run(dir.path());
    let refused = review(&config, &["start", run.to_str().unwrap()]).code(1);
    assert!(
        stderr(&refused).contains("--allow-incomplete"),
        "{}",
        stderr(&refused)
    );
    start(&config, &run);
    let again = review(
        &config,
        &["start", run.to_str().unwrap(), "--allow-incomplete"],
    )
    .code(1);
    assert!(
        stderr(&again).contains("to start over, remove"),
        "{}",
        stderr(&again)
    );

    let state = read_json(&run.join("review/state.json"));
    assert_eq!(state["reviewers"][ENG].as_array().unwrap().len(), 19);
    assert_eq!(state["reviewers"][SEC].as_array().unwrap().len(), 283);
    assert_eq!(state["missing_scopes"].as_array().unwrap().len(), 2);

    scopes_are_named_where_the_run_knew_their_name(&run);

    // eng@ decides in Excel: keep with a reason, one role change, revoke the rest.
    let eng = worksheet(&run, ENG, "xlsx");
    let eng_rows = rows(&eng);
    assert_eq!(eng_rows.len(), 19);
    // The first failing row after those is kept: an exception, with its justification.
    let excepted = eng_rows
        .iter()
        .find(|r| r.0 > 4 && r.3 == "revoke")
        .expect("a failing row of eng@")
        .0;
    let mut cells = Vec::new();
    for (n, _, _, recommended) in &eng_rows {
        cells.extend(match (*n, recommended.as_str()) {
            (2, _) => decide(2, "keep", "", "on call, approved by the CISO"),
            (3, _) => decide(3, "change_role", "member", "left the platform team"),
            (n, _) if n == excepted => decide(n, "keep", "", "break-glass <account> & sealed"),
            _ => decide(*n, "revoke", "", ""),
        });
    }
    fill(&eng, &cells);
    review(
        &config,
        &["collect", run.to_str().unwrap(), eng.to_str().unwrap()],
    )
    .code(0);
    let status = review(&config, &["status", run.to_str().unwrap()]).code(3);
    let table = String::from_utf8_lossy(&status.get_output().stdout).into_owned();
    assert!(table.contains("283 outstanding"), "{table}");

    // Not signed off while rows are outstanding: the refusal says which.
    let early = sign_off(&config, &run, &[]).code(1);
    let said = stderr(&early);
    for s in [
        "283 rows not decided yet",
        &format!("{SEC}: 283 undecided"),
        "… and 263 more",
    ] {
        assert!(said.contains(s), "{s}\nin\n{said}");
    }
    assert!(!said.contains(&format!("{ENG}:")), "{said}");

    // Returned again with one decision changed: the newer one wins and the change is noted.
    fill(&eng, &decide(4, "keep", "", "needed for the migration"));
    let again = review(
        &config,
        &["collect", run.to_str().unwrap(), eng.to_str().unwrap()],
    )
    .code(0);
    let said = String::from_utf8_lossy(&again.get_output().stdout).into_owned();
    assert!(said.contains("revoke → keep"), "{said}");

    // security@ returns the CSV.
    let sec = worksheet(&run, SEC, "csv");
    revoke_all_csv(&sec);
    review(
        &config,
        &["collect", run.to_str().unwrap(), sec.to_str().unwrap()],
    )
    .code(0);
    review(&config, &["status", run.to_str().unwrap()]).code(0);

    let state = read_json(&run.join("review/state.json"));
    assert_eq!(state["decisions"].as_object().unwrap().len(), 302);
    let key = &eng_rows[1].1;
    assert_eq!(state["decisions"][key]["decision"], "change_role");
    assert_eq!(state["decisions"][key]["new_role"], "member");
    assert_eq!(state["superseded"].as_array().unwrap().len(), 1);

    // Every step is in the ledger, whose chain and references verify.
    let ledger = std::fs::read_to_string(dir.path().join("ledger/ledger.jsonl")).unwrap();
    let kinds: Vec<String> = ledger
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["kind"].to_string())
        .collect();
    assert_eq!(
        kinds,
        [
            "\"review_start\"",
            "\"review_collect\"",
            "\"review_collect\"",
            "\"review_collect\""
        ]
    );
    bin()
        .args(["--config", config.to_str().unwrap(), "ledger", "verify"])
        .assert()
        .code(0);

    signed_off_once(&run, &config, dir.path());
}

/// A Sent.dm profile reads "Marketing (3f2b…)" in the worksheets (xlsx and CSV); its row key
/// keeps the id alone, and a scope without a name (the organization) shows its id.
fn scopes_are_named_where_the_run_knew_their_name(run: &Path) {
    const PROFILE: &str = "3f2b8c1e-7a4d-4e59-9b1a-2c6d8e0f4a71";
    let mut book: Xlsx<_> = calamine::open_workbook(worksheet(run, ENG, "xlsx")).unwrap();
    let range = book.worksheet_range("Review").unwrap();
    let scopes: Vec<(String, String)> = range
        .rows()
        .skip(1)
        .map(|r| (r[0].to_string(), r[4].to_string()))
        .collect();
    let named = scopes
        .iter()
        .find(|(key, _)| key.starts_with(&format!("sentdm/{PROFILE}/")))
        .expect("a row of the Marketing profile");
    assert_eq!(named.1, format!("Marketing ({PROFILE})"));
    assert!(
        scopes.iter().any(|(_, s)| s == "organization"),
        "{scopes:?}"
    );
    let csv = std::fs::read_to_string(worksheet(run, ENG, "csv")).unwrap();
    assert!(csv.contains(&format!(",Marketing ({PROFILE}),")), "{csv}");
}

fn sign_off(config: &Path, run: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    let mut args = vec![
        "sign-off",
        run.to_str().unwrap(),
        "--by",
        SIGNER,
        "--statement",
        "I have reviewed every account <and> its decision.",
    ];
    args.extend_from_slice(extra);
    review(config, &args)
}

const SIGNER: &str = "Ada Lovelace <ada@acme.example>";

fn sha256_of(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

/// Every row decided: signed off once — review.html with the sign-off block, the digests of the
/// files it names, a ledger record that verifies — and never again.
fn signed_off_once(run: &Path, config: &Path, dir: &Path) {
    let bad = review(
        config,
        &[
            "sign-off",
            run.to_str().unwrap(),
            "--by",
            "ada@acme.example",
        ],
    )
    .code(1);
    assert!(stderr(&bad).contains("has no name"), "{}", stderr(&bad));

    let until = (chrono::Utc::now().date_naive() + chrono::Days::new(30)).to_string();
    sign_off(config, run, &["--suppress-kept-until", &until]).code(0);
    let html = std::fs::read_to_string(run.join("review/review.html")).unwrap();
    assert!(
        html.contains("Ada Lovelace &lt;ada@acme.example&gt;"),
        "{html}"
    );
    assert!(html.contains("I have reviewed every account &lt;and&gt; its decision."));
    assert!(html.contains(&sha256_of(&run.join("report.json"))));
    assert!(html.contains(&sha256_of(&run.join("review/decisions.json"))));
    let report = read_json(&run.join("report.json"));
    match report["run"]["evidence_manifest_sha256"].as_str() {
        Some(manifest) => assert!(html.contains(manifest)),
        None => assert!(html.contains("none: the run kept no evidence archive")),
    }
    let exceptions = html.split("<h2>Exceptions</h2>").nth(1).unwrap();
    let exceptions = exceptions.split("<h2>").next().unwrap();
    assert!(
        exceptions.contains("break-glass &lt;account&gt; &amp; sealed"),
        "{exceptions}"
    );
    assert!(html.contains("left the platform team"));
    assert!(!html.contains("<script"));
    let csv = std::fs::read_to_string(run.join("review/decisions.csv")).unwrap();
    assert_eq!(csv.lines().count(), 303);
    decisions_xlsx_matches_the_csv(run, &csv);
    let state = read_json(&run.join("review/state.json"));
    assert_eq!(state["signed_off"]["by"], SIGNER);
    assert_eq!(
        state["signed_off"]["decisions_sha256"],
        sha256_of(&run.join("review/decisions.json"))
    );

    let ledger = std::fs::read_to_string(dir.join("ledger/ledger.jsonl")).unwrap();
    let last = ledger.lines().last().unwrap();
    let last: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(last["kind"], "review_sign_off");
    bin()
        .args(["--config", config.to_str().unwrap(), "ledger", "verify"])
        .assert()
        .code(0);
    period_pack_shows_the_review(config, dir);

    suppressions_load_in_the_next_run(run, dir);

    let again = sign_off(config, run, &[]).code(1);
    assert!(
        stderr(&again).contains(&format!("already signed off by {SIGNER} at ")),
        "{}",
        stderr(&again)
    );
}

/// review/decisions.xlsx read back: the CSV's rows (text as strings, decided_at a real date
/// equal to the CSV's instant), a frozen bold header with an autofilter, and the Sign-off sheet.
fn decisions_xlsx_matches_the_csv(run: &Path, csv: &str) {
    use calamine::{Data, DataType};
    let path = run.join("review/decisions.xlsx");
    let mut book: Xlsx<_> = calamine::open_workbook(&path).unwrap();
    let sheet = book.worksheet_range("Decisions").unwrap();
    let mut reader = ::csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let first: Vec<String> = sheet
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(first, header);
    let records: Vec<::csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(sheet.height(), records.len() + 1);
    for (row, record) in sheet.rows().skip(1).zip(&records) {
        for c in 0..7 {
            let cell = &row[c];
            assert!(matches!(cell, Data::String(_) | Data::Empty), "{cell:?}");
            // The CSV neutralises formula-like text with a leading `'`; the workbook need not.
            let text = record[c].strip_prefix('\'').unwrap_or(&record[c]);
            assert_eq!(cell.to_string(), text, "column {c}");
        }
        let at = row[7].as_datetime().expect("decided_at is an Excel date");
        let want = chrono::DateTime::parse_from_rfc3339(&record[7]).unwrap();
        assert_eq!(at.and_utc().timestamp(), want.timestamp());
    }
    let sign = book.worksheet_range("Sign-off").unwrap();
    let cells: Vec<String> = sign.rows().map(|r| r[1].to_string()).collect();
    assert_eq!(cells[0], SIGNER);
    assert!(sign.get((1, 1)).unwrap().is_datetime());
    assert!(cells.contains(&sha256_of(&run.join("review/decisions.json"))));
    assert!(cells.contains(&sha256_of(&run.join("report.json"))));
    // The header frozen, bold, filtered: in the sheet's XML (calamine does not read styles).
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
    let mut xml = String::new();
    zip.by_name("xl/worksheets/sheet1.xml")
        .unwrap()
        .read_to_string(&mut xml)
        .unwrap();
    assert!(xml.contains("<pane ySplit=\"1\""), "{xml}");
    assert!(xml.contains("<autoFilter ref=\"A1:H303\""), "{xml}");
}

/// review/suppressions.toml loads with `run --suppressions`, and suppresses the exception.
fn suppressions_load_in_the_next_run(run: &Path, dir: &Path) {
    let file = run.join("review/suppressions.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("[[suppress]]"), "{text}");
    assert!(text.contains("break-glass <account> & sealed"), "{text}");
    assert!(text.contains(&format!("owner = \"{ENG}\"")), "{text}");
    let next = dir.join("next");
    replay_demo(&next, &["--suppressions", file.to_str().unwrap()]).code(4);
    let suppressed = |report: &Path| {
        read_json(report)["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["suppressed"] == true)
            .count()
    };
    assert!(
        suppressed(&next.join("report.json")) > suppressed(&run.join("report.json")),
        "the kept exception is suppressed in the next run"
    );
}

#[test]
fn a_report_changed_since_the_start_is_not_signed_off() {
    let dir = tempfile::tempdir().unwrap();
    let (run, config) = demo_run(dir.path());
    start(&config, &run);
    let mut report = std::fs::read(run.join("report.json")).unwrap();
    report.extend_from_slice(b"\n");
    std::fs::write(run.join("report.json"), report).unwrap();
    let a = sign_off(&config, &run, &[]).code(1);
    assert!(
        stderr(&a).contains("changed since review"),
        "{}",
        stderr(&a)
    );
    assert!(!run.join("review/review.html").exists());
}

/// `collect` of a worksheet filled with `cells` fails (exit 1) saying each of `says`.
fn refused(run: &Path, config: &Path, file: &Path, says: &[&str]) {
    let a = review(
        config,
        &["collect", run.to_str().unwrap(), file.to_str().unwrap()],
    )
    .code(1);
    let text = stderr(&a);
    for s in says {
        assert!(text.contains(s), "{s}\nin\n{text}");
    }
    assert!(text.contains(&file.display().to_string()), "{text}");
}

#[test]
fn tampered_and_mistaken_worksheets_are_refused_where_they_are_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let (run, config) = demo_run(dir.path());
    start(&config, &run);
    let sec_rows = rows(&worksheet(&run, SEC, "xlsx"));
    let failing = sec_rows.iter().find(|r| r.3 == "revoke").unwrap().0;
    let clean = sec_rows.iter().find(|r| r.3 == "keep").unwrap().0;
    let copy = |name: &str, cells: &[(String, String)]| {
        let path = dir.path().join(name);
        std::fs::copy(worksheet(&run, SEC, "xlsx"), &path).unwrap();
        fill(&path, cells);
        path
    };

    let edited = copy(
        "edited.xlsx",
        &[("C2".into(), "someone@evil.example".into())],
    );
    refused(
        &run,
        &config,
        &edited,
        &["sheet Review, row 2, column C (email): changed from"],
    );

    let keep = copy("keep.xlsx", &decide(failing, "keep", "", ""));
    let at = format!("sheet Review, row {failing}, column O (justification)");
    refused(&run, &config, &keep, &[&at, "needs a justification"]);

    let invalid = copy("invalid.xlsx", &decide(clean, "delete", "", ""));
    let at = format!("sheet Review, row {clean}, column M (decision): `delete` is not a decision");
    refused(&run, &config, &invalid, &[&at]);

    // Several mistakes at once: all of them are listed, and nothing is collected.
    let mut both = decide(clean, "delete", "", "");
    both.extend(decide(failing, "keep", "", ""));
    let many = copy("many.xlsx", &both);
    refused(
        &run,
        &config,
        &many,
        &["2 problems", "nothing was collected"],
    );
    assert_eq!(
        read_json(&run.join("review/state.json"))["decisions"],
        serde_json::json!({})
    );

    // A worksheet of another review of the same report.
    let other = copy_run(&run, &dir.path().join("other"));
    start(&config, &other);
    let foreign = worksheet(&other, SEC, "xlsx");
    refused(
        &run,
        &config,
        &foreign,
        &["sheet _review, row 1, column B (review_id): this worksheet belongs to another review"],
    );
}

#[test]
fn a_reviewer_cannot_decide_their_own_account() {
    let dir = tempfile::tempdir().unwrap();
    let (run, _) = demo_run(dir.path());
    let rows0 = {
        let c = config(dir.path(), SEC);
        let probe = copy_run(&run, &dir.path().join("probe"));
        start(&c, &probe);
        rows(&worksheet(&probe, SEC, "xlsx"))
    };
    // The default reviewer is now someone whose own account is under review.
    let me = rows0
        .iter()
        .find(|r| r.2.ends_with("@acme.example"))
        .unwrap()
        .2
        .clone();
    // With a second reviewer configured, the account goes to them, never to its holder.
    let routed = copy_run(&run, &dir.path().join("routed"));
    start(&config(dir.path(), &me), &routed);
    let key_of = |rows: &[(usize, String, String, String)], email: &str| {
        rows.iter().find(|r| r.2 == email).map(|r| r.1.clone())
    };
    assert_eq!(key_of(&rows(&worksheet(&routed, &me, "xlsx")), &me), None);
    assert!(key_of(&rows(&worksheet(&routed, ENG, "xlsx")), &me).is_some());
    // With nobody else to review it, the row stays with its holder, who cannot decide it.
    let config = write_config(
        dir.path(),
        &format!(
            "[review]\ndefault_reviewer = \"{me}\"\nledger_dir = \"{}\"\n",
            dir.path().join("ledger").display()
        ),
    );
    start(&config, &run);
    let mine = rows(&worksheet(&run, &me, "xlsx"));
    let own = mine.iter().find(|r| r.2 == me).unwrap().0;
    let path = worksheet(&run, &me, "xlsx");
    fill(&path, &decide(own, "revoke", "", ""));
    let at = format!("sheet Review, row {own}, column M (decision): this is {me}'s own account");
    refused(
        &run,
        &config,
        &path,
        &[&at, "a second reviewer must decide it"],
    );
    let status = review(&config, &["status", run.to_str().unwrap()]).code(3);
    let table = String::from_utf8_lossy(&status.get_output().stdout).into_owned();
    assert!(table.contains("own account"), "{table}");
}

#[test]
fn review_needs_the_review_section() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let a = review(&config, &["status", dir.path().to_str().unwrap()]).code(1);
    assert!(
        stderr(&a).contains("has no [review] section"),
        "{}",
        stderr(&a)
    );
}

/// The period's evidence pack, the end of the walk: the review started, collected and signed
/// off today, and the cadence met by that sign-off.
fn period_pack_shows_the_review(config: &Path, dir: &Path) {
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let pack = dir.join("pack");
    bin()
        .args(["--config", config.to_str().unwrap(), "ledger", "report"])
        .args([
            "--from",
            &today,
            "--to",
            &today,
            "--out",
            pack.to_str().unwrap(),
        ])
        .assert()
        .code(0);
    let report = read_json(&pack.join("ledger-report.json"));
    let review = &report["reviews"][0];
    assert!(review["started"].is_string(), "{report}");
    assert_eq!(review["collected"].as_array().unwrap().len(), 3, "{report}");
    assert!(review["signed_off"].is_string(), "{report}");
    assert_eq!(report["chain"]["ok"], true);
    let html = std::fs::read_to_string(pack.join("ledger-report.html")).unwrap();
    assert!(html.contains("Review cadence"), "{html}");
}
