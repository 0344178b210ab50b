//! The outcome of `modferry sync`: a per-module record, a one-screen summary and the `--json`
//! report (schema documented in docs/air-gap.md, "The sync report"), plus the progress bar.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

/// What was needed of a module version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Want {
    /// `.info` and `.mod` only (a go.mod the module graph reads, or a `/go.mod` go.sum line).
    Mod,
    /// `.info`, `.mod` and the zip.
    Zip,
}

/// What happened to a module version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// At least one file was fetched from the upstream and stored.
    Fetched,
    /// Everything needed was already in the store.
    Present,
    /// Something could not be fetched; see `error`.
    Failed,
}

/// One module version in the report.
#[derive(Debug, Clone, Serialize)]
pub struct ModuleReport {
    /// Module path.
    pub module: String,
    /// Version.
    pub version: String,
    /// What was needed.
    pub want: Want,
    /// What happened.
    pub status: Status,
    /// Size of the stored zip, when a zip was wanted and is stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zip_bytes: Option<u64>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An input that could not be used at all (unreadable file, parse error, failed query).
#[derive(Debug, Clone, Serialize)]
pub struct InputError {
    /// The input as given.
    pub input: String,
    /// Why.
    pub error: String,
}

/// Totals.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    /// Module versions considered.
    pub modules: usize,
    /// Of which fetched now.
    pub fetched: usize,
    /// Of which already stored.
    pub present: usize,
    /// Of which failed.
    pub failed: usize,
    /// Inputs that failed as a whole.
    pub input_errors: usize,
    /// Bytes of zips fetched now.
    pub fetched_bytes: u64,
}

/// The whole `--json` report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Version of this report's schema.
    pub schema: u32,
    /// The modferry version that wrote it.
    pub modferry_version: &'static str,
    /// The store, as described by the backend (e.g. `file:///srv/modferry`).
    pub store: String,
    /// The upstream chain.
    pub upstream: String,
    /// Totals.
    pub summary: Totals,
    /// Every module version, sorted by module then version.
    pub modules: Vec<ModuleReport>,
    /// Inputs that failed as a whole.
    pub input_errors: Vec<InputError>,
}

impl Report {
    /// Computes the totals from the records.
    pub fn finish(&mut self) {
        let mut t = Totals {
            modules: self.modules.len(),
            input_errors: self.input_errors.len(),
            ..Totals::default()
        };
        for m in &self.modules {
            match m.status {
                Status::Fetched => {
                    t.fetched += 1;
                    t.fetched_bytes += m.zip_bytes.unwrap_or(0);
                }
                Status::Present => t.present += 1,
                Status::Failed => t.failed += 1,
            }
        }
        self.summary = t;
    }

    /// Whether everything was fetched.
    pub fn ok(&self) -> bool {
        self.summary.failed == 0 && self.summary.input_errors == 0
    }

    /// The human summary: failures first (one line each), then the totals.
    pub fn human(&self) -> String {
        let mut s = String::new();
        for e in &self.input_errors {
            s.push_str(&format!("error: {}: {}\n", e.input, e.error));
        }
        for m in self.modules.iter().filter(|m| m.status == Status::Failed) {
            s.push_str(&format!(
                "failed: {}@{}: {}\n",
                m.module,
                m.version,
                m.error.as_deref().unwrap_or("unknown error")
            ));
        }
        let t = &self.summary;
        s.push_str(&format!(
            "sync: {} module versions: {} fetched ({}), {} already stored, {} failed{}\n",
            t.modules,
            t.fetched,
            human_bytes(t.fetched_bytes),
            t.present,
            t.failed,
            if t.input_errors > 0 {
                format!("; {} inputs failed", t.input_errors)
            } else {
                String::new()
            }
        ));
        s
    }
}

/// `1.5 MiB`-style sizes.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// A progress bar on stderr, hidden when stderr is not a terminal or `hidden` is set.
pub fn progress(len: u64, hidden: bool) -> ProgressBar {
    if hidden || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} modules, {msg}",
    ) {
        pb.set_style(style);
    }
    pb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_print_in_binary_units() {
        let cases: &[(u64, &str)] = &[
            (0, "0 B"),
            (1023, "1023 B"),
            (1536, "1.5 KiB"),
            (3 << 20, "3.0 MiB"),
        ];
        for (n, want) in cases {
            assert_eq!(human_bytes(*n), *want);
        }
    }
}
