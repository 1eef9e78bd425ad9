#!/usr/bin/env bash
# Whole-process processing benchmark: replay evidence archives of 10k, 100k and 1M accounts
# (Sentry and Sent.dm pages mixed), and issue #16's worst case at 1M (Sent.dm profiles of 1,000
# users in one page, most accounts carrying a finding), to all four reports, next to merely
# parsing the same JSON with serde_json. Then the same 200k archive replayed by access-audit and
# by the plain sequential Python script benches/replay_baseline.py. Prints Markdown tables; peak
# RSS from /usr/bin/time -v.
#
#   bash benches/replay.sh            (archives are generated once under target/bench/)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)"; exit 1; }
cargo build --release --quiet --bin access-audit --example gen_archive --example parse_only
bench=target/bench
mkdir -p "$bench"
as_of=2026-11-20T06:00:00Z

measure() { # command… → "seconds peak_kb"
  local log; log=$(mktemp)
  /usr/bin/time -v "$@" >/dev/null 2>"$log" || true
  local wall rss
  wall=$(grep "Elapsed (wall clock)" "$log" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(grep "Maximum resident set size" "$log" | awk '{print $NF}')
  rm -f "$log"
  echo "$wall $rss"
}

archive() { # accounts, name, gen_archive flags… → the archive's directory (generated once)
  local n=$1 dir="$bench/$2"; shift 2
  [ -f "$dir/manifest.json" ] || ./target/release/examples/gen_archive --accounts "$n" --out "$dir" "$@" 2>/dev/null
  echo "$dir"
}

row() { # label, accounts, name, gen_archive flags…
  local label=$1 n=$2 name=$3; shift 3
  local dir out; dir=$(archive "$n" "$name" "$@"); out="$bench/out-$name"; rm -rf "$out"
  read -r wall rss < <(measure ./target/release/access-audit -qq run --replay "$dir" --as-of "$as_of" --out "$out")
  read -r pwall _ < <(measure ./target/release/examples/parse_only "$dir")
  local size html json ratio findings
  size=$(du -sh "$dir" | cut -f1)
  html=$(du -h "$out/report.html" | cut -f1)
  json=$(du -h "$out/report.json" | cut -f1)
  findings=$(($(wc -l < "$out/findings.csv") - 1))
  ratio=$(awk -v a="$wall" -v b="$pwall" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
  printf "| %s | %s | %s | %.2f s | %d MB | %.2f s | %s× | %s | %s |\n" "$label" "$size" "$findings" "$wall" $((rss / 1024)) "$pwall" "$ratio" "$html" "$json"
}

echo "| accounts | archive | findings | replay → 4 reports | peak RSS | parse only (serde_json) | replay / parse | report.html | report.json |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
row 10000 10000 archive-10000
row 100000 100000 archive-100000
row 1000000 1000000 archive-1000000
row "1000000 worst case" 1000000 archive-1000000-worst --worst-case

echo
echo "| accounts | sequential Python (benches/replay_baseline.py) | access-audit | speed-up |"
echo "| --- | --- | --- | --- |"
dir=$(archive 200000 archive-200000)
rm -rf "$bench/out-py" "$bench/out-200000"
read -r pywall _ < <(measure python3 benches/replay_baseline.py "$dir" "$bench/out-py" "$as_of")
read -r wall _ < <(measure ./target/release/access-audit -qq run --replay "$dir" --as-of "$as_of" --out "$bench/out-200000")
speedup=$(awk -v a="$pywall" -v b="$wall" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')
printf "| 200000 | %.2f s | %.2f s | %s× |\n" "$pywall" "$wall" "$speedup"
