//! A report as `schema-admin` prints it for people (without `--json`).

use bookstore_schema::migrate::Rehearsal;

use crate::Report;

/// Renders a report for people (`schema-admin` without `--json`).
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let version = |v: &Option<String>| v.clone().unwrap_or_else(|| "none (empty database)".into());
    out.push_str(&format!(
        "{} on {} (bookstore-schema {})\n",
        report.action,
        report.backend.as_str(),
        report.crate_version
    ));
    if let Some(status) = &report.status {
        out.push_str(&format!(
            "schema version: {} (this crate's head: {})\n",
            version(&status.current_version),
            status.head_version
        ));
        out.push_str("applied:\n");
        if status.applied.is_empty() {
            out.push_str("  none\n");
        }
        for a in &status.applied {
            out.push_str(&format!(
                "  {} {:<40} at {}  took {} ms\n",
                a.version, a.name, a.applied_at, a.duration_ms
            ));
        }
    } else if let Some(plan) = &report.plan {
        out.push_str(&format!(
            "schema version: {}\nplan digest: {} (migrate --expect-digest applies exactly this plan)\n",
            version(&plan.current_version),
            plan.digest
        ));
        if let Some(rehearsal) = &plan.rehearsal {
            render_rehearsal(&mut out, rehearsal);
        }
        for p in &plan.pending {
            let tx = if p.run_in_transaction {
                "in one transaction"
            } else {
                "statement by statement, no transaction"
            };
            out.push_str(&format!(
                "\n-- {} {} ({tx})\n{}\n",
                p.version,
                p.name,
                p.sql.trim_end()
            ));
        }
    } else {
        out.push_str(&format!(
            "schema version: {} -> {}\n",
            version(&report.schema_version_before),
            version(&report.schema_version_after)
        ));
        if let Some(digest) = &report.plan_digest {
            out.push_str(&format!("plan digest: {digest}\n"));
        }
        for s in &report.applied {
            let waited = if s.retries > 0 {
                format!(
                    " ({} retries, {} ms waiting for locks)",
                    s.retries, s.lock_wait_ms
                )
            } else {
                String::new()
            };
            let resumed = match s.statements_skipped {
                0 => String::new(),
                n => format!(" (resumed: {n} statements done by an earlier run)"),
            };
            out.push_str(&format!(
                "  {} {:<40} {} ms{waited}{resumed}\n",
                s.version, s.name, s.duration_ms
            ));
        }
    }
    out.push_str("pending:");
    if report.pending.is_empty() {
        out.push_str(" none\n");
    } else {
        out.push('\n');
        for p in &report.pending {
            out.push_str(&format!("  {} {}\n", p.version, p.name));
        }
    }
    if !report.blocked.is_empty() {
        out.push_str("blocked (contract migrations that wait for live functions):\n");
        for b in &report.blocked {
            let below: Vec<String> = b
                .pinned_below
                .iter()
                .map(|p| {
                    format!(
                        "{} at {} (seen {})",
                        p.function_name, p.crate_version, p.last_seen
                    )
                })
                .collect();
            out.push_str(&format!(
                "  {} {} needs {} or newer; live below it: {}\n",
                b.version,
                b.name,
                b.floor,
                below.join(", ")
            ));
        }
    }
    out.push_str("drift:");
    if report.drift.is_empty() {
        out.push_str(" none\n");
    } else {
        out.push('\n');
        for d in &report.drift {
            out.push_str(&format!(
                "  {}\n",
                serde_json::to_string(d).unwrap_or_default()
            ));
        }
    }
    out
}

/// A rehearsal: per migration its outcome, per statement its time, locks and sizes.
fn render_rehearsal(out: &mut String, rehearsal: &Rehearsal) {
    out.push_str(&format!(
        "rehearsal (rolled back, {} ms):\n",
        rehearsal.duration_ms
    ));
    for m in &rehearsal.migrations {
        out.push_str(&format!(
            "  {} {}: {}\n",
            m.version,
            m.name,
            m.outcome.replace('_', " ")
        ));
        for s in &m.statements {
            let first = s.sql.lines().next().unwrap_or_default();
            let cut: String = first.chars().take(72).collect();
            let more = if cut.len() < s.sql.len() { " …" } else { "" };
            out.push_str(&format!("    {} ms  {cut}{more}\n", s.duration_ms));
            for l in &s.locks {
                let rows = if l.rows_estimate < 0 {
                    "rows unknown".to_owned()
                } else {
                    format!("~{} rows", l.rows_estimate)
                };
                out.push_str(&format!(
                    "      {} on {} {} ({} bytes, {rows})\n",
                    l.mode, l.kind, l.relation, l.bytes
                ));
            }
            if let Some(error) = &s.error {
                out.push_str(&format!("      failed: {error}\n"));
            }
        }
    }
}
