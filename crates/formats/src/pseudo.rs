//! Pseudo-versions: golang.org/x/mod `module/pseudo.go`.
//!
//! A pseudo-version names an untagged revision. It is a valid semantic version whose prerelease
//! ends in a 14-digit UTC timestamp (`yyyymmddhhmmss`) and a revision identifier (ASCII letters
//! and digits, by convention the first 12 hex digits of a commit hash), in one of three shapes:
//!
//! 1. `vX.0.0-yyyymmddhhmmss-rev` — no earlier tag on this major version;
//! 2. `vX.Y.(Z+1)-0.yyyymmddhhmmss-rev` — after release tag `vX.Y.Z`;
//! 3. `vX.Y.Z-pre.0.yyyymmddhhmmss-rev` — after prerelease tag `vX.Y.Z-pre`.
//!
//! Build metadata of the base tag (in practice `+incompatible`) is carried to the end
//! (`v2.0.1-0.20190101000000-abcdef123456+incompatible`). Shape 1 with build metadata is
//! syntactically a pseudo-version but has no meaningful base, so [`pseudo_version_base`] rejects
//! it, as Go does.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use crate::module::go_quote;
use crate::semver;

/// A string that is not a pseudo-version, or one whose parts are inconsistent.
///
/// Displays like Go's `InvalidVersionError` with `Pseudo` set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PseudoError {
    /// The string does not have any of the pseudo-version shapes.
    #[error("pseudo-version {} invalid: syntax error", go_quote(version))]
    Syntax {
        /// The rejected string.
        version: String,
    },
    /// Shape `vX.0.0-…` (no base tag) with build metadata.
    #[error(
        "pseudo-version {} invalid: lacks base version, but has build metadata {}",
        go_quote(version),
        go_quote(build)
    )]
    BuildWithoutBase {
        /// The rejected string.
        version: String,
        /// Its build suffix.
        build: String,
    },
    /// Shape `vX.Y.0-0.…`: the tag before it would need patch number −1.
    #[error(
        "pseudo-version {} invalid: version before {base} would have negative patch number",
        go_quote(version)
    )]
    NegativePatch {
        /// The rejected string.
        version: String,
        /// The `vX.Y.0` release part.
        base: String,
    },
    /// The timestamp is 14 digits but not a real date and time (month 13, 25 o'clock, …).
    #[error(
        "pseudo-version {} invalid: malformed time {}",
        go_quote(version),
        go_quote(timestamp)
    )]
    MalformedTime {
        /// The rejected string.
        version: String,
        /// The 14-digit timestamp.
        timestamp: String,
    },
}

/// The parts of a pseudo-version.
struct Parts<'a> {
    /// `vX.0.0`, `vX.Y.(Z+1)-0` or `vX.Y.Z-pre.0`.
    base: &'a str,
    timestamp: &'a str,
    rev: &'a str,
    /// `""` or the build suffix with its `+`.
    build: &'a str,
}

/// Splits a pseudo-version into its parts; `None` if `v` is not one.
fn parse(v: &str) -> Option<Parts<'_>> {
    let parsed = semver::Version::parse(v).ok()?;
    if parsed.short.is_some() || v.matches('-').count() < 2 {
        return None;
    }
    let build_len = parsed.build.as_ref().map_or(0, String::len);
    let (body, build) = v.split_at(v.len() - build_len);
    let (rest, rev) = body.rsplit_once('-')?;
    if rev.is_empty() || !rev.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let ts_start = rest.len().checked_sub(14)?;
    let (head, timestamp) = rest.split_at_checked(ts_start)?;
    if !timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // The text after the first '-' of the (full-form) version, up to the timestamp.
    let (_, after_release) = head.split_once('-')?;
    let ok = if after_release.is_empty() {
        // Shape 1: the release part must be vX.0.0.
        parsed.minor == "0" && parsed.patch == "0"
    } else {
        // Shapes 2 and 3: "0." alone, or something ending in ".0.".
        after_release == "0." || after_release.ends_with(".0.")
    };
    if !ok {
        return None;
    }
    // The base is everything before the separator in front of the timestamp.
    let base = &head[..head.len() - 1];
    Some(Parts {
        base,
        timestamp,
        rev,
        build,
    })
}

