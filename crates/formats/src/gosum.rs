//! go.sum files: cmd/go/internal/modfetch/fetch.go `readGoSum` (reading) and `tidyGoSum` with
//! x/mod `module.Sort` (writing).
//!
//! Reading, as the go command does:
//!
//! - The file is split at `\n`; each line is split into white-space separated fields (Unicode
//!   white space, so `\r` and tabs are fine). A line with no fields is skipped.
//! - Any other line must have exactly three fields, `path version hash`, else it is malformed
//!   (`go.sum:3: wrong number of fields 2`). Nothing else is checked: neither the path, nor the
//!   version, nor the hash, whose algorithm prefix may be unknown (`h2:`…); only `h1:` hashes are
//!   ever compared by the go command, others are carried along.
//! - A version ending in `/go.mod` is the hash of that version's go.mod file alone.
//! - A line whose hash is the `h1:` of an empty go.mod ([`EMPTY_GO_MOD_HASH`]) is dropped: an old
//!   go command bug wrote those for non-modules.
//!
//! Deviation: the go command stops at the first malformed line (except in `go mod tidy`, which
//! skips them); [`parse`] reports every malformed line.
//!
//! Writing ([`format`]): one `path version[/go.mod] hash` line per distinct hash, sorted by path
//! (byte order), then by version (semver order, invalid versions first), the module's own line
//! before its `/go.mod` line, then by hash. Ties that Go leaves to an unstable sort (versions that
//! differ only in build metadata, or invalid versions) are broken by plain string order.

use std::cmp::Ordering;

use crate::modfile::gotext::{fields, lossy};
use crate::modfile::{ParseError, ParseErrors};
use crate::semver;

/// The `h1:` hash of a module tree holding only an empty go.mod; go.sum lines with it are dropped.
pub const EMPTY_GO_MOD_HASH: &str = "h1:G7mAYYxgmS0lVkHyy2hEOLQCFB0DlQFTMLWggykrydY=";

/// The suffix of a version that names its go.mod file.
const GO_MOD_SUFFIX: &str = "/go.mod";

/// One line of a go.sum file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SumLine {
    /// Module path.
    pub path: String,
    /// Version, without the `/go.mod` suffix.
    pub version: String,
    /// Whether the version had the `/go.mod` suffix (the hash covers the go.mod file only).
    pub go_mod: bool,
    /// The hash, like `h1:…=`; its algorithm is not checked.
    pub hash: String,
    /// 1-based line number in the file it was read from (0 for lines built in memory).
    pub line: usize,
}

impl SumLine {
    /// The version field as written in go.sum (`v1.2.3` or `v1.2.3/go.mod`).
    pub fn version_field(&self) -> String {
        if self.go_mod {
            format!("{}{GO_MOD_SUFFIX}", self.version)
        } else {
            self.version.clone()
        }
    }
}

/// Parses go.sum text as the go command reads it; `file` names it in errors.
pub fn parse(file: &str, data: &[u8]) -> Result<Vec<SumLine>, ParseErrors> {
    let mut out = Vec::new();
    let mut errs = Vec::new();
    // Like Go, a final newline does not start another (empty) line.
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let f = fields(raw);
        if f.is_empty() {
            continue;
        }
        let [path, version, hash] = f.as_slice() else {
            errs.push(ParseError {
                file: file.to_owned(),
                line,
                col: 0,
                msg: format!("wrong number of fields {}", f.len()),
            });
            continue;
        };
        let hash = lossy(hash);
        if hash == EMPTY_GO_MOD_HASH {
            continue;
        }
        let version = lossy(version);
        let (version, go_mod) = match version.strip_suffix(GO_MOD_SUFFIX) {
            Some(v) => (v.to_owned(), true),
            None => (version, false),
        };
        out.push(SumLine {
            path: lossy(path),
            version,
            go_mod,
            hash,
            line,
        });
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(ParseErrors(errs))
    }
}

/// Formats lines as the go command writes go.sum: sorted, one line per distinct
/// (path, version, hash), each ending in `\n`. Line numbers are ignored.
pub fn format(lines: &[SumLine]) -> String {
    let mut rows: Vec<(&str, String, &str)> = lines
        .iter()
        .map(|l| (l.path.as_str(), l.version_field(), l.hash.as_str()))
        .collect();
    rows.sort_by(|a, b| {
        a.0.cmp(b.0)
            .then_with(|| compare_versions(&a.1, &b.1))
            .then_with(|| a.2.cmp(b.2))
    });
    rows.dedup();
    let mut out = String::new();
    for (path, version, hash) in rows {
        out.push_str(path);
        out.push(' ');
        out.push_str(&version);
        out.push(' ');
        out.push_str(hash);
        out.push('\n');
    }
    out
}

