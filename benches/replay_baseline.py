#!/usr/bin/env python3
"""The sequential comparison for `benches/replay.sh`: what a plain Python 3 script does with the
same evidence archive, one file after the other on one core.

It reads the manifest, checks each body's SHA-256 as access-audit does, parses the Sentry member
pages and Sent.dm user lists, normalises them into accounts, applies the two rules that fire on
the generated archives (stale_login, admin_without_2fa; defaults 90 and 14 days), sorts the
findings in the report's order, and writes accounts.csv, findings.csv and a report.json with
the same sections. It is a benchmark only: never part of `cargo test` or CI, and not a second
implementation to trust (no pending-invite rules, no HTML, no provenance).

    python3 benches/replay_baseline.py ARCHIVE_DIR OUT_DIR [AS_OF]
"""

import csv
import hashlib
import json
import os
import sys
from datetime import datetime, timedelta, timezone

PRIVILEGED = {"sentry": {"owner", "manager", "admin"}, "sentdm": {"owner", "admin"}}
SEVERITY = {"admin_without_2fa": (4, "critical"), "stale_login": (2, "medium")}
RULE_RANK = {"admin_without_2fa": 0, "stale_login": 1}


def when(text):
    """An RFC 3339 timestamp, or None (Sent.dm writes `+00:00`, Sentry `Z`)."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def sentry_accounts(source_name, scope, members):
    for m in members:
        user = m.get("user") or None
        pending = m.get("pending", user is None)
        status = "active" if not pending else ("expired" if m.get("expired") else "invited")
        role = (m.get("orgRole") or m.get("role") or "").strip().lower() or None
        login = when(user.get("lastLogin")) if user else None
        active = when(user.get("lastActive")) if user else None
        yield {
            "source": "sentry", "source_name": source_name, "scope": scope,
            "account_id": m.get("id") or "unknown", "user_id": user.get("id") if user else None,
            "email": m.get("email") or (user or {}).get("email"),
            "name": m.get("name") or (user or {}).get("name"), "role": role,
            "privileged": role in PRIVILEGED["sentry"], "status": status,
            "mfa": user.get("has2fa") if user else None,
            "last_login_at": login, "last_active_at": active,
            "last_seen_at": max([t for t in (login, active) if t], default=None),
            "invited_at": None, "created_at": when(m.get("dateCreated")),
        }


def sentdm_accounts(source_name, scope, users):
    for u in users:
        role = (u.get("role") or "").strip().lower() or None
        login = when(u.get("last_login_at"))
        yield {
            "source": "sentdm", "source_name": source_name, "scope": scope,
            "account_id": u.get("id") or "unknown", "user_id": None, "email": u.get("email"),
            "name": u.get("name"), "role": role, "privileged": role in PRIVILEGED["sentdm"],
            "status": (u.get("status") or "unknown").lower(), "mfa": None,
            "last_login_at": login, "last_active_at": None, "last_seen_at": login,
            "invited_at": when(u.get("invited_at")), "created_at": when(u.get("created_at")),
        }


def read_accounts(archive):
    with open(os.path.join(archive, "manifest.json"), "rb") as f:
        manifest = json.load(f)
    accounts = []
    for r in manifest["responses"]:
        if not r.get("file") or r.get("status") != 200:
            continue
        with open(os.path.join(archive, r["file"]), "rb") as f:
            body = f.read()
        if hashlib.sha256(body).hexdigest() != r["sha256"]:
            sys.exit(f"{r['file']}: SHA-256 differs from the manifest")
        page = json.loads(body)
        if r["endpoint"] == "sentry.members" and isinstance(page, list):
            accounts.extend(sentry_accounts(r["source_name"], r["scope"], page))
        elif r["endpoint"] == "sentdm.users" and isinstance(page, dict):
            users = (page.get("data") or {}).get("users") or []
            accounts.extend(sentdm_accounts(r["source_name"], r["scope"], users))
    return accounts


def findings_of(accounts, as_of):
    stale, grace = as_of - timedelta(days=90), as_of - timedelta(days=14)
    for a in accounts:
        if a["status"] != "active":
            continue
        if a["privileged"] and a["mfa"] is False:
            yield finding("admin_without_2fa", a, f"{a['role']} without two-factor authentication")
        seen = a["last_seen_at"]
        if seen is not None and seen < stale:
            yield finding("stale_login", a, f"last seen {seen.date()}, {(as_of - seen).days} days before {as_of.date()} (limit 90 days)")
        elif seen is None and (a["created_at"] is None or a["created_at"] < grace):
            yield finding("stale_login", a, "never logged in")


def finding(rule, account, detail):
    key = f"{rule}|{account['source_name']}|{account['scope']}|{account['account_id']}"
    return {"id": hashlib.sha256(key.encode()).hexdigest()[:16], "rule": rule,
            "severity": SEVERITY[rule][1], "outcome": "fail", "account": account, "detail": detail}


def order(f):
    a = f["account"]
    seen = a["last_seen_at"]
    return (-SEVERITY[f["rule"]][0], RULE_RANK[f["rule"]], seen is not None, seen or datetime.min.replace(tzinfo=timezone.utc),
            a["source_name"], a["scope"], a["email"] is not None, a["email"] or "", a["account_id"])


def text(v):
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return v


COLUMNS = ["source", "source_name", "scope", "account_id", "user_id", "email", "name", "role",
           "privileged", "status", "mfa", "last_login_at", "last_active_at", "last_seen_at",
           "invited_at", "created_at"]


def write(out, accounts, findings, as_of):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "accounts.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for a in accounts:
            w.writerow([text(a[c]) for c in COLUMNS])
    with open(os.path.join(out, "findings.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "rule", "severity", "outcome", "source_name", "scope", "account_id", "email", "detail"])
        for x in findings:
            a = x["account"]
            w.writerow([x["id"], x["rule"], x["severity"], x["outcome"], a["source_name"], a["scope"], a["account_id"], a["email"], x["detail"]])
    report = {"schema_version": 1, "as_of": text(as_of),
              "summary": {"accounts": len(accounts), "findings": len(findings)},
              "findings": [{"id": x["id"], "rule": x["rule"], "severity": x["severity"], "outcome": x["outcome"],
                            "detail": x["detail"], **{k: text(v) for k, v in x["account"].items()}} for x in findings],
              "accounts": [{k: text(v) for k, v in a.items()} for a in accounts]}
    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump(report, f, separators=(",", ":"))
        f.write("\n")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    as_of = when(sys.argv[3] if len(sys.argv) > 3 else "2026-11-20T06:00:00Z")
    accounts = read_accounts(sys.argv[1])
    findings = sorted(findings_of(accounts, as_of), key=order)
    write(sys.argv[2], accounts, findings, as_of)
    print(f"{len(accounts)} accounts, {len(findings)} findings", file=sys.stderr)


if __name__ == "__main__":
    main()
