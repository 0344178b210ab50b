//! Semantic versions in Go's dialect: golang.org/x/mod `semver/semver.go`.
//!
//! The accepted form is `vMAJOR[.MINOR[.PATCH[-PRERELEASE][+BUILD]]]`:
//! - the leading `v` is required;
//! - MAJOR, MINOR and PATCH are decimal numbers of any length, without leading zeros (`0` itself
//!   is fine);
//! - PRERELEASE and BUILD are non-empty lists of non-empty dot-separated identifiers made of ASCII
//!   letters, digits and `-`; a PRERELEASE identifier made only of digits has no leading zero;
//! - `vMAJOR` and `vMAJOR.MINOR` are shorthands for `vMAJOR.0.0` and `vMAJOR.MINOR.0`; they take
//!   neither a prerelease nor a build suffix.
//!
//! Precedence follows semver.org 2.0.0: numbers compare numerically; a version with a prerelease
//! is lower than the same version without; prerelease identifiers compare left to right, numeric
//! ones numerically and below alphanumeric ones, which compare in ASCII order, and a shorter list
//! is lower when it is a prefix of a longer one. Build metadata never affects precedence.
//! Every invalid string is lower than every valid version, and invalid strings are equal to each
//! other.
//!
//! Functions that return a part of a version (`major`, `prerelease`, …) return `None` where Go
//! returns `""` for an invalid version. As in Go, [`prerelease`] and [`build`] include their
//! leading `-` or `+`, and [`canonical`] drops all build metadata, `+incompatible` included (see
//! [`crate::module::canonical_version`] for the form that keeps it).

use std::cmp::Ordering;
use std::fmt;

/// Why a string is not a Go semantic version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SemverError {
    /// The string does not start with `v`.
    #[error("invalid semantic version {version:?}: must start with \"v\"")]
    MissingV {
        /// The rejected string.
        version: String,
    },
    /// MAJOR, MINOR or PATCH is missing, not decimal, or has a leading zero.
    #[error("invalid semantic version {version:?}: bad {part} number")]
    BadNumber {
        /// The rejected string.
        version: String,
        /// Which number: `major`, `minor` or `patch`.
        part: &'static str,
    },
    /// The prerelease suffix is empty, has an empty or invalid identifier, or a numeric
    /// identifier with a leading zero.
    #[error("invalid semantic version {version:?}: bad prerelease")]
    BadPrerelease {
        /// The rejected string.
        version: String,
    },
    /// The build suffix is empty or has an empty or invalid identifier.
    #[error("invalid semantic version {version:?}: bad build metadata")]
    BadBuild {
        /// The rejected string.
        version: String,
    },
    /// Something follows the version that cannot (a suffix on a shorthand, a stray character).
    #[error("invalid semantic version {version:?}: unexpected {rest:?}")]
    Trailing {
        /// The rejected string.
        version: String,
        /// The text that could not be parsed.
        rest: String,
    },
}

/// Which shorthand a version was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shorthand {
    /// `vMAJOR`, short for `vMAJOR.0.0`.
    Major,
    /// `vMAJOR.MINOR`, short for `vMAJOR.MINOR.0`.
    MajorMinor,
}

/// A parsed Go semantic version.
///
/// Numbers are kept as their decimal text, so any length is accepted and compared correctly.
/// [`Display`](fmt::Display) writes the version back exactly as it was parsed.
///
/// `Ord` sorts by semver precedence and breaks ties (versions differing only in build metadata or
/// shorthand) by the text, exactly as [`sort`] does; use [`Version::precedence`] for pure
/// precedence, which is what [`compare`] returns.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version {
    /// MAJOR, as decimal text without leading zeros.
    pub major: String,
    /// MINOR (`"0"` when written as a shorthand).
    pub minor: String,
    /// PATCH (`"0"` when written as a shorthand).
    pub patch: String,
    /// The prerelease suffix including its leading `-`, like `-rc.1`.
    pub prerelease: Option<String>,
    /// The build suffix including its leading `+`, like `+incompatible`.
    pub build: Option<String>,
    /// Set when the version was written as a shorthand (`v1`, `v1.2`).
    pub short: Option<Shorthand>,
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