/// x/mod `module.Sort`'s version order: the part before the first `/` by semver, then the rest
/// (`""` before `/go.mod`) by string order; semver ties broken by string order.
fn compare_versions(a: &str, b: &str) -> Ordering {
    let (va, fa) = a.split_at(a.find('/').unwrap_or(a.len()));
    let (vb, fb) = b.split_at(b.find('/').unwrap_or(b.len()));
    let by_version = if va == vb {
        Ordering::Equal
    } else {
        semver::compare(va, vb).then_with(|| va.cmp(vb))
    };
    by_version.then_with(|| fa.cmp(fb))
}

#[cfg(test)]
mod tests {
    use super::*;

    const H1: &str = "h1:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=";
    const H2: &str = "h1:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb=";

    fn line(path: &str, version: &str, go_mod: bool, hash: &str) -> SumLine {
        SumLine {
            path: path.into(),
            version: version.into(),
            go_mod,
            hash: hash.into(),
            line: 0,
        }
    }

    #[test]
    fn read_go_sum_splits_three_fields_and_go_mod_suffix() {
        let data = format!(
            "example.com/a v1.0.0 {H1}\nexample.com/a v1.0.0/go.mod {H2}\r\n\n  \t\nexample.com/b\tv0.1.0  {H1}"
        );
        let got = parse("go.sum", data.as_bytes()).unwrap();
        let got: Vec<(&str, &str, bool, usize)> = got
            .iter()
            .map(|l| (l.path.as_str(), l.version.as_str(), l.go_mod, l.line))
            .collect();
        assert_eq!(
            got,
            vec![
                ("example.com/a", "v1.0.0", false, 1),
                ("example.com/a", "v1.0.0", true, 2),
                ("example.com/b", "v0.1.0", false, 5),
            ]
        );
    }

    #[test]
    fn read_go_sum_reports_wrong_number_of_fields_with_line() {
        const CASES: &[(&str, &str)] = &[
            ("a v1.0.0\n", "go.sum:1: wrong number of fields 2"),
            (
                "\na v1.0.0 h1:x= extra\nb\n",
                "go.sum:2: wrong number of fields 4\ngo.sum:3: wrong number of fields 1",
            ),
            ("a v1 h1:x=\nbad", "go.sum:2: wrong number of fields 1"),
        ];
        for &(input, want) in CASES {
            let err = parse("go.sum", input.as_bytes()).unwrap_err();
            assert_eq!(err.to_string(), want, "{input:?}");
        }
    }

    #[test]
    fn read_go_sum_keeps_unknown_hash_algorithms_and_unchecked_fields() {
        let got = parse("go.sum", b"not/a/valid/path@ whatever h9:opaque\n").unwrap();
        assert_eq!(got[0].version, "whatever");
        assert_eq!(got[0].hash, "h9:opaque");
    }

    #[test]
    fn read_go_sum_drops_empty_go_mod_hash() {
        let data = format!("x.com/m v1.0.0/go.mod {EMPTY_GO_MOD_HASH}\nx.com/m v1.0.0 {H1}\n");
        let got = parse("go.sum", data.as_bytes()).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].line, 2);
    }

    #[test]
    fn read_go_sum_accepts_empty_and_blank_files() {
        assert!(parse("go.sum", b"").unwrap().is_empty());
        assert!(parse("go.sum", b"\n\n \r\n").unwrap().is_empty());
    }

    #[test]
    fn tidy_go_sum_sorts_by_path_then_semver_then_go_mod_suffix() {
        let lines = vec![
            line("example.com/b", "v1.0.0", false, H1),
            line("example.com/a", "v1.10.0", true, H1),
            line("example.com/a", "v1.10.0", false, H2),
            line("example.com/a", "v1.10.0", false, H1),
            line("example.com/a", "v1.9.0", false, H1),
            line("example.com/a", "v1.9.0-rc.1", false, H1),
            line("example.com/a", "v1.9.0", false, H1),
            line("example.com/A", "v2.0.0+incompatible", false, H1),
            line("example.com/a", "bogus", false, H1),
        ];
        let want = format!(
            "example.com/A v2.0.0+incompatible {H1}\n\
             example.com/a bogus {H1}\n\
             example.com/a v1.9.0-rc.1 {H1}\n\
             example.com/a v1.9.0 {H1}\n\
             example.com/a v1.10.0 {H1}\n\
             example.com/a v1.10.0 {H2}\n\
             example.com/a v1.10.0/go.mod {H1}\n\
             example.com/b v1.0.0 {H1}\n"
        );
        assert_eq!(format(&lines), want);
    }

    #[test]
    fn tidy_go_sum_round_trips_parse() {
        let text = format!(
            "x.com/m v0.0.0-20200101000000-abcdefabcdef {H1}\nx.com/m v0.0.0-20200101000000-abcdefabcdef/go.mod {H2}\n"
        );
        let parsed = parse("go.sum", text.as_bytes()).unwrap();
        assert_eq!(format(&parsed), text);
    }
}