/// Reports whether `v` is a pseudo-version (Go's `module.IsPseudoVersion`).
pub fn is_pseudo_version(v: &str) -> bool {
    parse(v).is_some()
}

/// The pseudo-version for the zero time and revision `000000000000` on major version `major`
/// (Go's `ZeroPseudoVersion`): `v0.0.0-00010101000000-000000000000` for `v0`.
pub fn zero_pseudo_version(major: &str) -> String {
    let major = if major.is_empty() { "v0" } else { major };
    format!("{major}.0.0-00010101000000-000000000000")
}

/// Reports whether `v` is the zero pseudo-version of its major version (Go's
/// `IsZeroPseudoVersion`), which the go command uses for placeholder requirements.
pub fn is_zero_pseudo_version(v: &str) -> bool {
    v == zero_pseudo_version(&semver::major(v).unwrap_or_default())
}

/// Builds the pseudo-version for revision `rev` committed at `t` (Go's `PseudoVersion`).
///
/// `major` (like `v2`; empty means `v0`) is used only when `older`, the most recent tag before the
/// revision, is not a semantic version (typically `""`); otherwise the shape follows from `older`,
/// as described in the module docs, and `older`'s build metadata is appended. The time is
/// converted to UTC. The caller supplies a valid `rev` (the 12-digit short hash).
pub fn pseudo_version(major: &str, older: &str, t: OffsetDateTime, rev: &str) -> String {
    let major = if major.is_empty() { "v0" } else { major };
    let segment = format!("{}-{rev}", format_timestamp(t));
    let Ok(base) = semver::Version::parse(older) else {
        return format!("{major}.0.0-{segment}");
    };
    let build = base.build.as_deref().unwrap_or("");
    if base.prerelease.is_some() {
        return format!("{}.0.{segment}{build}", base.canonical());
    }
    format!(
        "v{}.{}.{}-0.{segment}{build}",
        base.major,
        base.minor,
        increment_decimal(&base.patch)
    )
}

/// Formats `t` in UTC as `yyyymmddhhmmss`, the timestamp field of a pseudo-version.
pub fn format_timestamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Adds one to a decimal number written without sign.
fn increment_decimal(n: &str) -> String {
    let mut digits: Vec<u8> = n.bytes().collect();
    for d in digits.iter_mut().rev() {
        if *d == b'9' {
            *d = b'0';
        } else {
            *d += 1;
            return String::from_utf8_lossy(&digits).into_owned();
        }
    }
    // All nines (or empty): carry into a new leading digit.
    let mut out = String::with_capacity(digits.len() + 1);
    out.push('1');
    out.push_str(&String::from_utf8_lossy(&digits));
    out
}

/// Subtracts one from a decimal number without leading zeros; `None` for zero.
fn decrement_decimal(n: &str) -> Option<String> {
    let mut digits: Vec<u8> = n.bytes().collect();
    let i = digits.iter().rposition(|&d| d != b'0')?;
    digits[i] -= 1;
    for d in &mut digits[i + 1..] {
        *d = b'9';
    }
    // Drop a leading zero produced by the borrow (100 → 099 → 99).
    if digits.len() > 1 && digits[0] == b'0' {
        digits.remove(0);
    }
    Some(String::from_utf8_lossy(&digits).into_owned())
}

