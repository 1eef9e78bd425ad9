#!/usr/bin/env bash
# Whole-process processing benchmark: replay evidence archives of 10k, 100k and 1M accounts
# (Sentry and Sent.dm pages mixed) to all four reports, next to merely parsing the same JSON
# with serde_json. Prints a Markdown table; peak RSS from /usr/bin/time -v.
#
#   bash benches/replay.sh            (archives are generated once under target/bench/)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)"; exit 1; }
cargo build --release --quiet --bin access-audit --example gen_archive --example parse_only
bench=target/bench
mkdir -p "$bench"

measure() { # label, command… → "seconds peak_kb"
  local log; log=$(mktemp)
  /usr/bin/time -v "$@" >/dev/null 2>"$log" || true
  local wall rss
  wall=$(grep "Elapsed (wall clock)" "$log" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(grep "Maximum resident set size" "$log" | awk '{print $NF}')
  rm -f "$log"
  echo "$wall $rss"
}

echo "| accounts | archive | replay → 4 reports | peak RSS | parse only (serde_json) | replay / parse | report.html | report.json |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for n in 10000 100000 1000000; do
  archive="$bench/archive-$n"
  [ -f "$archive/manifest.json" ] || ./target/release/examples/gen_archive --accounts "$n" --out "$archive" 2>/dev/null
  out="$bench/out-$n"; rm -rf "$out"
  read -r wall rss < <(measure ./target/release/access-audit -qq run --replay "$archive" --as-of 2026-11-20T06:00:00Z --out "$out")
  read -r pwall _ < <(measure ./target/release/examples/parse_only "$archive")
  size=$(du -sh "$archive" | cut -f1)
  html=$(du -h "$out/report.html" | cut -f1)
  json=$(du -h "$out/report.json" | cut -f1)
  ratio=$(awk -v a="$wall" -v b="$pwall" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
  printf "| %s | %s | %.2f s | %d MB | %.2f s | %s× | %s | %s |\n" "$n" "$size" "$wall" $((rss / 1024)) "$pwall" "$ratio" "$html" "$json"
done
