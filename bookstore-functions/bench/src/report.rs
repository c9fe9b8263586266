//! The table, the notes under it, and where they are written.

use std::{fmt::Write as _, path::Path};

use anyhow::Context as _;

/// How a figure compares with its target. Timing never fails the run; only `Broken` does.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// Within the target.
    Met,
    /// Outside the target (the notes say why).
    Missed,
    /// Not measured in this run, and why.
    NotRun(String),
    /// Something is wrong: errors, missing writes, a tool that failed.
    Broken(String),
}

impl Verdict {
    /// `Met` when `ok`, else `Missed`.
    pub fn from_ok(ok: bool) -> Self {
        if ok { Self::Met } else { Self::Missed }
    }

    fn cell(&self) -> String {
        match self {
            Self::Met => "met".to_owned(),
            Self::Missed => "**missed**".to_owned(),
            Self::NotRun(why) => format!("not run: {why}"),
            Self::Broken(why) => format!("**BROKEN**: {why}"),
        }
    }
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// What is measured.
    pub what: String,
    /// The figure.
    pub measured: String,
    /// The floor it is measured against, in the same run (`—` when the issue names none).
    pub baseline: String,
    /// The target and how the figure compares (a ratio where there is one).
    pub target: String,
    /// The outcome.
    pub verdict: Verdict,
}

impl Row {
    /// A row.
    pub fn new(
        what: impl Into<String>,
        measured: impl Into<String>,
        baseline: impl Into<String>,
        target: impl Into<String>,
        verdict: Verdict,
    ) -> Self {
        Self {
            what: what.into(),
            measured: measured.into(),
            baseline: baseline.into(),
            target: target.into(),
            verdict,
        }
    }
}

impl Row {
    /// A row for a measurement that failed: `error`, with its causes, is the verdict.
    pub fn broken(
        what: impl Into<String>,
        target: impl Into<String>,
        error: &anyhow::Error,
    ) -> Self {
        Self::new(
            what,
            "—",
            "—",
            target,
            Verdict::Broken(format!("{error:#}")),
        )
    }
}

/// What one section (cold start, warm latency, …) produced.
#[derive(Debug, Default)]
pub struct Section {
    /// Its rows in the table.
    pub rows: Vec<Row>,
    /// Markdown under its own heading in the notes: method, breakdowns, traces.
    pub notes: String,
}

/// Everything one run produced.
#[derive(Debug, Default)]
pub struct Report {
    /// Markdown: machine, versions, command, date.
    pub header: String,
    /// Sections in table order, with their titles.
    pub sections: Vec<(String, Section)>,
}

impl Report {
    /// Whether any row is broken.
    pub fn broken(&self) -> Vec<String> {
        self.sections
            .iter()
            .flat_map(|(_, s)| &s.rows)
            .filter_map(|r| match &r.verdict {
                Verdict::Broken(why) => Some(format!("{}: {why}", r.what)),
                _ => None,
            })
            .collect()
    }

    /// The table alone.
    pub fn table(&self) -> String {
        let mut out = String::from(
            "| what | measured | baseline in the same run | target (and the ratio it is judged on) | result |\n|---|---|---|---|---|\n",
        );
        for row in self.sections.iter().flat_map(|(_, s)| &s.rows) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                cell(&row.what),
                cell(&row.measured),
                cell(&row.baseline),
                cell(&row.target),
                cell(&row.verdict.cell())
            );
        }
        out
    }

    /// Header, table and every section's notes.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        out.push_str(&self.header);
        out.push('\n');
        out.push_str(&self.table());
        for (title, section) in &self.sections {
            if section.notes.trim().is_empty() {
                continue;
            }
            let _ = write!(out, "\n### {title}\n\n{}\n", section.notes.trim_end());
        }
        out
    }
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', "<br>")
}

/// The markers between which a run is written; the rest of the file is kept.
pub const BEGIN: &str = "<!-- bench:begin: written by the harness (scripts/bench.sh); edits between these markers are lost -->";
/// See [`BEGIN`].
pub const END: &str = "<!-- bench:end -->";

/// Writes `generated` between the markers of `path`, keeping what is around them (a new
/// file gets a title and the markers).
pub fn write_between_markers(path: &Path, generated: &str) -> anyhow::Result<()> {
    let existing = std::fs::read_to_string(path).unwrap_or_default();
    let block = format!("{BEGIN}\n{}\n{END}", generated.trim_end());
    let text = match (existing.find(BEGIN), existing.find(END)) {
        (Some(start), Some(end)) if end > start => {
            format!(
                "{}{block}{}",
                &existing[..start],
                &existing[end + END.len()..]
            )
        }
        _ if existing.trim().is_empty() => format!("# Benchmarks\n\n{block}\n"),
        _ => format!("{}\n\n{block}\n", existing.trim_end()),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