/// The tag a pseudo-version was derived from (Go's `PseudoVersionBase`): `""` for shape 1,
/// `vX.Y.Z` (plus build metadata) for shape 2, `vX.Y.Z-pre` (plus build metadata) for shape 3.
pub fn pseudo_version_base(v: &str) -> Result<String, PseudoError> {
    let parts = parse(v).ok_or_else(|| PseudoError::Syntax {
        version: v.to_owned(),
    })?;
    let pre = semver::prerelease(parts.base);
    match pre.as_deref() {
        None => {
            if !parts.build.is_empty() {
                return Err(PseudoError::BuildWithoutBase {
                    version: v.to_owned(),
                    build: parts.build.to_owned(),
                });
            }
            Ok(String::new())
        }
        Some("-0") => {
            let release = &parts.base[..parts.base.len() - 2];
            let negative = || PseudoError::NegativePatch {
                version: v.to_owned(),
                base: release.to_owned(),
            };
            let (minor_part, patch) = release.rsplit_once('.').ok_or_else(negative)?;
            let patch = decrement_decimal(patch).ok_or_else(negative)?;
            Ok(format!("{minor_part}.{patch}{}", parts.build))
        }
        Some(_) => {
            let base = parts.base.strip_suffix(".0").unwrap_or(parts.base);
            Ok(format!("{base}{}", parts.build))
        }
    }
}

/// The revision identifier at the end of a pseudo-version (Go's `PseudoVersionRev`).
pub fn pseudo_version_rev(v: &str) -> Result<String, PseudoError> {
    parse(v)
        .map(|p| p.rev.to_owned())
        .ok_or_else(|| PseudoError::Syntax {
            version: v.to_owned(),
        })
}

/// The commit time recorded in a pseudo-version, in UTC (Go's `PseudoVersionTime`).
pub fn pseudo_version_time(v: &str) -> Result<OffsetDateTime, PseudoError> {
    let parts = parse(v).ok_or_else(|| PseudoError::Syntax {
        version: v.to_owned(),
    })?;
    parse_timestamp(parts.timestamp).ok_or_else(|| PseudoError::MalformedTime {
        version: v.to_owned(),
        timestamp: parts.timestamp.to_owned(),
    })
}