fn is_numeric(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

/// Splits a decimal number without leading zeros off the front of `s`.
fn take_number(s: &str) -> Option<(&str, &str)> {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    if n == 0 || (n > 1 && s.starts_with('0')) {
        return None;
    }
    Some(s.split_at(n))
}

/// Checks a dot-separated identifier list (without its leading `-`/`+`).
fn idents_ok(s: &str, numeric_no_leading_zero: bool) -> bool {
    s.split('.').all(|id| {
        !id.is_empty()
            && id.bytes().all(is_ident_char)
            && !(numeric_no_leading_zero && id.len() > 1 && id.starts_with('0') && is_numeric(id))
    })
}

impl Version {
    /// Parses a Go semantic version; see the module docs for the grammar.
    pub fn parse(s: &str) -> Result<Version, SemverError> {
        let version = || s.to_owned();
        let Some(rest) = s.strip_prefix('v') else {
            return Err(SemverError::MissingV { version: version() });
        };
        let bad_number = |part| SemverError::BadNumber {
            version: version(),
            part,
        };
        let (major, rest) = take_number(rest).ok_or_else(|| bad_number("major"))?;
        let mut v = Version {
            major: major.to_owned(),
            minor: "0".to_owned(),
            patch: "0".to_owned(),
            prerelease: None,
            build: None,
            short: Some(Shorthand::Major),
        };
        if rest.is_empty() {
            return Ok(v);
        }
        let trailing = |rest: &str| SemverError::Trailing {
            version: version(),
            rest: rest.to_owned(),
        };
        let Some(rest) = rest.strip_prefix('.') else {
            return Err(trailing(rest));
        };
        let (minor, rest) = take_number(rest).ok_or_else(|| bad_number("minor"))?;
        v.minor = minor.to_owned();
        v.short = Some(Shorthand::MajorMinor);
        if rest.is_empty() {
            return Ok(v);
        }
        let Some(rest) = rest.strip_prefix('.') else {
            return Err(trailing(rest));
        };
        let (patch, mut rest) = take_number(rest).ok_or_else(|| bad_number("patch"))?;
        v.patch = patch.to_owned();
        v.short = None;
        if rest.starts_with('-') {
            let end = rest.find('+').unwrap_or(rest.len());
            let pre = &rest[..end];
            if !idents_ok(&pre[1..], true) {
                return Err(SemverError::BadPrerelease { version: version() });
            }
            v.prerelease = Some(pre.to_owned());
            rest = &rest[end..];
        }
        if rest.starts_with('+') {
            if !idents_ok(&rest[1..], false) {
                return Err(SemverError::BadBuild { version: version() });
            }
            v.build = Some(rest.to_owned());
            rest = "";
        }
        if !rest.is_empty() {
            return Err(trailing(rest));
        }
        Ok(v)
    }

    /// The canonical form: `vMAJOR.MINOR.PATCH[-PRERELEASE]`, shorthands filled in and build
    /// metadata dropped (Go's `semver.Canonical`).
    pub fn canonical(&self) -> String {
        let mut s = format!("v{}.{}.{}", self.major, self.minor, self.patch);
        if let Some(p) = &self.prerelease {
            s.push_str(p);
        }
        s
    }

    /// Compares by semver precedence only (Go's `semver.Compare` on valid versions).
    pub fn precedence(&self, other: &Version) -> Ordering {
        compare_number(&self.major, &other.major)
            .then_with(|| compare_number(&self.minor, &other.minor))
            .then_with(|| compare_number(&self.patch, &other.patch))
            .then_with(|| {
                compare_prerelease(self.prerelease.as_deref(), other.prerelease.as_deref())
            })
    }

    /// `vMAJOR`, like `v2`.
    pub fn major_prefix(&self) -> String {
        format!("v{}", self.major)
    }

    /// `vMAJOR.MINOR`, like `v2.1`.
    pub fn major_minor_prefix(&self) -> String {
        format!("v{}.{}", self.major, self.minor)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.short {
            Some(Shorthand::Major) => write!(f, "v{}", self.major),
            Some(Shorthand::MajorMinor) => write!(f, "v{}.{}", self.major, self.minor),
            None => {
                write!(f, "v{}.{}.{}", self.major, self.minor, self.patch)?;
                if let Some(p) = &self.prerelease {
                    f.write_str(p)?;
                }
                if let Some(b) = &self.build {
                    f.write_str(b)?;
                }
                Ok(())
            }
        }
    }
}

impl std::str::FromStr for Version {
    type Err = SemverError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Version::parse(s)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.precedence(other)
            .then_with(|| self.to_string().cmp(&other.to_string()))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Compares decimal numbers without leading zeros: longer is larger, else by text.
fn compare_number(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Compares prerelease suffixes (with their leading `-`); `None` (a release) is highest.
fn compare_prerelease(a: Option<&str>, b: Option<&str>) -> Ordering {
    let (a, b) = match (a, b) {
        (None, None) => return Ordering::Equal,
        (None, Some(_)) => return Ordering::Greater,
        (Some(_), None) => return Ordering::Less,
        (Some(a), Some(b)) => (a, b),
    };
    let mut xs = a.get(1..).unwrap_or("").split('.');
    let mut ys = b.get(1..).unwrap_or("").split('.');
    loop {
        match (xs.next(), ys.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let ord = match (is_numeric(x), is_numeric(y)) {
                    (true, true) => compare_number(x, y),
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                    (false, false) => x.cmp(y),
                };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
        }
    }
}

/// Reports whether `v` is a valid semantic version (Go's `semver.IsValid`).
pub fn is_valid(v: &str) -> bool {
    Version::parse(v).is_ok()
}

/// The canonical form of `v` (Go's `semver.Canonical`): shorthands filled in, all build metadata
/// (even `+incompatible`) dropped. `None` if `v` is invalid.
pub fn canonical(v: &str) -> Option<String> {
    Version::parse(v).ok().map(|p| p.canonical())
}

/// Compares two version strings by precedence (Go's `semver.Compare`); invalid strings sort
/// before all valid ones and equal to each other.
pub fn compare(a: &str, b: &str) -> Ordering {
    match (Version::parse(a), Version::parse(b)) {
        (Ok(x), Ok(y)) => x.precedence(&y),
        (Ok(_), Err(_)) => Ordering::Greater,
        (Err(_), Ok(_)) => Ordering::Less,
        (Err(_), Err(_)) => Ordering::Equal,
    }
}

/// The major version prefix of `v`, like `v2` (Go's `semver.Major`).
pub fn major(v: &str) -> Option<String> {
    Version::parse(v).ok().map(|p| p.major_prefix())
}

/// The major.minor prefix of `v`, like `v2.1` (Go's `semver.MajorMinor`); `v2` gives `v2.0`.
pub fn major_minor(v: &str) -> Option<String> {
    Version::parse(v).ok().map(|p| p.major_minor_prefix())
}

/// The prerelease suffix of `v` with its leading `-`, like `-rc.1` (Go's `semver.Prerelease`).
/// `None` if `v` is invalid or has no prerelease.
pub fn prerelease(v: &str) -> Option<String> {
    Version::parse(v).ok().and_then(|p| p.prerelease)
}

/// The build suffix of `v` with its leading `+`, like `+incompatible` (Go's `semver.Build`).
/// `None` if `v` is invalid or has no build metadata.
pub fn build(v: &str) -> Option<String> {
    Version::parse(v).ok().and_then(|p| p.build)
}

/// The higher of two versions by [`compare`], `b` on a tie (Go's `semver.Max` picks the same
/// one, but returns it canonicalized; this returns the argument unchanged).
pub fn max<'a>(a: &'a str, b: &'a str) -> &'a str {
    if compare(a, b) == Ordering::Greater {
        a
    } else {
        b
    }
}

/// Sorts version strings by [`compare`], breaking ties by plain string order (Go's
/// `semver.Sort`); invalid strings come first.
pub fn sort(list: &mut [String]) {
    list.sort_by(|a, b| compare(a, b).then_with(|| a.cmp(b)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    // Expected values come from golang.org/x/mod/semver (Go 1.27.3's vendored copy), run on the
    // same inputs by a throwaway oracle program.

    type Parts = (
        &'static str,
        &'static str,
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
    );

    /// (input, Some((canonical, major, major_minor, prerelease, build))) or None when invalid.
    const PARTS: &[(&str, Option<Parts>)] = &[
        ("v1", Some(("v1.0.0", "v1", "v1.0", None, None))),
        ("v1.2", Some(("v1.2.0", "v1", "v1.2", None, None))),
        ("v1.2.3", Some(("v1.2.3", "v1", "v1.2", None, None))),
        (
            "v1.2.3-pre",
            Some(("v1.2.3-pre", "v1", "v1.2", Some("-pre"), None)),
        ),
        (
            "v1.2.3-pre+meta",
            Some(("v1.2.3-pre", "v1", "v1.2", Some("-pre"), Some("+meta"))),
        ),
        (
            "v1.2.3+meta",
            Some(("v1.2.3", "v1", "v1.2", None, Some("+meta"))),
        ),
        ("v1.2+meta", None),
        ("v1.2-pre", None),
        ("v1-pre", None),
        ("1.2.3", None),
        ("v01.2.3", None),
        ("v1.02.3", None),
        ("v1.2.03", None),
        ("v0.0.0", Some(("v0.0.0", "v0", "v0.0", None, None))),
        ("v1.2.3-01", None),
        (
            "v1.2.3-0",
            Some(("v1.2.3-0", "v1", "v1.2", Some("-0"), None)),
        ),
        (
            "v1.2.3-0a",
            Some(("v1.2.3-0a", "v1", "v1.2", Some("-0a"), None)),
        ),
        ("v1.2.3-a..b", None),
        ("v1.2.3-", None),
        ("v1.2.3+", None),
        (
            "v1.2.3+01",
            Some(("v1.2.3", "v1", "v1.2", None, Some("+01"))),
        ),
        ("v1.2.3-a_b", None),
        ("v1.2.3.4", None),
        ("v", None),
        ("", None),
        ("v1.", None),
        ("v1..2", None),
        ("V1.2.3", None),
        (
            "v99999999999999999999.0.0",
            Some((
                "v99999999999999999999.0.0",
                "v99999999999999999999",
                "v99999999999999999999.0",
                None,
                None,
            )),
        ),
        (
            "v1.2.3-alpha.1+build.5",
            Some((
                "v1.2.3-alpha.1",
                "v1",
                "v1.2",
                Some("-alpha.1"),
                Some("+build.5"),
            )),
        ),
        ("v1.2.3++", None),
        ("v1.2.3-+x", None),
        ("v1.2.3-x+", None),
        (
            "v1.2.3+incompatible",
            Some(("v1.2.3", "v1", "v1.2", None, Some("+incompatible"))),
        ),
        (
            "v2.0.0+incompatible",
            Some(("v2.0.0", "v2", "v2.0", None, Some("+incompatible"))),
        ),
        ("v1.2.3-a.", None),
        ("v1.2.3-.a", None),
        ("v1.2.3+a..b", None),
        ("v1.2.3-a+b+c", None),
        ("v0", Some(("v0.0.0", "v0", "v0.0", None, None))),
        ("v00", None),
        ("v0.0", Some(("v0.0.0", "v0", "v0.0", None, None))),
        (
            "v10.20.30",
            Some(("v10.20.30", "v10", "v10.20", None, None)),
        ),
        (
            "v1.2.3-rc.1-x",
            Some(("v1.2.3-rc.1-x", "v1", "v1.2", Some("-rc.1-x"), None)),
        ),
        (
            "v1.2.3-0.20191109021931-daa7c04131f5",
            Some((
                "v1.2.3-0.20191109021931-daa7c04131f5",
                "v1",
                "v1.2",
                Some("-0.20191109021931-daa7c04131f5"),
                None,
            )),
        ),
        (" v1.0.0", None),
        ("v1.0.0 ", None),
        ("v1.2.3-é", None),
        ("v-1", None),
    ];

    #[test]
    fn parse_accepts_go_grammar_with_shorthands_and_rejects_the_rest() {
        for &(input, want) in PARTS {
            assert_eq!(is_valid(input), want.is_some(), "is_valid({input:?})");
            let got = want.map(|_| {
                (
                    canonical(input).unwrap_or_default(),
                    major(input).unwrap_or_default(),
                    major_minor(input).unwrap_or_default(),
                    prerelease(input),
                    build(input),
                )
            });
            let want = want.map(|(c, m, mm, p, b)| {
                (
                    c.to_owned(),
                    m.to_owned(),
                    mm.to_owned(),
                    p.map(str::to_owned),
                    b.map(str::to_owned),
                )
            });
            assert_eq!(got, want, "input {input:?}");
            if want.is_none() {
                assert_eq!(canonical(input), None);
                assert_eq!(major(input), None);
                assert_eq!(major_minor(input), None);
                assert_eq!(prerelease(input), None);
                assert_eq!(build(input), None);
            }
        }
    }

    #[test]
    fn parse_display_round_trips_exactly() {
        for &(input, want) in PARTS {
            if want.is_some() {
                assert_eq!(Version::parse(input).unwrap().to_string(), input);
            }
        }
    }

    #[test]
    fn parse_errors_name_the_broken_part() {
        let v = |s: &str| s.to_owned();
        let table = [
            (
                "1.2.3",
                SemverError::MissingV {
                    version: v("1.2.3"),
                },
            ),
            (
                "v01.2.3",
                SemverError::BadNumber {
                    version: v("v01.2.3"),
                    part: "major",
                },
            ),
            (
                "v1.02.3",
                SemverError::BadNumber {
                    version: v("v1.02.3"),
                    part: "minor",
                },
            ),
            (
                "v1.2.",
                SemverError::BadNumber {
                    version: v("v1.2."),
                    part: "patch",
                },
            ),
            (
                "v1.2.3-01",
                SemverError::BadPrerelease {
                    version: v("v1.2.3-01"),
                },
            ),
            (
                "v1.2.3+a..b",
                SemverError::BadBuild {
                    version: v("v1.2.3+a..b"),
                },
            ),
            (
                "v1.2-pre",
                SemverError::Trailing {
                    version: v("v1.2-pre"),
                    rest: v("-pre"),
                },
            ),
            (
                "v1.2.3.4",
                SemverError::Trailing {
                    version: v("v1.2.3.4"),
                    rest: v(".4"),
                },
            ),
        ];
        for (input, want) in table {
            assert_eq!(Version::parse(input), Err(want), "input {input:?}");
        }
    }

    /// Includes the semver.org precedence chain alpha < alpha.1 < alpha.beta < beta < beta.2 <
    /// beta.11 < rc.1 < release.
    const COMPARE: &[(&str, &str, Ordering)] = &[
        ("v1.0.0-alpha", "v1.0.0-alpha", Equal),
        ("v1.0.0-alpha", "v1.0.0-alpha.1", Less),
        ("v1.0.0-alpha", "v1.0.0-alpha.beta", Less),
        ("v1.0.0-alpha.1", "v1.0.0-alpha", Greater),
        ("v1.0.0-alpha.1", "v1.0.0-alpha.1", Equal),
        ("v1.0.0-alpha.1", "v1.0.0-alpha.beta", Less),
        ("v1.0.0-alpha.1", "v1.0.0-beta", Less),
        ("v1.0.0-alpha.beta", "v1.0.0-alpha", Greater),
        ("v1.0.0-alpha.beta", "v1.0.0-alpha.1", Greater),
        ("v1.0.0-alpha.beta", "v1.0.0-alpha.beta", Equal),
        ("v1.0.0-alpha.beta", "v1.0.0-beta", Less),
        ("v1.0.0-alpha.beta", "v1.0.0-beta.2", Less),
        ("v1.0.0-beta", "v1.0.0-alpha.1", Greater),
        ("v1.0.0-beta", "v1.0.0-alpha.beta", Greater),
        ("v1.0.0-beta", "v1.0.0-beta", Equal),
        ("v1.0.0-beta", "v1.0.0-beta.2", Less),
        ("v1.0.0-beta", "v1.0.0-beta.11", Less),
        ("v1.0.0-beta.2", "v1.0.0-alpha.beta", Greater),
        ("v1.0.0-beta.2", "v1.0.0-beta", Greater),
        ("v1.0.0-beta.2", "v1.0.0-beta.2", Equal),
        ("v1.0.0-beta.2", "v1.0.0-beta.11", Less),
        ("v1.0.0-beta.2", "v1.0.0-rc.1", Less),
        ("v1.0.0-beta.11", "v1.0.0-beta", Greater),
        ("v1.0.0-beta.11", "v1.0.0-beta.2", Greater),
        ("v1.0.0-beta.11", "v1.0.0-beta.11", Equal),
        ("v1.0.0-beta.11", "v1.0.0-rc.1", Less),
        ("v1.0.0-beta.11", "v1.0.0", Less),
        ("v1.0.0-rc.1", "v1.0.0-beta.2", Greater),
        ("v1.0.0-rc.1", "v1.0.0-beta.11", Greater),
        ("v1.0.0-rc.1", "v1.0.0-rc.1", Equal),
        ("v1.0.0-rc.1", "v1.0.0", Less),
        ("v1.0.0", "v1.0.0-beta.11", Greater),
        ("v1.0.0", "v1.0.0-rc.1", Greater),
        ("v1.0.0", "v1.0.0", Equal),
        ("v1", "v1.0.0", Equal),
        ("v1.2", "v1.2.0", Equal),
        ("bad", "v0.0.0", Less),
        ("bad", "worse", Equal),
        ("v1.0.0", "", Greater),
        ("v2.0.0", "v10.0.0", Less),
        ("v1.10.0", "v1.9.0", Greater),
        ("v1.0.10", "v1.0.9", Greater),
        ("v1.0.0+a", "v1.0.0+b", Equal),
        ("v1.0.0-1", "v1.0.0-a", Less),
        ("v1.0.0-a-b", "v1.0.0-a", Greater),
        ("v1.0.0-a", "v1.0.0-B", Greater),
        ("v1.0.0-10", "v1.0.0-9", Greater),
        ("v1.0.0-x.10", "v1.0.0-x.9", Greater),
        (
            "v99999999999999999999.0.0",
            "v99999999999999999998.0.0",
            Greater,
        ),
        (
            "v100000000000000000000.0.0",
            "v99999999999999999999.0.0",
            Greater,
        ),
        ("v1.0.0-alpha.1", "v1.0.0-alpha.a", Less),
        ("v1.0.0-0.20191109021931-daa7c04131f5", "v1.0.0-pre", Less),
        ("v0.0.0-20191109021931-daa7c04131f5", "v0.0.0", Less),
        ("v1.2.3-pre+incompatible", "v1.2.3-pre", Equal),
        ("v1.0.0-a.b.c", "v1.0.0-a.b", Greater),
    ];

    #[test]
    fn compare_follows_semver_precedence_and_sorts_invalid_first() {
        for &(a, b, want) in COMPARE {
            assert_eq!(compare(a, b), want, "compare({a:?}, {b:?})");
            assert_eq!(compare(b, a), want.reverse(), "compare({b:?}, {a:?})");
            if let (Ok(x), Ok(y)) = (Version::parse(a), Version::parse(b)) {
                assert_eq!(x.precedence(&y), want, "precedence({a:?}, {b:?})");
                // Ord refines precedence: it may break ties but never contradicts it.
                if want != Equal {
                    assert_eq!(x.cmp(&y), want, "cmp({a:?}, {b:?})");
                }
            }
        }
    }

    const SORT: &[(&[&str], &[&str])] = &[
        (
            &[
                "v1.0.0",
                "v1.0.0+b",
                "v1",
                "v1.0.0+a",
                "bad",
                "v0.9",
                "",
                "v1.0.0-rc.1",
                "zzz",
                "v1.0",
            ],
            &[
                "",
                "bad",
                "zzz",
                "v0.9",
                "v1.0.0-rc.1",
                "v1",
                "v1.0",
                "v1.0.0",
                "v1.0.0+a",
                "v1.0.0+b",
            ],
        ),
        (
            &[
                "v2.0.0+incompatible",
                "v2.0.0",
                "v1.10.0",
                "v1.9.0",
                "v1.0.0-0.20191109021931-daa7c04131f5",
                "v0.0.0-20191109021931-daa7c04131f5",
            ],
            &[
                "v0.0.0-20191109021931-daa7c04131f5",
                "v1.0.0-0.20191109021931-daa7c04131f5",
                "v1.9.0",
                "v1.10.0",
                "v2.0.0",
                "v2.0.0+incompatible",
            ],
        ),
    ];

    #[test]
    fn sort_orders_by_precedence_then_text() {
        for &(input, want) in SORT {
            let mut list: Vec<String> = input.iter().map(|s| s.to_string()).collect();
            sort(&mut list);
            assert_eq!(list, want);
            // Sorting parsed versions gives the same order for the valid ones.
            let mut parsed: Vec<Version> = input
                .iter()
                .filter_map(|s| Version::parse(s).ok())
                .collect();
            parsed.sort();
            let parsed: Vec<String> = parsed.iter().map(Version::to_string).collect();
            let valid: Vec<&str> = want.iter().copied().filter(|s| is_valid(s)).collect();
            assert_eq!(parsed, valid);
        }
    }

    #[test]
    fn max_returns_the_greater_argument_unchanged() {
        // Go's Max returns the canonical form of the winner ("v2.0.0" for "v2"); ours returns
        // the argument itself, and `b` on a tie.
        const TABLE: &[(&str, &str, &str)] = &[
            ("v1.0.0", "v2.0.0", "v2.0.0"),
            ("v2", "v1.0.0", "v2"),
            ("v1", "v1.0.0", "v1.0.0"),
            ("v1.0.0", "v1", "v1"),
            ("bad", "v1.0.0", "v1.0.0"),
            ("v1.0.0", "bad", "v1.0.0"),
            ("bad", "worse", "worse"),
            ("v1.0.0+a", "v1.0.0+b", "v1.0.0+b"),
        ];
        for &(a, b, want) in TABLE {
            assert_eq!(max(a, b), want, "max({a:?}, {b:?})");
        }
    }

    #[test]
    fn canonical_drops_all_build_metadata_including_incompatible() {
        assert_eq!(canonical("v2.0.0+incompatible").as_deref(), Some("v2.0.0"));
        assert_eq!(
            Version::parse("v1.2").map(|v| (v.canonical(), v.short)),
            Ok(("v1.2.0".to_owned(), Some(Shorthand::MajorMinor)))
        );
    }
}
