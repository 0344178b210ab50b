//! Findings: what `modferry doctor` and `modferry rehearse` report, and how they are printed.
//!
//! Each finding carries one of a fixed set of codes (documented with examples and fixes in
//! docs/troubleshooting.md, one section per code), a severity, the subject it is about (a
//! module, a variable, a file), what is wrong and why the go command fails, and the fix.

use std::fmt;

use serde::Serialize;

/// Where every code is explained; human output links to `<this>#<code>`.
pub const TROUBLESHOOTING: &str = "docs/troubleshooting.md";

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The go command will fail.
    Error,
    /// Works today, but is fragile or unsafe.
    Warning,
    /// Worth knowing.
    Info,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        })
    }
}

/// The finding codes (their string forms are stable: scripts match on them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code {
    GoproxyOff,
    GoproxyUnreachable,
    GosumdbOff,
    GosumdbUnreachable,
    PrivateModuleSumdb,
    PrivateModuleDirect,
    InsecureTlsWorkaround,
    ModulePathMismatch,
    ReplaceTargetMissing,
    ReplaceAbsolutePath,
    GosumMissing,
    ChecksumMismatch,
    VendorInconsistent,
    ToolchainDownload,
    ModuleNotInMirror,
    GopathMode,
}

impl Code {
    /// Every code, in documentation order.
    #[cfg(test)]
    pub const ALL: &[Code] = &[
        Code::GoproxyOff,
        Code::GoproxyUnreachable,
        Code::GosumdbOff,
        Code::GosumdbUnreachable,
        Code::PrivateModuleSumdb,
        Code::PrivateModuleDirect,
        Code::InsecureTlsWorkaround,
        Code::ModulePathMismatch,
        Code::ReplaceTargetMissing,
        Code::ReplaceAbsolutePath,
        Code::GosumMissing,
        Code::ChecksumMismatch,
        Code::VendorInconsistent,
        Code::ToolchainDownload,
        Code::ModuleNotInMirror,
        Code::GopathMode,
    ];

    /// The stable string form, e.g. `goproxy-off`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::GoproxyOff => "goproxy-off",
            Code::GoproxyUnreachable => "goproxy-unreachable",
            Code::GosumdbOff => "gosumdb-off",
            Code::GosumdbUnreachable => "gosumdb-unreachable",
            Code::PrivateModuleSumdb => "private-module-sumdb",
            Code::PrivateModuleDirect => "private-module-direct",
            Code::InsecureTlsWorkaround => "insecure-tls-workaround",
            Code::ModulePathMismatch => "module-path-mismatch",
            Code::ReplaceTargetMissing => "replace-target-missing",
            Code::ReplaceAbsolutePath => "replace-absolute-path",
            Code::GosumMissing => "gosum-missing",
            Code::ChecksumMismatch => "checksum-mismatch",
            Code::VendorInconsistent => "vendor-inconsistent",
            Code::ToolchainDownload => "toolchain-download",
            Code::ModuleNotInMirror => "module-not-in-mirror",
            Code::GopathMode => "gopath-mode",
        }
    }

    /// The severity findings with this code have.
    pub fn severity(self) -> Severity {
        match self {
            Code::GosumdbOff | Code::InsecureTlsWorkaround | Code::ReplaceAbsolutePath => {
                Severity::Warning
            }
            _ => Severity::Error,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One problem found, with its fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What kind of problem.
    pub code: Code,
    /// How bad it is (follows from the code).
    pub severity: Severity,
    /// What it is about: `module@version`, a variable, a file or a directive.
    pub subject: String,
    /// What is wrong and why the go command fails.
    pub message: String,
    /// The exact command or setting that fixes it.
    pub fix: String,
}

impl Finding {
    /// A finding with the code's severity.
    pub fn new(
        code: Code,
        subject: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding {
            code,
            severity: code.severity(),
            subject: subject.into(),
            message: message.into(),
            fix: fix.into(),
        }
    }
}

/// The `--json` document.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    /// All findings, errors first.
    pub findings: &'a [Finding],
}

/// Sorts findings by severity, then code, then subject, and drops exact duplicates.
pub fn normalize(findings: &mut Vec<Finding>) {
    findings
        .sort_by(|a, b| (a.severity, a.code, &a.subject).cmp(&(b.severity, b.code, &b.subject)));
    findings.dedup();
}

/// Whether any finding is an error.
pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity == Severity::Error)
}

/// Human output: grouped by severity, each with what/why, the fix and the documentation link.
pub fn render_human(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return "no problems found\n".to_string();
    }
    let mut out = String::new();
    for sev in [Severity::Error, Severity::Warning, Severity::Info] {
        let group: Vec<&Finding> = findings.iter().filter(|f| f.severity == sev).collect();
        if group.is_empty() {
            continue;
        }
        let title = match sev {
            Severity::Error => "errors (the go command will fail)",
            Severity::Warning => "warnings",
            Severity::Info => "notes",
        };
        out.push_str(&format!("{} {title}:\n\n", group.len()));
        for f in group {
            out.push_str(&format!("[{}] {}: {}\n", f.code, f.severity, f.subject));
            out.push_str(&format!("  what: {}\n", f.message));
            out.push_str(&format!("  fix:  {}\n", f.fix));
            out.push_str(&format!("  see:  {TROUBLESHOOTING}#{}\n\n", f.code));
        }
    }
    out
}

/// `{"findings":[...]}`.
pub fn render_json(findings: &[Finding]) -> String {
    serde_json::to_string_pretty(&Report { findings }).unwrap_or_else(|_| "{}".into()) + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_documented_kebab_case_names() {
        for c in Code::ALL {
            let s = c.as_str();
            assert!(s.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{s}");
        }
        assert_eq!(Code::ALL.len(), 16);
    }

    #[test]
    fn every_code_has_a_troubleshooting_section() {
        let doc = include_str!("../../../../docs/troubleshooting.md");
        for c in Code::ALL {
            assert!(doc.contains(&format!("\n## {c}\n")), "no section for {c}");
        }
    }

    #[test]
    fn json_has_code_severity_subject_message_fix() {
        let f = vec![Finding::new(Code::GosumdbOff, "GOSUMDB", "m", "x")];
        let v: serde_json::Value = serde_json::from_str(&render_json(&f)).unwrap();
        assert_eq!(v["findings"][0]["code"], "gosumdb-off");
        assert_eq!(v["findings"][0]["severity"], "warning");
        assert_eq!(v["findings"][0]["fix"], "x");
    }

    #[test]
    fn human_output_links_each_code_to_troubleshooting() {
        let f = vec![Finding::new(Code::GopathMode, "GO111MODULE", "m", "x")];
        assert!(render_human(&f).contains("docs/troubleshooting.md#gopath-mode"));
    }
}