/// Parses 14 digits `yyyymmddhhmmss` as a UTC time; `None` if it is not a real date and time.
fn parse_timestamp(ts: &str) -> Option<OffsetDateTime> {
    let num = |range: std::ops::Range<usize>| -> Option<u32> { ts.get(range)?.parse().ok() };
    let year = i32::try_from(num(0..4)?).ok()?;
    let month = Month::try_from(u8::try_from(num(4..6)?).ok()?).ok()?;
    let day = u8::try_from(num(6..8)?).ok()?;
    let hour = u8::try_from(num(8..10)?).ok()?;
    let minute = u8::try_from(num(10..12)?).ok()?;
    let second = u8::try_from(num(12..14)?).ok()?;
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = Time::from_hms(hour, minute, second).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values come from golang.org/x/mod/module (Go 1.27.3's vendored copy), run on the
    // same inputs by a throwaway oracle program. Times are shown as RFC 3339 in UTC.

    type Outcome = Result<&'static str, &'static str>;

    /// (version, is_pseudo_version, is_zero_pseudo_version, base, rev, time)
    const PARTS: &[(&str, bool, bool, Outcome, Outcome, Outcome)] = &[
        (
            "v0.0.0-20191109021931-daa7c04131f5",
            true,
            false,
            Ok(""),
            Ok("daa7c04131f5"),
            Ok("2019-11-09T02:19:31Z"),
        ),
        (
            "v1.2.4-0.20191109021931-daa7c04131f5",
            true,
            false,
            Ok("v1.2.3"),
            Ok("daa7c04131f5"),
            Ok("2019-11-09T02:19:31Z"),
        ),
        (
            "v1.2.3-pre.0.20191109021931-daa7c04131f5",
            true,
            false,
            Ok("v1.2.3-pre"),
            Ok("daa7c04131f5"),
            Ok("2019-11-09T02:19:31Z"),
        ),
        (
            "v2.0.1-0.20191109021931-daa7c04131f5+incompatible",
            true,
            false,
            Ok("v2.0.0+incompatible"),
            Ok("daa7c04131f5"),
            Ok("2019-11-09T02:19:31Z"),
        ),
        (
            "v2.0.0-pre.0.20191109021931-daa7c04131f5+incompatible",
            true,
            false,
            Ok("v2.0.0-pre+incompatible"),
            Ok("daa7c04131f5"),
            Ok("2019-11-09T02:19:31Z"),
        ),
        (
            "v2.0.0-20191109021931-daa7c04131f5+incompatible",
            true,
            false,
            Err(
                "pseudo-version \"v2.0.0-20191109021931-daa7c04131f5+incompatible\" invalid: lacks base version, but has build metadata \"+incompatible\"",
            ),
            Ok("daa7c04131f5"),
            Ok("2019-11-09T02:19:31Z"),
        ),
        (
            "v1.0.0-20191109021931-daa7c04131f5",
            true,
            false,
            Ok(""),
            Ok("daa7c04131f5"),
            Ok("2019-11-09T02:19:31Z"),
        ),
        (
            "v1.2.0-20191109021931-daa7c04131f5",
            false,
            false,
            Err("pseudo-version \"v1.2.0-20191109021931-daa7c04131f5\" invalid: syntax error"),
            Err("pseudo-version \"v1.2.0-20191109021931-daa7c04131f5\" invalid: syntax error"),
            Err("pseudo-version \"v1.2.0-20191109021931-daa7c04131f5\" invalid: syntax error"),
        ),
        (
            "v0.0.0-00010101000000-000000000000",
            true,
            true,
            Ok(""),
            Ok("000000000000"),
            Ok("0001-01-01T00:00:00Z"),
        ),
        (
            "v2.0.0-00010101000000-000000000000",
            true,
            true,
            Ok(""),
            Ok("000000000000"),
            Ok("0001-01-01T00:00:00Z"),
        ),
        (
            "v1.2.3",
            false,
            false,
            Err("pseudo-version \"v1.2.3\" invalid: syntax error"),
            Err("pseudo-version \"v1.2.3\" invalid: syntax error"),
            Err("pseudo-version \"v1.2.3\" invalid: syntax error"),
        ),
        (
            "v1.2.3-pre",
            false,
            false,
            Err("pseudo-version \"v1.2.3-pre\" invalid: syntax error"),
            Err("pseudo-version \"v1.2.3-pre\" invalid: syntax error"),
            Err("pseudo-version \"v1.2.3-pre\" invalid: syntax error"),
        ),
        (
            "v0.0.0-2019110902193-daa7c04131f5",
            false,
            false,
            Err("pseudo-version \"v0.0.0-2019110902193-daa7c04131f5\" invalid: syntax error"),
            Err("pseudo-version \"v0.0.0-2019110902193-daa7c04131f5\" invalid: syntax error"),
            Err("pseudo-version \"v0.0.0-2019110902193-daa7c04131f5\" invalid: syntax error"),
        ),
        (
            "v0.0.0-201911090219311-daa7c04131f5",
            false,
            false,
            Err("pseudo-version \"v0.0.0-201911090219311-daa7c04131f5\" invalid: syntax error"),
            Err("pseudo-version \"v0.0.0-201911090219311-daa7c04131f5\" invalid: syntax error"),
            Err("pseudo-version \"v0.0.0-201911090219311-daa7c04131f5\" invalid: syntax error"),
        ),
        (
            "v0.0.0-20191109021931-",
            false,
            false,
            Err("pseudo-version \"v0.0.0-20191109021931-\" invalid: syntax error"),
            Err("pseudo-version \"v0.0.0-20191109021931-\" invalid: syntax error"),
            Err("pseudo-version \"v0.0.0-20191109021931-\" invalid: syntax error"),
        ),
        (
            "v0.0.0-20191109021931-daa7c0_4131f5",
            false,
            false,
            Err("pseudo-version \"v0.0.0-20191109021931-daa7c0_4131f5\" invalid: syntax error"),
            Err("pseudo-version \"v0.0.0-20191109021931-daa7c0_4131f5\" invalid: syntax error"),
            Err("pseudo-version \"v0.0.0-20191109021931-daa7c0_4131f5\" invalid: syntax error"),
        ),
        (
            "v1.0.0-0.20191109021931",
            false,
            false,
            Err("pseudo-version \"v1.0.0-0.20191109021931\" invalid: syntax error"),
            Err("pseudo-version \"v1.0.0-0.20191109021931\" invalid: syntax error"),
            Err("pseudo-version \"v1.0.0-0.20191109021931\" invalid: syntax error"),
        ),
        (
            "v0.0.0-20191332021931-daa7c04131f5",
            true,
            false,
            Ok(""),
            Ok("daa7c04131f5"),
            Err(
                "pseudo-version \"v0.0.0-20191332021931-daa7c04131f5\" invalid: malformed time \"20191332021931\"",
            ),
        ),
        (
            "v1.2.4-0.20191332021931-daa7c04131f5",
            true,
            false,
            Ok("v1.2.3"),
            Ok("daa7c04131f5"),
            Err(
                "pseudo-version \"v1.2.4-0.20191332021931-daa7c04131f5\" invalid: malformed time \"20191332021931\"",
            ),
        ),
        (
            "v1.0.0-0.20191109021931-daa7c04131f5",
            true,
            false,
            Err(
                "pseudo-version \"v1.0.0-0.20191109021931-daa7c04131f5\" invalid: version before v1.0.0 would have negative patch number",
            ),
            Ok("daa7c04131f5"),
            Ok("2019-11-09T02:19:31Z"),
        ),
        (
            "v0.1.0-0.20191109021931-daa7c04131f5",
            true,
            false,
            Err(
                "pseudo-version \"v0.1.0-0.20191109021931-daa7c04131f5\" invalid: version before v0.1.0 would have negative patch number",
            ),
            Ok("daa7c04131f5"),
            Ok("2019-11-09T02:19:31Z"),
        ),
        (
            "v1.10.0-0.20191109021931-daa7c04131f5",
            true,
            false,
            Err(
                "pseudo-version \"v1.10.0-0.20191109021931-daa7c04131f5\" invalid: version before v1.10.0 would have negative patch number",
            ),
            Ok("daa7c04131f5"),
            Ok("2019-11-09T02:19:31Z"),
        ),
        (
            "v1.2.100-0.20191109021931-daa7c04131f5",
            true,
            false,
            Ok("v1.2.99"),
            Ok("daa7c04131f5"),
            Ok("2019-11-09T02:19:31Z"),
        ),
        (
            "v1.2.3-pre.1.20191109021931-daa7c04131f5",
            false,
            false,
            Err(
                "pseudo-version \"v1.2.3-pre.1.20191109021931-daa7c04131f5\" invalid: syntax error",
            ),
            Err(
                "pseudo-version \"v1.2.3-pre.1.20191109021931-daa7c04131f5\" invalid: syntax error",
            ),
            Err(
                "pseudo-version \"v1.2.3-pre.1.20191109021931-daa7c04131f5\" invalid: syntax error",
            ),
        ),
        (
            "v1.2.3-0.0.20191109021931-daa7c04131f5",
            true,
            false,
            Ok("v1.2.3-0"),
            Ok("daa7c04131f5"),
            Ok("2019-11-09T02:19:31Z"),
        ),
        (
            "v1.2.3-a.b.0.20191109021931-daa7c04131f5",
            true,
            false,
            Ok("v1.2.3-a.b"),
            Ok("daa7c04131f5"),
            Ok("2019-11-09T02:19:31Z"),
        ),
        (
            "v1.2.3-x-y.0.20191109021931-daa7c04131f5",
            true,
            false,
            Ok("v1.2.3-x-y"),
            Ok("daa7c04131f5"),
            Ok("2019-11-09T02:19:31Z"),
        ),
        (
            "v1.2.3-0.20191109021931-DAA7c04131f5",
            true,
            false,
            Ok("v1.2.2"),
            Ok("DAA7c04131f5"),
            Ok("2019-11-09T02:19:31Z"),
        ),
        (
            "v1.2.3-0.20191109021931-abc+meta.x",
            true,
            false,
            Ok("v1.2.2+meta.x"),
            Ok("abc"),
            Ok("2019-11-09T02:19:31Z"),
        ),
        (
            "v1.2.3-0.01191109021931-daa7c04131f5",
            true,
            false,
            Ok("v1.2.2"),
            Ok("daa7c04131f5"),
            Ok("0119-11-09T02:19:31Z"),
        ),
        (
            "v1.2.3-1.20191109021931-daa7c04131f5",
            false,
            false,
            Err("pseudo-version \"v1.2.3-1.20191109021931-daa7c04131f5\" invalid: syntax error"),
            Err("pseudo-version \"v1.2.3-1.20191109021931-daa7c04131f5\" invalid: syntax error"),
            Err("pseudo-version \"v1.2.3-1.20191109021931-daa7c04131f5\" invalid: syntax error"),
        ),
        (
            "v1.2-0.20191109021931-daa7c04131f5",
            false,
            false,
            Err("pseudo-version \"v1.2-0.20191109021931-daa7c04131f5\" invalid: syntax error"),
            Err("pseudo-version \"v1.2-0.20191109021931-daa7c04131f5\" invalid: syntax error"),
            Err("pseudo-version \"v1.2-0.20191109021931-daa7c04131f5\" invalid: syntax error"),
        ),
        (
            "v0.0.0-20190229000000-daa7c04131f5",
            true,
            false,
            Ok(""),
            Ok("daa7c04131f5"),
            Err(
                "pseudo-version \"v0.0.0-20190229000000-daa7c04131f5\" invalid: malformed time \"20190229000000\"",
            ),
        ),
        (
            "v0.0.0-20191109240000-abc",
            true,
            false,
            Ok(""),
            Ok("abc"),
            Err(
                "pseudo-version \"v0.0.0-20191109240000-abc\" invalid: malformed time \"20191109240000\"",
            ),
        ),
        (
            "v0.0.0-20191109235960-abc",
            true,
            false,
            Ok(""),
            Ok("abc"),
            Err(
                "pseudo-version \"v0.0.0-20191109235960-abc\" invalid: malformed time \"20191109235960\"",
            ),
        ),
        (
            "v0.0.0-00000101000000-abc",
            true,
            false,
            Ok(""),
            Ok("abc"),
            Ok("0000-01-01T00:00:00Z"),
        ),
        (
            "v0.0.0-20191100000000-abc",
            true,
            false,
            Ok(""),
            Ok("abc"),
            Err(
                "pseudo-version \"v0.0.0-20191100000000-abc\" invalid: malformed time \"20191100000000\"",
            ),
        ),
        (
            "v1.2.3-pre0.20191109021931-abc",
            false,
            false,
            Err("pseudo-version \"v1.2.3-pre0.20191109021931-abc\" invalid: syntax error"),
            Err("pseudo-version \"v1.2.3-pre0.20191109021931-abc\" invalid: syntax error"),
            Err("pseudo-version \"v1.2.3-pre0.20191109021931-abc\" invalid: syntax error"),
        ),
        (
            "v1.2.3-pre-0.20191109021931-abc",
            false,
            false,
            Err("pseudo-version \"v1.2.3-pre-0.20191109021931-abc\" invalid: syntax error"),
            Err("pseudo-version \"v1.2.3-pre-0.20191109021931-abc\" invalid: syntax error"),
            Err("pseudo-version \"v1.2.3-pre-0.20191109021931-abc\" invalid: syntax error"),
        ),
        (
            "v0.0.0-20191109021931-daa7c04131f5-x",
            false,
            false,
            Err("pseudo-version \"v0.0.0-20191109021931-daa7c04131f5-x\" invalid: syntax error"),
            Err("pseudo-version \"v0.0.0-20191109021931-daa7c04131f5-x\" invalid: syntax error"),
            Err("pseudo-version \"v0.0.0-20191109021931-daa7c04131f5-x\" invalid: syntax error"),
        ),
        (
            "v0.0.0-x-20191109021931-abc",
            false,
            false,
            Err("pseudo-version \"v0.0.0-x-20191109021931-abc\" invalid: syntax error"),
            Err("pseudo-version \"v0.0.0-x-20191109021931-abc\" invalid: syntax error"),
            Err("pseudo-version \"v0.0.0-x-20191109021931-abc\" invalid: syntax error"),
        ),
        (
            "v0.0.1-20191109021931-abc",
            false,
            false,
            Err("pseudo-version \"v0.0.1-20191109021931-abc\" invalid: syntax error"),
            Err("pseudo-version \"v0.0.1-20191109021931-abc\" invalid: syntax error"),
            Err("pseudo-version \"v0.0.1-20191109021931-abc\" invalid: syntax error"),
        ),
        (
            "v1.0.0-0-20191109021931-abc",
            false,
            false,
            Err("pseudo-version \"v1.0.0-0-20191109021931-abc\" invalid: syntax error"),
            Err("pseudo-version \"v1.0.0-0-20191109021931-abc\" invalid: syntax error"),
            Err("pseudo-version \"v1.0.0-0-20191109021931-abc\" invalid: syntax error"),
        ),
        (
            "v0.0.0-20191109021931-abc+incompatible",
            true,
            false,
            Err(
                "pseudo-version \"v0.0.0-20191109021931-abc+incompatible\" invalid: lacks base version, but has build metadata \"+incompatible\"",
            ),
            Ok("abc"),
            Ok("2019-11-09T02:19:31Z"),
        ),
    ];

    fn rfc3339(t: OffsetDateTime) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }

    #[test]
    fn is_pseudo_version_recognizes_the_three_shapes_only() {
        for &(v, want, want_zero, ..) in PARTS {
            assert_eq!(is_pseudo_version(v), want, "is_pseudo_version({v:?})");
            assert_eq!(
                is_zero_pseudo_version(v),
                want_zero,
                "is_zero_pseudo_version({v:?})"
            );
        }
    }

    #[test]
    fn pseudo_version_base_recovers_the_tag_and_rejects_impossible_bases() {
        for &(v, _, _, want, ..) in PARTS {
            let got = pseudo_version_base(v).map_err(|e| e.to_string());
            assert_eq!(got, want.map(str::to_owned).map_err(str::to_owned), "{v:?}");
        }
    }

    #[test]
    fn pseudo_version_rev_is_the_last_hyphen_field() {
        for &(v, _, _, _, want, _) in PARTS {
            let got = pseudo_version_rev(v).map_err(|e| e.to_string());
            assert_eq!(got, want.map(str::to_owned).map_err(str::to_owned), "{v:?}");
        }
    }

    #[test]
    fn pseudo_version_time_parses_utc_timestamp_and_rejects_impossible_dates() {
        for &(v, _, _, _, _, want) in PARTS {
            let got = pseudo_version_time(v)
                .map(rfc3339)
                .map_err(|e| e.to_string());
            assert_eq!(got, want.map(str::to_owned).map_err(str::to_owned), "{v:?}");
        }
    }

    /// (major, older tag, unix seconds, rev, want)
    const PSEUDO_VERSION: &[(&str, &str, i64, &str, &str)] = &[
        (
            "v0",
            "",
            1573266000,
            "daa7c04131f5",
            "v0.0.0-20191109022000-daa7c04131f5",
        ),
        ("", "", 1573266000, "abc", "v0.0.0-20191109022000-abc"),
        ("v2", "", 1573266000, "abc", "v2.0.0-20191109022000-abc"),
        (
            "v1",
            "v1.2.3",
            1573266000,
            "abc",
            "v1.2.4-0.20191109022000-abc",
        ),
        ("v1", "v1.2.9", 0, "abc", "v1.2.10-0.19700101000000-abc"),
        ("v1", "v1.2.99", 0, "abc", "v1.2.100-0.19700101000000-abc"),
        (
            "v1",
            "v1.2.3-pre",
            1573266000,
            "abc",
            "v1.2.3-pre.0.20191109022000-abc",
        ),
        (
            "v2",
            "v2.0.0+incompatible",
            1573266000,
            "abc",
            "v2.0.1-0.20191109022000-abc+incompatible",
        ),
        (
            "v2",
            "v2.1.0-pre+incompatible",
            1573266000,
            "abc",
            "v2.1.0-pre.0.20191109022000-abc+incompatible",
        ),
        (
            "v1",
            "v1.2",
            1573266000,
            "abc",
            "v1.2.1-0.20191109022000-abc",
        ),
        ("v1", "bad", 1573266000, "abc", "v1.0.0-20191109022000-abc"),
        (
            "v1",
            "v1.2.3+meta",
            1573266000,
            "abc",
            "v1.2.4-0.20191109022000-abc+meta",
        ),
        (
            "v0",
            "",
            -62135596800,
            "000000000000",
            "v0.0.0-00010101000000-000000000000",
        ),
        (
            "v1",
            "v1.0.0-rc.1+build.2",
            1,
            "x",
            "v1.0.0-rc.1.0.19700101000001-x+build.2",
        ),
    ];

    #[test]
    fn pseudo_version_builds_each_shape_and_carries_build_metadata() {
        for &(major, older, secs, rev, want) in PSEUDO_VERSION {
            let t = OffsetDateTime::from_unix_timestamp(secs).unwrap();
            assert_eq!(
                pseudo_version(major, older, t, rev),
                want,
                "{major} {older} {secs}"
            );
        }
    }

    #[test]
    fn pseudo_version_converts_time_to_utc() {
        let t = time::macros::datetime!(2019-11-09 12:19:31 +10:00);
        assert_eq!(
            pseudo_version("v0", "", t, "daa7c04131f5"),
            "v0.0.0-20191109021931-daa7c04131f5"
        );
    }

    #[test]
    fn pseudo_version_round_trips_base_rev_and_time() {
        let t = time::macros::datetime!(2021-02-03 04:05:06 UTC);
        for older in [
            "",
            "v1.2.3",
            "v1.2.3-rc.1",
            "v2.0.0+incompatible",
            "v1.9.99",
        ] {
            let v = pseudo_version("v1", older, t, "0123456789ab");
            assert!(is_pseudo_version(&v), "{v}");
            assert_eq!(pseudo_version_base(&v).as_deref(), Ok(older), "{v}");
            assert_eq!(pseudo_version_rev(&v).as_deref(), Ok("0123456789ab"));
            assert_eq!(pseudo_version_time(&v), Ok(t));
        }
    }

    #[test]
    fn decimal_arithmetic_handles_carries_of_any_length() {
        const INC: &[(&str, &str)] = &[
            ("0", "1"),
            ("9", "10"),
            ("199", "200"),
            ("99999999999999999999", "100000000000000000000"),
        ];
        for &(n, want) in INC {
            assert_eq!(increment_decimal(n), want);
            assert_eq!(decrement_decimal(want).as_deref(), Some(n));
        }
        assert_eq!(decrement_decimal("0"), None);
        assert_eq!(decrement_decimal("100"), Some("99".to_owned()));
    }
}
