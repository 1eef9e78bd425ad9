//! The floor for replay: read every body of an evidence archive and parse it with serde_json
//! into `serde_json::Value`, doing nothing else. The benchmarks compare a full replay to this.
//!
//! cargo run --release --example parse_only -- target/bench/archive-1m

use std::path::PathBuf;
use std::time::Instant;

use access_audit::evidence::Manifest;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir: PathBuf = std::env::args()
        .nth(1)
        .ok_or("usage: parse_only ARCHIVE_DIR")?
        .into();
    let started = Instant::now();
    let manifest: Manifest = serde_json::from_slice(&std::fs::read(dir.join("manifest.json"))?)?;
    let (mut files, mut bytes, mut values) = (0usize, 0usize, 0usize);
    for r in &manifest.responses {
        let Some(file) = &r.file else { continue };
        let body = std::fs::read(dir.join(file))?;
        let value: serde_json::Value = serde_json::from_slice(&body)?;
        files += 1;
        bytes += body.len();
        values += match &value {
            serde_json::Value::Array(a) => a.len(),
            serde_json::Value::Object(o) => o.len(),
            _ => 1,
        };
    }
    println!(
        "parsed {files} files, {:.1} MB, {values} top-level items in {:.2} s",
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
