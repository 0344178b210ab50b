//! Module paths, import paths, file paths, their `!`-case escaping, and module path/version pairs.
//!
//! Implements the rules of golang.org/x/mod `module/module.go` (`CheckPath`, `CheckImportPath`,
//! `CheckFilePath`, `EscapePath`, `UnescapePath`, `EscapeVersion`, `UnescapeVersion`,
//! `SplitPathVersion`, `CheckPathMajor`, `MatchPathMajor`, `PathMajorPrefix`, `CanonicalVersion`,
//! `Check`, `MatchPrefixPatterns`) and, for the latter, the glob syntax of Go's `path.Match`.
//!
//! # Path rules
//!
//! A path is a non-empty list of elements joined by single slashes; it must not start or end with a
//! slash, and (except for file paths) must not start with a dash. Every element:
//! - is non-empty and is not made only of dots;
//! - does not end with a dot, and (module paths only) does not start with one;
//! - uses only allowed characters: module paths allow ASCII letters, digits and `- . _ ~`;
//!   import paths also allow `+`; file paths allow every Unicode letter, ASCII digits, space and
//!   ``!#$%&()+,-.=@[]^_{}~``;
//! - is not, up to its first dot and ignoring case, a name Windows reserves (`CON`, `PRN`, `AUX`,
//!   `NUL`, `COM1`…`COM9`, `LPT1`…`LPT9`);
//! - (module and import paths only) does not end, before its first dot, in `~` followed by digits,
//!   which would look like a Windows 8.3 short name (`GOPRO~1`).
//!
//! A module path additionally needs a first element (a host name by convention) made only of
//! lowercase ASCII letters, digits, `.` and `-`, containing at least one dot; and its final element,
//! if it looks like `vN`, must be a major-version suffix `/vN` with N ≥ 2 and no leading zero.
//! `gopkg.in/` paths must instead end in `.vN` (N may be 0 or 1, optionally `-unstable`).
//!
//! # Escaping
//!
//! Module paths and versions are stored and requested in an escaped form that never needs two
//! casings: every uppercase ASCII letter becomes `!` plus its lowercase form
//! (`github.com/Azure/x` → `github.com/!azure/x`). Unescaping rejects uppercase letters, non-ASCII,
//! a `!` not followed by a lowercase letter, and results that are not valid paths or versions.
//!
//! # Deliberate deviations
//!
//! - [`check`] is stricter than Go's `module.Check`: it also requires the version to be canonical
//!   ([`canonical_version`]) and applies the `+incompatible` rules the go command enforces when it
//!   resolves versions (cmd/go/internal/modfetch/coderepo.go): `+incompatible` only on major
//!   versions ≥ 2 of a path with no major-version suffix. That is what a proxy must serve.
//! - Errors carry a specific reason even where Go's message is generic (for example
//!   [`escape_version`]).

use std::fmt;

use crate::semver;

/// What kind of string a [`PathError`] is about; selects the wording of its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathKind {
    /// A module path ([`check_path`]).
    Module,
    /// A package import path ([`check_import_path`]).
    Import,
    /// A file path inside a module ([`check_file_path`]).
    File,
    /// An escaped module path given to [`unescape_path`].
    EscapedModule,
    /// A version given to [`escape_version`].
    Version,
    /// An escaped version given to [`unescape_version`] (or, for a bad result, the result).
    EscapedVersion,
}

impl fmt::Display for PathKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathKind::Module => "module",
            PathKind::Import => "import",
            PathKind::File => "file",
            PathKind::EscapedModule => "escaped module",
            PathKind::Version => "version",
            PathKind::EscapedVersion => "escaped version",
        })
    }
}

/// Why a path (or version string) was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathReason {
    /// The path is the empty string.
    Empty,
    /// The path starts with `-` (module and import paths).
    LeadingDash,
    /// The path contains `//`.
    DoubleSlash,
    /// The path ends with `/`.
    TrailingSlash,
    /// A module path starts with `/` (Go's wording; in practice [`PathReason::EmptyElement`] is
    /// reported first, as Go does).
    LeadingSlash,
    /// An element is empty.
    EmptyElement,
    /// An element is made only of dots (`.`, `..`, …).
    DotsOnlyElement(String),
    /// An element of a module path starts with a dot.
    LeadingDot,
    /// An element ends with a dot.
    TrailingDot,
    /// An element contains a character not allowed for this kind of path.
    InvalidChar(char),
    /// An element, up to its first dot, is a name Windows reserves (the offending prefix).
    WindowsReservedName(String),
    /// An element ends in `~` and digits (before its first dot), like a Windows short name.
    WindowsShortName,
    /// The first element of a module path has no dot.
    MissingDotInFirstElement,
    /// The first element of a module path starts with a dash (in practice
    /// [`PathReason::LeadingDash`] is reported first, as Go does).
    LeadingDashInFirstElement,
    /// The first element of a module path contains a character other than `a-z 0-9 . -`.
    InvalidCharInFirstElement(char),
    /// The final element looks like a major version but is not a valid suffix (`/v1`, `/v02`,
    /// `/v2.1`, a `gopkg.in` path without `.vN`).
    InvalidMajorSuffix,
    /// A version contains `!`, which escaping cannot represent.
    ContainsBang,
    /// A string to escape or unescape contains a non-ASCII character.
    NonAscii(char),
    /// An escaped string contains an uppercase letter.
    UppercaseInEscaped(char),
    /// An escaped string has `!` followed by something other than a lowercase ASCII letter.
    BadBang,
    /// An escaped string ends with `!`.
    TrailingBang,
    /// The unescaped text is not a valid path (the check that failed).
    Invalid(Box<PathError>),
}

impl fmt::Display for PathReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathReason::Empty => f.write_str("empty string"),
            PathReason::LeadingDash => f.write_str("leading dash"),
            PathReason::DoubleSlash => f.write_str("double slash"),
            PathReason::TrailingSlash => f.write_str("trailing slash"),
            PathReason::LeadingSlash => f.write_str("leading slash"),
            PathReason::EmptyElement => f.write_str("empty path element"),
            PathReason::DotsOnlyElement(e) => write!(f, "invalid path element {}", go_quote(e)),
            PathReason::LeadingDot => f.write_str("leading dot in path element"),
            PathReason::TrailingDot => f.write_str("trailing dot in path element"),
            PathReason::InvalidChar(c) => write!(f, "invalid char {}", go_quote_char(*c)),
            PathReason::WindowsReservedName(s) => write!(
                f,
                "{} disallowed as path element component on Windows",
                go_quote(s)
            ),
            PathReason::WindowsShortName => {
                f.write_str("trailing tilde and digits in path element")
            }
            PathReason::MissingDotInFirstElement => {
                f.write_str("missing dot in first path element")
            }
            PathReason::LeadingDashInFirstElement => {
                f.write_str("leading dash in first path element")
            }
            PathReason::InvalidCharInFirstElement(c) => {
                write!(
                    f,
                    "invalid char {} in first path element",
                    go_quote_char(*c)
                )
            }
            PathReason::InvalidMajorSuffix => f.write_str("invalid version"),
            PathReason::ContainsBang => f.write_str("contains '!'"),
            PathReason::NonAscii(c) => write!(f, "non-ASCII char {}", go_quote_char(*c)),
            PathReason::UppercaseInEscaped(c) => {
                write!(f, "uppercase letter {} must be escaped", go_quote_char(*c))
            }
            PathReason::BadBang => f.write_str("'!' not followed by a lowercase letter"),
            PathReason::TrailingBang => f.write_str("trailing '!'"),
            PathReason::Invalid(inner) => inner.fmt(f),
        }
    }
}

/// A module, import or file path (or a version used as a file name) that breaks the rules.
///
/// Displays like Go's `InvalidPathError`: `malformed module path "x": missing dot in first path
/// element`; escaped forms display like `UnescapePath`/`UnescapeVersion` errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PathError {
    /// What the string was supposed to be.
    pub kind: PathKind,
    /// The offending string as given (for [`PathKind::EscapedVersion`] with an
    /// [`PathReason::Invalid`]-style failure, the unescaped result, as Go reports it).
    pub path: String,
    /// Why it was rejected.
    pub reason: PathReason,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = go_quote(&self.path);
        match self.kind {
            PathKind::Module | PathKind::Import | PathKind::File => {
                write!(f, "malformed {} path {q}: {}", self.kind, self.reason)
            }
            PathKind::EscapedModule => {
                write!(f, "invalid escaped module path {q}: {}", self.reason)
            }
            PathKind::Version => write!(
                f,
                "version {q} invalid: disallowed version string: {}",
                self.reason
            ),
            PathKind::EscapedVersion => write!(f, "invalid escaped version {q}: {}", self.reason),
        }
    }
}

impl PathError {
    fn new(kind: PathKind, path: &str, reason: PathReason) -> Self {
        PathError {
            kind,
            path: path.to_owned(),
            reason,
        }
    }
}

/// Why a version does not suit a module path (see [`ModuleError::Version`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionReason {
    /// The version is not a valid semantic version.
    NotSemver,
    /// The version is valid but not canonical; the canonical form is given.
    NotCanonical {
        /// What the version should have been written as.
        canonical: String,
    },
    /// The version's major version does not match the path's major-version suffix.
    WrongMajor {
        /// The major version(s) the path allows: `v2`, or `v0 or v1`.
        want: String,
        /// The version's major version (`v3`), empty when the version is not semver.
        got: String,
    },
    /// `+incompatible` on a v0 or v1 version.
    IncompatibleOnCompatibleMajor {
        /// The version's major version.
        major: String,
    },
    /// `+incompatible` on a module path that has a major-version suffix.
    IncompatibleWithMajorSuffix,
}

impl fmt::Display for VersionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionReason::NotSemver => f.write_str("not a semantic version"),
            VersionReason::NotCanonical { canonical } => {
                write!(f, "not a canonical version (should be {canonical})")
            }
            VersionReason::WrongMajor { want, got } => write!(f, "should be {want}, not {got}"),
            VersionReason::IncompatibleOnCompatibleMajor { major } => write!(
                f,
                "+incompatible suffix not allowed: major version {major} is compatible"
            ),
            VersionReason::IncompatibleWithMajorSuffix => f.write_str(
                "+incompatible suffix not allowed: module path includes a major version suffix, \
                 so major version must match",
            ),
        }
    }
}

/// A module path/version pair that is not valid (Go's `ModuleError` / `InvalidVersionError`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModuleError {
    /// The module path itself is malformed.
    #[error(transparent)]
    Path(#[from] PathError),
    /// The version is malformed or does not suit the path.
    #[error("{}", version_error_text(path.as_deref(), version, *pseudo, reason))]
    Version {
        /// The module path, when known (`None` from [`check_path_major`]).
        path: Option<String>,
        /// The offending version.
        version: String,
        /// Whether to call it a pseudo-version in the message (wording only). [`check`] and
        /// [`check_path_major`] leave it `false`, as Go's `Check` and `CheckPathMajor` do.
        pseudo: bool,
        /// What is wrong with it.
        reason: VersionReason,
    },
}

fn version_error_text(
    path: Option<&str>,
    version: &str,
    pseudo: bool,
    reason: &VersionReason,
) -> String {
    let noun = if pseudo { "pseudo-version" } else { "version" };
    match path {
        Some(p) => format!("{p}@{version}: invalid {noun}: {reason}"),
        None => format!("{noun} {} invalid: {reason}", go_quote(version)),
    }
}

impl ModuleError {
    fn version(path: Option<&str>, version: &str, reason: VersionReason) -> Self {
        ModuleError::Version {
            path: path.map(str::to_owned),
            version: version.to_owned(),
            // Go's Check and CheckPathMajor never set the pseudo-version flag.
            pseudo: false,
            reason,
        }
    }

    fn with_path(self, module_path: &str) -> Self {
        match self {
            ModuleError::Version {
                version,
                pseudo,
                reason,
                ..
            } => ModuleError::Version {
                path: Some(module_path.to_owned()),
                version,
                pseudo,
                reason,
            },
            other => other,
        }
    }
}

/// A module path and version (Go's `module.Version`), both unescaped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleVersion {
    /// The module path, like `golang.org/x/text`.
    pub path: String,
    /// The version, usually canonical semver; may be empty (a main module or a local replacement).
    pub version: String,
}

impl ModuleVersion {
    /// Builds a pair from its parts.
    pub fn new(path: impl Into<String>, version: impl Into<String>) -> Self {
        ModuleVersion {
            path: path.into(),
            version: version.into(),
        }
    }
}

impl fmt::Display for ModuleVersion {
    /// `path@version`, or just `path` when the version is empty (as Go prints it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.version.is_empty() {
            f.write_str(&self.path)
        } else {
            write!(f, "{}@{}", self.path, self.version)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Path checks

fn module_char_ok(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')
}

fn import_char_ok(c: char) -> bool {
    module_char_ok(c) || c == '+'
}

fn file_char_ok(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || "!#$%&()+,-.=@[]^_{}~ ".contains(c)
    } else {
        is_go_letter(c)
    }
}

/// Go's `unicode.IsLetter` (categories Lu, Ll, Lt, Lm, Lo) for non-ASCII characters, from
/// [`LETTER_RANGES`]. Rust's `char::is_alphabetic` is wider (letter numbers, Other_Alphabetic
/// marks and symbols), so it cannot be used.
fn is_go_letter(c: char) -> bool {
    let n = u32::from(c);
    LETTER_RANGES
        .binary_search_by(|&(lo, hi)| {
            if hi < n {
                std::cmp::Ordering::Less
            } else if lo > n {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

const WINDOWS_RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Module,
    Import,
    File,
}

/// Checks one path element against the rules for `kind`.
fn check_elem(elem: &str, kind: Kind) -> Result<(), PathReason> {
    if elem.is_empty() {
        return Err(PathReason::EmptyElement);
    }
    if elem.bytes().all(|b| b == b'.') {
        return Err(PathReason::DotsOnlyElement(elem.to_owned()));
    }
    if kind == Kind::Module && elem.starts_with('.') {
        return Err(PathReason::LeadingDot);
    }
    if elem.ends_with('.') {
        return Err(PathReason::TrailingDot);
    }
    let char_ok = match kind {
        Kind::Module => module_char_ok,
        Kind::Import => import_char_ok,
        Kind::File => file_char_ok,
    };
    if let Some(c) = elem.chars().find(|&c| !char_ok(c)) {
        return Err(PathReason::InvalidChar(c));
    }
    // Windows looks only at the part before the first dot when reserving names.
    let stem = elem.split('.').next().unwrap_or(elem);
    if WINDOWS_RESERVED
        .iter()
        .any(|bad| bad.eq_ignore_ascii_case(stem))
    {
        return Err(PathReason::WindowsReservedName(stem.to_owned()));
    }
    if kind != Kind::File
        && let Some(tilde) = stem.rfind('~')
    {
        let digits = &stem[tilde + 1..];
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PathReason::WindowsShortName);
        }
    }
    Ok(())
}

/// Checks the rules shared by module, import and file paths.
fn check_general(path: &str, kind: Kind) -> Result<(), PathReason> {
    if path.is_empty() {
        return Err(PathReason::Empty);
    }
    if kind != Kind::File && path.starts_with('-') {
        return Err(PathReason::LeadingDash);
    }
    if path.contains("//") {
        return Err(PathReason::DoubleSlash);
    }
    if path.ends_with('/') {
        return Err(PathReason::TrailingSlash);
    }
    path.split('/').try_for_each(|elem| check_elem(elem, kind))
}

/// Checks that `path` is a valid module path (Go's `module.CheckPath`); see the module docs.
pub fn check_path(path: &str) -> Result<(), PathError> {
    check_module_path(path).map_err(|reason| PathError::new(PathKind::Module, path, reason))
}

fn check_module_path(path: &str) -> Result<(), PathReason> {
    check_general(path, Kind::Module)?;
    let first = path.split('/').next().unwrap_or(path);
    if first.is_empty() {
        return Err(PathReason::LeadingSlash);
    }
    if !first.contains('.') {
        return Err(PathReason::MissingDotInFirstElement);
    }
    if first.starts_with('-') {
        return Err(PathReason::LeadingDashInFirstElement);
    }
    if let Some(c) = first
        .chars()
        .find(|&c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-'))
    {
        return Err(PathReason::InvalidCharInFirstElement(c));
    }
    if split_path_version(path).is_none() {
        return Err(PathReason::InvalidMajorSuffix);
    }
    Ok(())
}

/// Checks that `path` is a valid package import path (Go's `module.CheckImportPath`): like a
/// module path's elements but `+` is allowed, leading dots are allowed, and there is no rule for
/// the first element or a major-version suffix.
pub fn check_import_path(path: &str) -> Result<(), PathError> {
    check_general(path, Kind::Import).map_err(|r| PathError::new(PathKind::Import, path, r))
}

/// Checks that `path` is a valid slash-separated file path inside a module (Go's
/// `module.CheckFilePath`), as the module zip rules require.
pub fn check_file_path(path: &str) -> Result<(), PathError> {
    check_general(path, Kind::File).map_err(|r| PathError::new(PathKind::File, path, r))
}

// ---------------------------------------------------------------------------------------------
// Escaping

/// Replaces each uppercase ASCII letter by `!` and its lowercase form. The input must be ASCII
/// without `!` (the checks run before guarantee it; this re-checks rather than trusting them).
fn escape_ascii(s: &str) -> Result<String, PathReason> {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c == '!' {
            return Err(PathReason::ContainsBang);
        }
        if !c.is_ascii() {
            return Err(PathReason::NonAscii(c));
        }
        if c.is_ascii_uppercase() {
            out.push('!');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// Reverses [`escape_ascii`], rejecting anything escaping could not have produced.
fn unescape_ascii(s: &str) -> Result<String, PathReason> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if !c.is_ascii() {
            return Err(PathReason::NonAscii(c));
        }
        if c.is_ascii_uppercase() {
            return Err(PathReason::UppercaseInEscaped(c));
        }
        if c == '!' {
            match chars.next() {
                None => return Err(PathReason::TrailingBang),
                Some(l) if l.is_ascii_lowercase() => out.push(l.to_ascii_uppercase()),
                Some(_) => return Err(PathReason::BadBang),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// Escapes a module path for use in URLs and file names (Go's `module.EscapePath`); fails if the
/// path is not a valid module path.
pub fn escape_path(path: &str) -> Result<String, PathError> {
    check_path(path)?;
    escape_ascii(path).map_err(|r| PathError::new(PathKind::Module, path, r))
}

/// Recovers a module path from its escaped form (Go's `module.UnescapePath`); fails if the text is
/// not a well-formed escape or the result is not a valid module path.
pub fn unescape_path(escaped: &str) -> Result<String, PathError> {
    let path =
        unescape_ascii(escaped).map_err(|r| PathError::new(PathKind::EscapedModule, escaped, r))?;
    check_path(&path).map_err(|e| {
        PathError::new(
            PathKind::EscapedModule,
            escaped,
            PathReason::Invalid(Box::new(e)),
        )
    })?;
    Ok(path)
}

/// Escapes a version for use in URLs and file names (Go's `module.EscapeVersion`). Any version
/// string is accepted (not only semver) if it is a valid file-path element without `!`.
pub fn escape_version(v: &str) -> Result<String, PathError> {
    check_elem(v, Kind::File).map_err(|r| PathError::new(PathKind::Version, v, r))?;
    escape_ascii(v).map_err(|r| PathError::new(PathKind::Version, v, r))
}

/// Recovers a version from its escaped form (Go's `module.UnescapeVersion`); the result must be a
/// valid file-path element.
pub fn unescape_version(escaped: &str) -> Result<String, PathError> {
    let v = unescape_ascii(escaped)
        .map_err(|r| PathError::new(PathKind::EscapedVersion, escaped, r))?;
    check_elem(&v, Kind::File).map_err(|r| PathError::new(PathKind::EscapedVersion, &v, r))?;
    Ok(v)
}

// ---------------------------------------------------------------------------------------------
// Major versions

/// Splits a module path into its prefix and major-version suffix (Go's `SplitPathVersion`).
///
/// The suffix is `/vN` (N ≥ 2, no leading zero, no dots), or for `gopkg.in/` paths `.vN` with an
/// optional `-unstable` (any N, leading zero only for `.v0`), or `""` when the path has none.
/// Returns `None` when the final element looks like a version but breaks these rules
/// (`example.com/m/v1`, `example.com/m/v1.2`, `gopkg.in/yaml`).
pub fn split_path_version(path: &str) -> Option<(&str, &str)> {
    if path.starts_with("gopkg.in/") {
        return split_gopkg_in(path);
    }
    let bytes = path.as_bytes();
    // Trailing run of digits and dots.
    let mut i = bytes.len();
    let mut saw_dot = false;
    while i > 0 && (bytes[i - 1].is_ascii_digit() || bytes[i - 1] == b'.') {
        saw_dot |= bytes[i - 1] == b'.';
        i -= 1;
    }
    if i <= 1 || i == bytes.len() || bytes[i - 1] != b'v' || bytes[i - 2] != b'/' {
        return Some((path, ""));
    }
    let (prefix, major) = path.split_at(i - 2);
    let digits = &major[2..];
    if saw_dot || digits.starts_with('0') || major == "/v1" {
        return None;
    }
    Some((prefix, major))
}

fn split_gopkg_in(path: &str) -> Option<(&str, &str)> {
    let body = path.strip_suffix("-unstable").unwrap_or(path);
    let bytes = body.as_bytes();
    let mut i = bytes.len();
    while i > 0 && bytes[i - 1].is_ascii_digit() {
        i -= 1;
    }
    if i <= 1 || bytes[i - 1] != b'v' || bytes[i - 2] != b'.' {
        return None;
    }
    let (prefix, major) = path.split_at(i - 2);
    // `.v` alone is no major version; a leading zero is allowed only in `.v0` itself. A
    // suffix without digits (`.v-unstable`) splits here and fails later in check_path_major,
    // as in Go.
    let mb = major.as_bytes();
    if mb.len() <= 2 || (mb[2] == b'0' && major != ".v0") {
        return None;
    }
    Some((prefix, major))
}

/// Checks that semantic version `version` suits the path major-version suffix `path_major` (as
/// returned by [`split_path_version`]); Go's `CheckPathMajor`.
///
/// With no suffix, v0 and v1 are allowed, and any major version marked `+incompatible`. With
/// `/vN` or `.vN`, the major version must be `vN`, except that `v0.0.0-…` pseudo-versions are
/// accepted for gopkg.in `.v1` (an old go command bug produced them).
pub fn check_path_major(version: &str, path_major: &str) -> Result<(), ModuleError> {
    let path_major = if path_major.starts_with(".v") {
        path_major.strip_suffix("-unstable").unwrap_or(path_major)
    } else {
        path_major
    };
    if version.starts_with("v0.0.0-") && path_major == ".v1" {
        return Ok(());
    }
    let got = semver::major(version).unwrap_or_default();
    let want = if path_major.is_empty() {
        if got == "v0" || got == "v1" || semver::build(version).as_deref() == Some("+incompatible")
        {
            return Ok(());
        }
        "v0 or v1"
    } else if let Some(m) = path_major
        .strip_prefix('/')
        .or_else(|| path_major.strip_prefix('.'))
    {
        if got == m {
            return Ok(());
        }
        m
    } else {
        path_major
    };
    Err(ModuleError::version(
        None,
        version,
        VersionReason::WrongMajor {
            want: want.to_owned(),
            got,
        },
    ))
}

/// Reports whether [`check_path_major`] accepts `version` for `path_major` (Go's `MatchPathMajor`).
pub fn match_path_major(version: &str, path_major: &str) -> bool {
    check_path_major(version, path_major).is_ok()
}

/// The major-version tag prefix a path major-version suffix implies (Go's `PathMajorPrefix`):
/// `"/v2"` → `"v2"`, `".v1-unstable"` → `"v1"`, `""` → `""` (meaning v0 or v1).
///
/// Go panics on a suffix that [`split_path_version`] cannot return; this returns `""` for one.
pub fn path_major_prefix(path_major: &str) -> &str {
    let trimmed = if path_major.starts_with(".v") {
        path_major.strip_suffix("-unstable").unwrap_or(path_major)
    } else {
        path_major
    };
    let Some(m) = trimmed
        .strip_prefix('/')
        .or_else(|| trimmed.strip_prefix('.'))
    else {
        return "";
    };
    match semver::major(m) {
        Some(major) if major == m => m,
        _ => "",
    }
}

/// The canonical form of a version (Go's `module.CanonicalVersion`): [`semver::canonical`], but
/// keeping a `+incompatible` build suffix. `None` if `v` is not a semantic version.
pub fn canonical_version(v: &str) -> Option<String> {
    let mut c = semver::canonical(v)?;
    if semver::build(v).as_deref() == Some("+incompatible") {
        c.push_str("+incompatible");
    }
    Some(c)
}

/// Checks that `version` is a version a proxy may serve for module `path`: the path is valid, the
/// version is canonical semver (`+incompatible` kept), its major version suits the path, and
/// `+incompatible` appears only on v2+ of a path without a major-version suffix.
///
/// Go's `module.Check` plus the canonical and `+incompatible` rules (see the module docs).
pub fn check(path: &str, version: &str) -> Result<(), ModuleError> {
    check_path(path)?;
    let bad = |reason| Err(ModuleError::version(Some(path), version, reason));
    let Some(canonical) = canonical_version(version) else {
        return bad(VersionReason::NotSemver);
    };
    if canonical != version {
        return bad(VersionReason::NotCanonical { canonical });
    }
    let (_, path_major) = split_path_version(path).unwrap_or((path, ""));
    check_path_major(version, path_major).map_err(|e| e.with_path(path))?;
    if semver::build(version).is_some() {
        // The only build suffix a canonical version can carry is +incompatible.
        if !path_major.is_empty() {
            return bad(VersionReason::IncompatibleWithMajorSuffix);
        }
        let major = semver::major(version).unwrap_or_default();
        if major == "v0" || major == "v1" {
            return bad(VersionReason::IncompatibleOnCompatibleMajor { major });
        }
    }
    Ok(())
}

/// Reports whether `v` is a canonical version that [`check`] accepts for module `path`.
pub fn is_canonical_version(path: &str, v: &str) -> bool {
    check(path, v).is_ok()
}

// ---------------------------------------------------------------------------------------------
// GOPRIVATE-style prefix patterns

/// Reports whether some path prefix of `target` matches one of the comma-separated glob patterns
/// in `globs` (Go's `module.MatchPrefixPatterns`, as GOPRIVATE, GONOPROXY and GONOSUMDB use).
///
/// A pattern with N slashes is matched, with Go's `path.Match` syntax (`*`, `?`, `[…]`, `\`),
/// against the first N+1 elements of `target`. Empty patterns are skipped, a trailing slash on a
/// pattern is ignored, and a malformed pattern never matches.
pub fn match_prefix_patterns(globs: &str, target: &str) -> bool {
    globs.split(',').any(|glob| {
        let glob = glob.strip_suffix('/').unwrap_or(glob);
        if glob.is_empty() {
            return false;
        }
        let slashes = glob.matches('/').count();
        let prefix = match target.match_indices('/').nth(slashes) {
            Some((i, _)) => &target[..i],
            None => {
                if target.matches('/').count() < slashes {
                    return false;
                }
                target
            }
        };
        path_match(glob, prefix).unwrap_or(false)
    })
}

/// A glob pattern that breaks `path.Match` syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadPattern;

/// Go's `path.Match`: reports whether `name` matches the shell pattern `pattern`.
///
/// `*` matches any run of non-`/` characters, `?` one non-`/` character, `[…]` one character from
/// a class (`^` negates; `a-z` ranges; it may match `/`), and `\` escapes the next character.
/// A malformed pattern is an error even when the name would not have matched. A `*` followed by
/// literal text tries the leftmost placement that fits, as Go does (not full backtracking).
/// Go tries star placements at every byte and we at every character; the two can differ only for
/// non-ASCII names, which module paths never are.
pub(crate) fn path_match(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    let chunks = split_chunks(pattern);
    // Go reports a syntax error anywhere in the pattern; check all chunks up front.
    for c in &chunks {
        match_chunk(c.text, "")?;
    }
    let mut name = name;
    for (idx, chunk) in chunks.iter().enumerate() {
        let last = idx + 1 == chunks.len();
        if chunk.star && chunk.text.is_empty() {
            // A trailing star: the rest must be a single path element.
            return Ok(!name.contains('/'));
        }
        if let Some(rest) = match_chunk(chunk.text, name)?
            && (rest.is_empty() || !last)
        {
            name = rest;
            continue;
        }
        if !chunk.star {
            return Ok(false);
        }
        // Let the star swallow non-slash characters until the chunk fits.
        let mut found = None;
        for (i, c) in name.char_indices() {
            if c == '/' {
                break;
            }
            let after = &name[i + c.len_utf8()..];
            if let Some(rest) = match_chunk(chunk.text, after)? {
                if last && !rest.is_empty() {
                    continue;
                }
                found = Some(rest);
                break;
            }
        }
        match found {
            Some(rest) => name = rest,
            None => return Ok(false),
        }
    }
    Ok(name.is_empty())
}

struct Chunk<'a> {
    star: bool,
    text: &'a str,
}

/// Splits a pattern into chunks, each an optional leading run of stars and the literal/class
/// text up to the next star outside a `[…]` class.
fn split_chunks(pattern: &str) -> Vec<Chunk<'_>> {
    let mut out = Vec::new();
    let mut rest = pattern;
    while !rest.is_empty() {
        let trimmed = rest.trim_start_matches('*');
        let star = trimmed.len() != rest.len();
        let bytes = trimmed.as_bytes();
        let mut in_class = false;
        let mut end = bytes.len();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' if i + 1 < bytes.len() => i += 1,
                b'[' => in_class = true,
                b']' => in_class = false,
                b'*' if !in_class => {
                    end = i;
                    break;
                }
                _ => {}
            }
            i += 1;
        }
        out.push(Chunk {
            star,
            text: &trimmed[..end],
        });
        rest = &trimmed[end..];
    }
    out
}

/// Matches a star-free chunk at the start of `s`, returning what is left of `s` on success.
/// The whole chunk is parsed even after a mismatch so syntax errors are always reported.
fn match_chunk<'s>(chunk: &str, s: &'s str) -> Result<Option<&'s str>, BadPattern> {
    let mut chunk = chunk;
    let mut s = s;
    let mut failed = false;
    while let Some(first) = chunk.chars().next() {
        failed |= s.is_empty();
        match first {
            '[' => {
                let mut r = None;
                if !failed {
                    let c = s.chars().next().ok_or(BadPattern)?;
                    s = &s[c.len_utf8()..];
                    r = Some(c);
                }
                chunk = &chunk[1..];
                let negated = chunk.starts_with('^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut ranges = 0;
                loop {
                    if ranges > 0 && chunk.starts_with(']') {
                        chunk = &chunk[1..];
                        break;
                    }
                    let lo;
                    (lo, chunk) = class_char(chunk)?;
                    let mut hi = lo;
                    if let Some(after_dash) = chunk.strip_prefix('-') {
                        (hi, chunk) = class_char(after_dash)?;
                    }
                    if let Some(c) = r {
                        matched |= lo <= c && c <= hi;
                    }
                    ranges += 1;
                }
                failed |= matched == negated;
            }
            '?' => {
                if !failed {
                    let c = s.chars().next().ok_or(BadPattern)?;
                    failed = c == '/';
                    s = &s[c.len_utf8()..];
                }
                chunk = &chunk[1..];
            }
            _ => {
                if first == '\\' {
                    chunk = &chunk[1..];
                }
                // The escaped or literal character must equal the next character of the name.
                let lit = chunk.chars().next().ok_or(BadPattern)?;
                if !failed {
                    let c = s.chars().next().ok_or(BadPattern)?;
                    failed = c != lit;
                    s = &s[c.len_utf8()..];
                }
                chunk = &chunk[lit.len_utf8()..];
            }
        }
    }
    Ok(if failed { None } else { Some(s) })
}

/// Reads one (possibly escaped) character of a `[…]` class; the class must continue after it.
fn class_char(chunk: &str) -> Result<(char, &str), BadPattern> {
    let chunk = match chunk.chars().next() {
        None | Some('-') | Some(']') => return Err(BadPattern),
        Some('\\') => &chunk[1..],
        Some(_) => chunk,
    };
    let c = chunk.chars().next().ok_or(BadPattern)?;
    let rest = &chunk[c.len_utf8()..];
    if rest.is_empty() {
        return Err(BadPattern);
    }
    Ok((c, rest))
}

// ---------------------------------------------------------------------------------------------
// Quoting like Go's %q

/// Quotes a string the way Go's `%q` does for the strings this crate reports (double quotes;
/// `\"`, `\\`, `\n`-style escapes and `\x..` for other control characters).
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped(&mut out, c, '"');
    }
    out.push('"');
    out
}

/// Quotes a character the way Go's `%q` does for a rune (single quotes).
pub(crate) fn go_quote_char(c: char) -> String {
    let mut out = String::from("'");
    push_escaped(&mut out, c, '\'');
    out.push('\'');
    out
}

fn push_escaped(out: &mut String, c: char, quote: char) {
    match c {
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        '\\' => out.push_str("\\\\"),
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if !c.is_ascii() && !is_go_letter(c) && c.escape_debug().next() == Some('\\') => {
            let n = c as u32;
            if n <= 0xffff {
                out.push_str(&format!("\\u{n:04x}"));
            } else {
                out.push_str(&format!("\\U{n:08x}"));
            }
        }
        c => out.push(c),
    }
}

/// The non-ASCII code points Go 1.27 (Unicode 17.0.0) classifies as letters (`unicode.Letter`),
/// as sorted inclusive ranges. Generated by a throwaway Go program that walks every code point
/// with `unicode.IsLetter` and merges adjacent ones.
#[rustfmt::skip]
static LETTER_RANGES: &[(u32, u32)] = &[
(0x00AA, 0x00AA), (0x00B5, 0x00B5), (0x00BA, 0x00BA), (0x00C0, 0x00D6), (0x00D8, 0x00F6),
(0x00F8, 0x02C1), (0x02C6, 0x02D1), (0x02E0, 0x02E4), (0x02EC, 0x02EC), (0x02EE, 0x02EE),
(0x0370, 0x0374), (0x0376, 0x0377), (0x037A, 0x037D), (0x037F, 0x037F), (0x0386, 0x0386),
(0x0388, 0x038A), (0x038C, 0x038C), (0x038E, 0x03A1), (0x03A3, 0x03F5), (0x03F7, 0x0481),
(0x048A, 0x052F), (0x0531, 0x0556), (0x0559, 0x0559), (0x0560, 0x0588), (0x05D0, 0x05EA),
(0x05EF, 0x05F2), (0x0620, 0x064A), (0x066E, 0x066F), (0x0671, 0x06D3), (0x06D5, 0x06D5),
(0x06E5, 0x06E6), (0x06EE, 0x06EF), (0x06FA, 0x06FC), (0x06FF, 0x06FF), (0x0710, 0x0710),
(0x0712, 0x072F), (0x074D, 0x07A5), (0x07B1, 0x07B1), (0x07CA, 0x07EA), (0x07F4, 0x07F5),
(0x07FA, 0x07FA), (0x0800, 0x0815), (0x081A, 0x081A), (0x0824, 0x0824), (0x0828, 0x0828),
(0x0840, 0x0858), (0x0860, 0x086A), (0x0870, 0x0887), (0x0889, 0x088F), (0x08A0, 0x08C9),
(0x0904, 0x0939), (0x093D, 0x093D), (0x0950, 0x0950), (0x0958, 0x0961), (0x0971, 0x0980),
(0x0985, 0x098C), (0x098F, 0x0990), (0x0993, 0x09A8), (0x09AA, 0x09B0), (0x09B2, 0x09B2),
(0x09B6, 0x09B9), (0x09BD, 0x09BD), (0x09CE, 0x09CE), (0x09DC, 0x09DD), (0x09DF, 0x09E1),
(0x09F0, 0x09F1), (0x09FC, 0x09FC), (0x0A05, 0x0A0A), (0x0A0F, 0x0A10), (0x0A13, 0x0A28),
(0x0A2A, 0x0A30), (0x0A32, 0x0A33), (0x0A35, 0x0A36), (0x0A38, 0x0A39), (0x0A59, 0x0A5C),
(0x0A5E, 0x0A5E), (0x0A72, 0x0A74), (0x0A85, 0x0A8D), (0x0A8F, 0x0A91), (0x0A93, 0x0AA8),
(0x0AAA, 0x0AB0), (0x0AB2, 0x0AB3), (0x0AB5, 0x0AB9), (0x0ABD, 0x0ABD), (0x0AD0, 0x0AD0),
(0x0AE0, 0x0AE1), (0x0AF9, 0x0AF9), (0x0B05, 0x0B0C), (0x0B0F, 0x0B10), (0x0B13, 0x0B28),
(0x0B2A, 0x0B30), (0x0B32, 0x0B33), (0x0B35, 0x0B39), (0x0B3D, 0x0B3D), (0x0B5C, 0x0B5D),
(0x0B5F, 0x0B61), (0x0B71, 0x0B71), (0x0B83, 0x0B83), (0x0B85, 0x0B8A), (0x0B8E, 0x0B90),
(0x0B92, 0x0B95), (0x0B99, 0x0B9A), (0x0B9C, 0x0B9C), (0x0B9E, 0x0B9F), (0x0BA3, 0x0BA4),
(0x0BA8, 0x0BAA), (0x0BAE, 0x0BB9), (0x0BD0, 0x0BD0), (0x0C05, 0x0C0C), (0x0C0E, 0x0C10),
(0x0C12, 0x0C28), (0x0C2A, 0x0C39), (0x0C3D, 0x0C3D), (0x0C58, 0x0C5A), (0x0C5C, 0x0C5D),
(0x0C60, 0x0C61), (0x0C80, 0x0C80), (0x0C85, 0x0C8C), (0x0C8E, 0x0C90), (0x0C92, 0x0CA8),
(0x0CAA, 0x0CB3), (0x0CB5, 0x0CB9), (0x0CBD, 0x0CBD), (0x0CDC, 0x0CDE), (0x0CE0, 0x0CE1),
(0x0CF1, 0x0CF2), (0x0D04, 0x0D0C), (0x0D0E, 0x0D10), (0x0D12, 0x0D3A), (0x0D3D, 0x0D3D),
(0x0D4E, 0x0D4E), (0x0D54, 0x0D56), (0x0D5F, 0x0D61), (0x0D7A, 0x0D7F), (0x0D85, 0x0D96),
(0x0D9A, 0x0DB1), (0x0DB3, 0x0DBB), (0x0DBD, 0x0DBD), (0x0DC0, 0x0DC6), (0x0E01, 0x0E30),
(0x0E32, 0x0E33), (0x0E40, 0x0E46), (0x0E81, 0x0E82), (0x0E84, 0x0E84), (0x0E86, 0x0E8A),
(0x0E8C, 0x0EA3), (0x0EA5, 0x0EA5), (0x0EA7, 0x0EB0), (0x0EB2, 0x0EB3), (0x0EBD, 0x0EBD),
(0x0EC0, 0x0EC4), (0x0EC6, 0x0EC6), (0x0EDC, 0x0EDF), (0x0F00, 0x0F00), (0x0F40, 0x0F47),
(0x0F49, 0x0F6C), (0x0F88, 0x0F8C), (0x1000, 0x102A), (0x103F, 0x103F), (0x1050, 0x1055),
(0x105A, 0x105D), (0x1061, 0x1061), (0x1065, 0x1066), (0x106E, 0x1070), (0x1075, 0x1081),
(0x108E, 0x108E), (0x10A0, 0x10C5), (0x10C7, 0x10C7), (0x10CD, 0x10CD), (0x10D0, 0x10FA),
(0x10FC, 0x1248), (0x124A, 0x124D), (0x1250, 0x1256), (0x1258, 0x1258), (0x125A, 0x125D),
(0x1260, 0x1288), (0x128A, 0x128D), (0x1290, 0x12B0), (0x12B2, 0x12B5), (0x12B8, 0x12BE),
(0x12C0, 0x12C0), (0x12C2, 0x12C5), (0x12C8, 0x12D6), (0x12D8, 0x1310), (0x1312, 0x1315),
(0x1318, 0x135A), (0x1380, 0x138F), (0x13A0, 0x13F5), (0x13F8, 0x13FD), (0x1401, 0x166C),
(0x166F, 0x167F), (0x1681, 0x169A), (0x16A0, 0x16EA), (0x16F1, 0x16F8), (0x1700, 0x1711),
(0x171F, 0x1731), (0x1740, 0x1751), (0x1760, 0x176C), (0x176E, 0x1770), (0x1780, 0x17B3),
(0x17D7, 0x17D7), (0x17DC, 0x17DC), (0x1820, 0x1878), (0x1880, 0x1884), (0x1887, 0x18A8),
(0x18AA, 0x18AA), (0x18B0, 0x18F5), (0x1900, 0x191E), (0x1950, 0x196D), (0x1970, 0x1974),
(0x1980, 0x19AB), (0x19B0, 0x19C9), (0x1A00, 0x1A16), (0x1A20, 0x1A54), (0x1AA7, 0x1AA7),
(0x1B05, 0x1B33), (0x1B45, 0x1B4C), (0x1B83, 0x1BA0), (0x1BAE, 0x1BAF), (0x1BBA, 0x1BE5),
(0x1C00, 0x1C23), (0x1C4D, 0x1C4F), (0x1C5A, 0x1C7D), (0x1C80, 0x1C8A), (0x1C90, 0x1CBA),
(0x1CBD, 0x1CBF), (0x1CE9, 0x1CEC), (0x1CEE, 0x1CF3), (0x1CF5, 0x1CF6), (0x1CFA, 0x1CFA),
(0x1D00, 0x1DBF), (0x1E00, 0x1F15), (0x1F18, 0x1F1D), (0x1F20, 0x1F45), (0x1F48, 0x1F4D),
(0x1F50, 0x1F57), (0x1F59, 0x1F59), (0x1F5B, 0x1F5B), (0x1F5D, 0x1F5D), (0x1F5F, 0x1F7D),
(0x1F80, 0x1FB4), (0x1FB6, 0x1FBC), (0x1FBE, 0x1FBE), (0x1FC2, 0x1FC4), (0x1FC6, 0x1FCC),
(0x1FD0, 0x1FD3), (0x1FD6, 0x1FDB), (0x1FE0, 0x1FEC), (0x1FF2, 0x1FF4), (0x1FF6, 0x1FFC),
(0x2071, 0x2071), (0x207F, 0x207F), (0x2090, 0x209C), (0x2102, 0x2102), (0x2107, 0x2107),
(0x210A, 0x2113), (0x2115, 0x2115), (0x2119, 0x211D), (0x2124, 0x2124), (0x2126, 0x2126),
(0x2128, 0x2128), (0x212A, 0x212D), (0x212F, 0x2139), (0x213C, 0x213F), (0x2145, 0x2149),
(0x214E, 0x214E), (0x2183, 0x2184), (0x2C00, 0x2CE4), (0x2CEB, 0x2CEE), (0x2CF2, 0x2CF3),
(0x2D00, 0x2D25), (0x2D27, 0x2D27), (0x2D2D, 0x2D2D), (0x2D30, 0x2D67), (0x2D6F, 0x2D6F),
(0x2D80, 0x2D96), (0x2DA0, 0x2DA6), (0x2DA8, 0x2DAE), (0x2DB0, 0x2DB6), (0x2DB8, 0x2DBE),
(0x2DC0, 0x2DC6), (0x2DC8, 0x2DCE), (0x2DD0, 0x2DD6), (0x2DD8, 0x2DDE), (0x2E2F, 0x2E2F),
(0x3005, 0x3006), (0x3031, 0x3035), (0x303B, 0x303C), (0x3041, 0x3096), (0x309D, 0x309F),
(0x30A1, 0x30FA), (0x30FC, 0x30FF), (0x3105, 0x312F), (0x3131, 0x318E), (0x31A0, 0x31BF),
(0x31F0, 0x31FF), (0x3400, 0x4DBF), (0x4E00, 0xA48C), (0xA4D0, 0xA4FD), (0xA500, 0xA60C),
(0xA610, 0xA61F), (0xA62A, 0xA62B), (0xA640, 0xA66E), (0xA67F, 0xA69D), (0xA6A0, 0xA6E5),
(0xA717, 0xA71F), (0xA722, 0xA788), (0xA78B, 0xA7DC), (0xA7F1, 0xA801), (0xA803, 0xA805),
(0xA807, 0xA80A), (0xA80C, 0xA822), (0xA840, 0xA873), (0xA882, 0xA8B3), (0xA8F2, 0xA8F7),
(0xA8FB, 0xA8FB), (0xA8FD, 0xA8FE), (0xA90A, 0xA925), (0xA930, 0xA946), (0xA960, 0xA97C),
(0xA984, 0xA9B2), (0xA9CF, 0xA9CF), (0xA9E0, 0xA9E4), (0xA9E6, 0xA9EF), (0xA9FA, 0xA9FE),
(0xAA00, 0xAA28), (0xAA40, 0xAA42), (0xAA44, 0xAA4B), (0xAA60, 0xAA76), (0xAA7A, 0xAA7A),
(0xAA7E, 0xAAAF), (0xAAB1, 0xAAB1), (0xAAB5, 0xAAB6), (0xAAB9, 0xAABD), (0xAAC0, 0xAAC0),
(0xAAC2, 0xAAC2), (0xAADB, 0xAADD), (0xAAE0, 0xAAEA), (0xAAF2, 0xAAF4), (0xAB01, 0xAB06),
(0xAB09, 0xAB0E), (0xAB11, 0xAB16), (0xAB20, 0xAB26), (0xAB28, 0xAB2E), (0xAB30, 0xAB5A),
(0xAB5C, 0xAB69), (0xAB70, 0xABE2), (0xAC00, 0xD7A3), (0xD7B0, 0xD7C6), (0xD7CB, 0xD7FB),
(0xF900, 0xFA6D), (0xFA70, 0xFAD9), (0xFB00, 0xFB06), (0xFB13, 0xFB17), (0xFB1D, 0xFB1D),
(0xFB1F, 0xFB28), (0xFB2A, 0xFB36), (0xFB38, 0xFB3C), (0xFB3E, 0xFB3E), (0xFB40, 0xFB41),
(0xFB43, 0xFB44), (0xFB46, 0xFBB1), (0xFBD3, 0xFD3D), (0xFD50, 0xFD8F), (0xFD92, 0xFDC7),
(0xFDF0, 0xFDFB), (0xFE70, 0xFE74), (0xFE76, 0xFEFC), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A),
(0xFF66, 0xFFBE), (0xFFC2, 0xFFC7), (0xFFCA, 0xFFCF), (0xFFD2, 0xFFD7), (0xFFDA, 0xFFDC),
(0x10000, 0x1000B), (0x1000D, 0x10026), (0x10028, 0x1003A), (0x1003C, 0x1003D), (0x1003F, 0x1004D),
(0x10050, 0x1005D), (0x10080, 0x100FA), (0x10280, 0x1029C), (0x102A0, 0x102D0), (0x10300, 0x1031F),
(0x1032D, 0x10340), (0x10342, 0x10349), (0x10350, 0x10375), (0x10380, 0x1039D), (0x103A0, 0x103C3),
(0x103C8, 0x103CF), (0x10400, 0x1049D), (0x104B0, 0x104D3), (0x104D8, 0x104FB), (0x10500, 0x10527),
(0x10530, 0x10563), (0x10570, 0x1057A), (0x1057C, 0x1058A), (0x1058C, 0x10592), (0x10594, 0x10595),
(0x10597, 0x105A1), (0x105A3, 0x105B1), (0x105B3, 0x105B9), (0x105BB, 0x105BC), (0x105C0, 0x105F3),
(0x10600, 0x10736), (0x10740, 0x10755), (0x10760, 0x10767), (0x10780, 0x10785), (0x10787, 0x107B0),
(0x107B2, 0x107BA), (0x10800, 0x10805), (0x10808, 0x10808), (0x1080A, 0x10835), (0x10837, 0x10838),
(0x1083C, 0x1083C), (0x1083F, 0x10855), (0x10860, 0x10876), (0x10880, 0x1089E), (0x108E0, 0x108F2),
(0x108F4, 0x108F5), (0x10900, 0x10915), (0x10920, 0x10939), (0x10940, 0x10959), (0x10980, 0x109B7),
(0x109BE, 0x109BF), (0x10A00, 0x10A00), (0x10A10, 0x10A13), (0x10A15, 0x10A17), (0x10A19, 0x10A35),
(0x10A60, 0x10A7C), (0x10A80, 0x10A9C), (0x10AC0, 0x10AC7), (0x10AC9, 0x10AE4), (0x10B00, 0x10B35),
(0x10B40, 0x10B55), (0x10B60, 0x10B72), (0x10B80, 0x10B91), (0x10C00, 0x10C48), (0x10C80, 0x10CB2),
(0x10CC0, 0x10CF2), (0x10D00, 0x10D23), (0x10D4A, 0x10D65), (0x10D6F, 0x10D85), (0x10E80, 0x10EA9),
(0x10EB0, 0x10EB1), (0x10EC2, 0x10EC7), (0x10F00, 0x10F1C), (0x10F27, 0x10F27), (0x10F30, 0x10F45),
(0x10F70, 0x10F81), (0x10FB0, 0x10FC4), (0x10FE0, 0x10FF6), (0x11003, 0x11037), (0x11071, 0x11072),
(0x11075, 0x11075), (0x11083, 0x110AF), (0x110D0, 0x110E8), (0x11103, 0x11126), (0x11144, 0x11144),
(0x11147, 0x11147), (0x11150, 0x11172), (0x11176, 0x11176), (0x11183, 0x111B2), (0x111C1, 0x111C4),
(0x111DA, 0x111DA), (0x111DC, 0x111DC), (0x11200, 0x11211), (0x11213, 0x1122B), (0x1123F, 0x11240),
(0x11280, 0x11286), (0x11288, 0x11288), (0x1128A, 0x1128D), (0x1128F, 0x1129D), (0x1129F, 0x112A8),
(0x112B0, 0x112DE), (0x11305, 0x1130C), (0x1130F, 0x11310), (0x11313, 0x11328), (0x1132A, 0x11330),
(0x11332, 0x11333), (0x11335, 0x11339), (0x1133D, 0x1133D), (0x11350, 0x11350), (0x1135D, 0x11361),
(0x11380, 0x11389), (0x1138B, 0x1138B), (0x1138E, 0x1138E), (0x11390, 0x113B5), (0x113B7, 0x113B7),
(0x113D1, 0x113D1), (0x113D3, 0x113D3), (0x11400, 0x11434), (0x11447, 0x1144A), (0x1145F, 0x11461),
(0x11480, 0x114AF), (0x114C4, 0x114C5), (0x114C7, 0x114C7), (0x11580, 0x115AE), (0x115D8, 0x115DB),
(0x11600, 0x1162F), (0x11644, 0x11644), (0x11680, 0x116AA), (0x116B8, 0x116B8), (0x11700, 0x1171A),
(0x11740, 0x11746), (0x11800, 0x1182B), (0x118A0, 0x118DF), (0x118FF, 0x11906), (0x11909, 0x11909),
(0x1190C, 0x11913), (0x11915, 0x11916), (0x11918, 0x1192F), (0x1193F, 0x1193F), (0x11941, 0x11941),
(0x119A0, 0x119A7), (0x119AA, 0x119D0), (0x119E1, 0x119E1), (0x119E3, 0x119E3), (0x11A00, 0x11A00),
(0x11A0B, 0x11A32), (0x11A3A, 0x11A3A), (0x11A50, 0x11A50), (0x11A5C, 0x11A89), (0x11A9D, 0x11A9D),
(0x11AB0, 0x11AF8), (0x11BC0, 0x11BE0), (0x11C00, 0x11C08), (0x11C0A, 0x11C2E), (0x11C40, 0x11C40),
(0x11C72, 0x11C8F), (0x11D00, 0x11D06), (0x11D08, 0x11D09), (0x11D0B, 0x11D30), (0x11D46, 0x11D46),
(0x11D60, 0x11D65), (0x11D67, 0x11D68), (0x11D6A, 0x11D89), (0x11D98, 0x11D98), (0x11DB0, 0x11DDB),
(0x11EE0, 0x11EF2), (0x11F02, 0x11F02), (0x11F04, 0x11F10), (0x11F12, 0x11F33), (0x11FB0, 0x11FB0),
(0x12000, 0x12399), (0x12480, 0x12543), (0x12F90, 0x12FF0), (0x13000, 0x1342F), (0x13441, 0x13446),
(0x13460, 0x143FA), (0x14400, 0x14646), (0x16100, 0x1611D), (0x16800, 0x16A38), (0x16A40, 0x16A5E),
(0x16A70, 0x16ABE), (0x16AD0, 0x16AED), (0x16B00, 0x16B2F), (0x16B40, 0x16B43), (0x16B63, 0x16B77),
(0x16B7D, 0x16B8F), (0x16D40, 0x16D6C), (0x16E40, 0x16E7F), (0x16EA0, 0x16EB8), (0x16EBB, 0x16ED3),
(0x16F00, 0x16F4A), (0x16F50, 0x16F50), (0x16F93, 0x16F9F), (0x16FE0, 0x16FE1), (0x16FE3, 0x16FE3),
(0x16FF2, 0x16FF3), (0x17000, 0x18CD5), (0x18CFF, 0x18D1E), (0x18D80, 0x18DF2), (0x1AFF0, 0x1AFF3),
(0x1AFF5, 0x1AFFB), (0x1AFFD, 0x1AFFE), (0x1B000, 0x1B122), (0x1B132, 0x1B132), (0x1B150, 0x1B152),
(0x1B155, 0x1B155), (0x1B164, 0x1B167), (0x1B170, 0x1B2FB), (0x1BC00, 0x1BC6A), (0x1BC70, 0x1BC7C),
(0x1BC80, 0x1BC88), (0x1BC90, 0x1BC99), (0x1D400, 0x1D454), (0x1D456, 0x1D49C), (0x1D49E, 0x1D49F),
(0x1D4A2, 0x1D4A2), (0x1D4A5, 0x1D4A6), (0x1D4A9, 0x1D4AC), (0x1D4AE, 0x1D4B9), (0x1D4BB, 0x1D4BB),
(0x1D4BD, 0x1D4C3), (0x1D4C5, 0x1D505), (0x1D507, 0x1D50A), (0x1D50D, 0x1D514), (0x1D516, 0x1D51C),
(0x1D51E, 0x1D539), (0x1D53B, 0x1D53E), (0x1D540, 0x1D544), (0x1D546, 0x1D546), (0x1D54A, 0x1D550),
(0x1D552, 0x1D6A5), (0x1D6A8, 0x1D6C0), (0x1D6C2, 0x1D6DA), (0x1D6DC, 0x1D6FA), (0x1D6FC, 0x1D714),
(0x1D716, 0x1D734), (0x1D736, 0x1D74E), (0x1D750, 0x1D76E), (0x1D770, 0x1D788), (0x1D78A, 0x1D7A8),
(0x1D7AA, 0x1D7C2), (0x1D7C4, 0x1D7CB), (0x1DF00, 0x1DF1E), (0x1DF25, 0x1DF2A), (0x1E030, 0x1E06D),
(0x1E100, 0x1E12C), (0x1E137, 0x1E13D), (0x1E14E, 0x1E14E), (0x1E290, 0x1E2AD), (0x1E2C0, 0x1E2EB),
(0x1E4D0, 0x1E4EB), (0x1E5D0, 0x1E5ED), (0x1E5F0, 0x1E5F0), (0x1E6C0, 0x1E6DE), (0x1E6E0, 0x1E6E2),
(0x1E6E4, 0x1E6E5), (0x1E6E7, 0x1E6ED), (0x1E6F0, 0x1E6F4), (0x1E6FE, 0x1E6FF), (0x1E7E0, 0x1E7E6),
(0x1E7E8, 0x1E7EB), (0x1E7ED, 0x1E7EE), (0x1E7F0, 0x1E7FE), (0x1E800, 0x1E8C4), (0x1E900, 0x1E943),
(0x1E94B, 0x1E94B), (0x1EE00, 0x1EE03), (0x1EE05, 0x1EE1F), (0x1EE21, 0x1EE22), (0x1EE24, 0x1EE24),
(0x1EE27, 0x1EE27), (0x1EE29, 0x1EE32), (0x1EE34, 0x1EE37), (0x1EE39, 0x1EE39), (0x1EE3B, 0x1EE3B),
(0x1EE42, 0x1EE42), (0x1EE47, 0x1EE47), (0x1EE49, 0x1EE49), (0x1EE4B, 0x1EE4B), (0x1EE4D, 0x1EE4F),
(0x1EE51, 0x1EE52), (0x1EE54, 0x1EE54), (0x1EE57, 0x1EE57), (0x1EE59, 0x1EE59), (0x1EE5B, 0x1EE5B),
(0x1EE5D, 0x1EE5D), (0x1EE5F, 0x1EE5F), (0x1EE61, 0x1EE62), (0x1EE64, 0x1EE64), (0x1EE67, 0x1EE6A),
(0x1EE6C, 0x1EE72), (0x1EE74, 0x1EE77), (0x1EE79, 0x1EE7C), (0x1EE7E, 0x1EE7E), (0x1EE80, 0x1EE89),
(0x1EE8B, 0x1EE9B), (0x1EEA1, 0x1EEA3), (0x1EEA5, 0x1EEA9), (0x1EEAB, 0x1EEBB), (0x20000, 0x2A6DF),
(0x2A700, 0x2B81D), (0x2B820, 0x2CEAD), (0x2CEB0, 0x2EBE0), (0x2EBF0, 0x2EE5D), (0x2F800, 0x2FA1D),
(0x30000, 0x3134A), (0x31350, 0x33479),
];

#[cfg(test)]
mod tests {
    use super::*;

    // Expected messages below come from golang.org/x/mod (Go 1.27.3's vendored copy), run on the
    // same inputs by a throwaway oracle program; `None` means Go accepts the input.

    fn assert_path_table(check: fn(&str) -> Result<(), PathError>, table: &[(&str, Option<&str>)]) {
        for &(input, want) in table {
            let got = check(input).err().map(|e| e.to_string());
            assert_eq!(got.as_deref(), want, "input {input:?}");
        }
    }

    const CHECK_PATH_ACCEPTS: &[(&str, Option<&str>)] = &[
        ("example.com", None),
        ("example.com/m", None),
        ("github.com/Azure/azure-sdk", None),
        ("example.com/Upper/CASE", None),
        ("example.com/x~y", None),
        ("example.com/x~", None),
        ("example.com/x~a", None),
        ("example.com/a_b", None),
        ("example.com/a.b-c", None),
        ("example.com/-m", None),
        ("example.com/m.git", None),
        ("example.com/com0", None),
        ("example.com/m/conx", None),
        ("x.y", None),
        ("exa-mple.com", None),
        ("a..b.com/m", None),
        ("1.2.3.4/m", None),
    ];

    #[test]
    fn check_path_accepts_valid_module_paths() {
        assert_path_table(check_path, CHECK_PATH_ACCEPTS);
    }

    const CHECK_PATH_SHAPE: &[(&str, Option<&str>)] = &[
        ("", Some("malformed module path \"\": empty string")),
        (
            "-example.com",
            Some("malformed module path \"-example.com\": leading dash"),
        ),
        (
            "example.com//m",
            Some("malformed module path \"example.com//m\": double slash"),
        ),
        (
            "example.com/",
            Some("malformed module path \"example.com/\": trailing slash"),
        ),
        (
            "/example.com",
            Some("malformed module path \"/example.com\": empty path element"),
        ),
    ];

    #[test]
    fn check_path_rejects_empty_dash_and_bad_slashes() {
        assert_path_table(check_path, CHECK_PATH_SHAPE);
    }

    const CHECK_PATH_FIRST_ELEMENT: &[(&str, Option<&str>)] = &[
        (
            "example",
            Some("malformed module path \"example\": missing dot in first path element"),
        ),
        (
            "Example.com",
            Some("malformed module path \"Example.com\": invalid char 'E' in first path element"),
        ),
        (
            "exa_mple.com/m",
            Some(
                "malformed module path \"exa_mple.com/m\": invalid char '_' in first path element",
            ),
        ),
        (
            "example.com:8080/m",
            Some("malformed module path \"example.com:8080/m\": invalid char ':'"),
        ),
        (
            ".example.com",
            Some("malformed module path \".example.com\": leading dot in path element"),
        ),
    ];

    #[test]
    fn check_path_requires_lowercase_dotted_first_element() {
        assert_path_table(check_path, CHECK_PATH_FIRST_ELEMENT);
    }

    const CHECK_PATH_ELEMENTS: &[(&str, Option<&str>)] = &[
        (
            "example.com/.m",
            Some("malformed module path \"example.com/.m\": leading dot in path element"),
        ),
        (
            "example.com/m.",
            Some("malformed module path \"example.com/m.\": trailing dot in path element"),
        ),
        (
            "example.com/..",
            Some("malformed module path \"example.com/..\": invalid path element \"..\""),
        ),
        (
            "example.com/.",
            Some("malformed module path \"example.com/.\": invalid path element \".\""),
        ),
        (
            "example.com/m n",
            Some("malformed module path \"example.com/m n\": invalid char ' '"),
        ),
        (
            "example.com/m+n",
            Some("malformed module path \"example.com/m+n\": invalid char '+'"),
        ),
        (
            "example.com/m@v1",
            Some("malformed module path \"example.com/m@v1\": invalid char '@'"),
        ),
        (
            "example.com/é",
            Some("malformed module path \"example.com/é\": invalid char 'é'"),
        ),
        (
            "a.b/c\\d",
            Some("malformed module path \"a.b/c\\\\d\": invalid char '\\\\'"),
        ),
        (
            "example.com/m\u{0}",
            Some("malformed module path \"example.com/m\\x00\": invalid char '\\x00'"),
        ),
        (
            "example.com/m'q",
            Some("malformed module path \"example.com/m'q\": invalid char '\\''"),
        ),
    ];

    #[test]
    fn check_path_rejects_leading_dot_element_and_bad_chars() {
        assert_path_table(check_path, CHECK_PATH_ELEMENTS);
    }

    const CHECK_PATH_WINDOWS: &[(&str, Option<&str>)] = &[
        (
            "example.com/com1",
            Some(
                "malformed module path \"example.com/com1\": \"com1\" disallowed as path element component on Windows",
            ),
        ),
        (
            "example.com/COM1.txt",
            Some(
                "malformed module path \"example.com/COM1.txt\": \"COM1\" disallowed as path element component on Windows",
            ),
        ),
        (
            "example.com/aux",
            Some(
                "malformed module path \"example.com/aux\": \"aux\" disallowed as path element component on Windows",
            ),
        ),
        (
            "example.com/lpt9.go",
            Some(
                "malformed module path \"example.com/lpt9.go\": \"lpt9\" disallowed as path element component on Windows",
            ),
        ),
        (
            "example.com/nul.x/y",
            Some(
                "malformed module path \"example.com/nul.x/y\": \"nul\" disallowed as path element component on Windows",
            ),
        ),
        (
            "example.com/m/prn",
            Some(
                "malformed module path \"example.com/m/prn\": \"prn\" disallowed as path element component on Windows",
            ),
        ),
        (
            "example.com/m/Prn.txt",
            Some(
                "malformed module path \"example.com/m/Prn.txt\": \"Prn\" disallowed as path element component on Windows",
            ),
        ),
        (
            "example.com/GOPRO~1",
            Some(
                "malformed module path \"example.com/GOPRO~1\": trailing tilde and digits in path element",
            ),
        ),
        (
            "example.com/x~1.y",
            Some(
                "malformed module path \"example.com/x~1.y\": trailing tilde and digits in path element",
            ),
        ),
        (
            "example.com/~1",
            Some(
                "malformed module path \"example.com/~1\": trailing tilde and digits in path element",
            ),
        ),
    ];

    #[test]
    fn check_path_rejects_windows_reserved_and_short_names() {
        assert_path_table(check_path, CHECK_PATH_WINDOWS);
    }

    const CHECK_PATH_MAJOR_SUFFIX: &[(&str, Option<&str>)] = &[
        ("example.com/m/v2", None),
        ("example.com/m/v10", None),
        ("example.com/v2", None),
        ("example.com/v1x", None),
        ("example.com/x/v", None),
        ("example.com/m/v2/v3", None),
        ("example.com/m/v2/x", None),
        ("example.com/m/v2-unstable", None),
        ("example.com/m/x.v2", None),
        (
            "example.com/x/v2.0",
            Some("malformed module path \"example.com/x/v2.0\": invalid version"),
        ),
        (
            "example.com/x/v1",
            Some("malformed module path \"example.com/x/v1\": invalid version"),
        ),
        (
            "example.com/x/v02",
            Some("malformed module path \"example.com/x/v02\": invalid version"),
        ),
        (
            "example.com/x/v0",
            Some("malformed module path \"example.com/x/v0\": invalid version"),
        ),
        (
            "example.com/m/v1.2.3",
            Some("malformed module path \"example.com/m/v1.2.3\": invalid version"),
        ),
        ("gopkg.in/yaml.v2", None),
        ("gopkg.in/yaml.v0", None),
        ("gopkg.in/check.v1", None),
        ("gopkg.in/foo.v1-unstable", None),
        ("gopkg.in/yaml.v2-unstable", None),
        ("gopkg.in/user/pkg.v3", None),
        (
            "gopkg.in/yaml",
            Some("malformed module path \"gopkg.in/yaml\": invalid version"),
        ),
        (
            "gopkg.in/yaml.v02",
            Some("malformed module path \"gopkg.in/yaml.v02\": invalid version"),
        ),
        (
            "gopkg.in/yaml.v",
            Some("malformed module path \"gopkg.in/yaml.v\": invalid version"),
        ),
        (
            "gopkg.in/yaml.v1.2",
            Some("malformed module path \"gopkg.in/yaml.v1.2\": invalid version"),
        ),
        (
            "gopkg.in/v2",
            Some("malformed module path \"gopkg.in/v2\": invalid version"),
        ),
        (
            "gopkg.in/yaml.v2-Unstable",
            Some("malformed module path \"gopkg.in/yaml.v2-Unstable\": invalid version"),
        ),
        (
            "gopkg.in/user/pkg",
            Some("malformed module path \"gopkg.in/user/pkg\": invalid version"),
        ),
    ];

    #[test]
    fn check_path_requires_valid_major_version_suffix_and_gopkg_in_form() {
        assert_path_table(check_path, CHECK_PATH_MAJOR_SUFFIX);
    }

    const CHECK_IMPORT_PATH: &[(&str, Option<&str>)] = &[
        ("fmt", None),
        ("net/http", None),
        ("golang.org/x/text/unicode", None),
        ("a+b/c++", None),
        (".hidden/x", None),
        ("x/.y", None),
        ("x/y~z", None),
        ("example.com/m/v1", None),
        (
            "x/con",
            Some(
                "malformed import path \"x/con\": \"con\" disallowed as path element component on Windows",
            ),
        ),
        (
            "x/com9.y",
            Some(
                "malformed import path \"x/com9.y\": \"com9\" disallowed as path element component on Windows",
            ),
        ),
        ("-x", Some("malformed import path \"-x\": leading dash")),
        (
            "a b",
            Some("malformed import path \"a b\": invalid char ' '"),
        ),
        ("Éx", Some("malformed import path \"Éx\": invalid char 'É'")),
        (
            "x/@y",
            Some("malformed import path \"x/@y\": invalid char '@'"),
        ),
        (
            "x/y~2",
            Some("malformed import path \"x/y~2\": trailing tilde and digits in path element"),
        ),
        (
            "x/y~2.go",
            Some("malformed import path \"x/y~2.go\": trailing tilde and digits in path element"),
        ),
        (
            "x/y.",
            Some("malformed import path \"x/y.\": trailing dot in path element"),
        ),
        ("x//y", Some("malformed import path \"x//y\": double slash")),
        ("", Some("malformed import path \"\": empty string")),
        (
            "x/..",
            Some("malformed import path \"x/..\": invalid path element \"..\""),
        ),
        (
            "x/.",
            Some("malformed import path \"x/.\": invalid path element \".\""),
        ),
        (
            "x/...",
            Some("malformed import path \"x/...\": invalid path element \"...\""),
        ),
    ];

    #[test]
    fn check_import_path_allows_plus_and_leading_dots_but_not_first_element_rules() {
        assert_path_table(check_import_path, CHECK_IMPORT_PATH);
    }

    const CHECK_FILE_PATH: &[(&str, Option<&str>)] = &[
        ("go.mod", None),
        ("-x", None),
        ("a b.go", None),
        ("a/.hidden", None),
        ("a/b~1.go", None),
        ("a/lpt10", None),
        ("a/!#$%&()+,-.=@[]^_{}~ x", None),
        (
            "a/con.go",
            Some(
                "malformed file path \"a/con.go\": \"con\" disallowed as path element component on Windows",
            ),
        ),
        (
            "a/LPT1",
            Some(
                "malformed file path \"a/LPT1\": \"LPT1\" disallowed as path element component on Windows",
            ),
        ),
        (
            "a/lpt1.txt.go",
            Some(
                "malformed file path \"a/lpt1.txt.go\": \"lpt1\" disallowed as path element component on Windows",
            ),
        ),
        (
            "a/b:c",
            Some("malformed file path \"a/b:c\": invalid char ':'"),
        ),
        (
            "a/b*c",
            Some("malformed file path \"a/b*c\": invalid char '*'"),
        ),
        (
            "a/b\"c",
            Some("malformed file path \"a/b\\\"c\": invalid char '\"'"),
        ),
        (
            "a/b'c",
            Some("malformed file path \"a/b'c\": invalid char '\\''"),
        ),
        (
            "a/b<c",
            Some("malformed file path \"a/b<c\": invalid char '<'"),
        ),
        (
            "a/b>c",
            Some("malformed file path \"a/b>c\": invalid char '>'"),
        ),
        (
            "a/b?c",
            Some("malformed file path \"a/b?c\": invalid char '?'"),
        ),
        (
            "a/b`c",
            Some("malformed file path \"a/b`c\": invalid char '`'"),
        ),
        (
            "a/b|c",
            Some("malformed file path \"a/b|c\": invalid char '|'"),
        ),
        (
            "a\\b",
            Some("malformed file path \"a\\\\b\": invalid char '\\\\'"),
        ),
        (
            "a/\t",
            Some("malformed file path \"a/\\t\": invalid char '\\t'"),
        ),
        (
            "a/./b",
            Some("malformed file path \"a/./b\": invalid path element \".\""),
        ),
        (
            "a/../b",
            Some("malformed file path \"a/../b\": invalid path element \"..\""),
        ),
        (
            "a/...",
            Some("malformed file path \"a/...\": invalid path element \"...\""),
        ),
        ("a//b", Some("malformed file path \"a//b\": double slash")),
        ("a/", Some("malformed file path \"a/\": trailing slash")),
        ("/a", Some("malformed file path \"/a\": empty path element")),
        (
            "a/b.",
            Some("malformed file path \"a/b.\": trailing dot in path element"),
        ),
        (
            "a/b.c.",
            Some("malformed file path \"a/b.c.\": trailing dot in path element"),
        ),
    ];

    #[test]
    fn check_file_path_allows_more_punctuation_but_not_shell_specials() {
        assert_path_table(check_file_path, CHECK_FILE_PATH);
    }

    const CHECK_FILE_PATH_UNICODE: &[(&str, Option<&str>)] = &[
        ("α/β.go", None),
        ("a/é", None),
        ("a/ß", None),
        ("a/ǅ", None),
        ("a/ʰ", None),
        ("a/中文", None),
        ("a/Ⅻ", Some("malformed file path \"a/Ⅻ\": invalid char 'Ⅻ'")),
        (
            "a/😀",
            Some("malformed file path \"a/😀\": invalid char '😀'"),
        ),
        (
            "a/1²",
            Some("malformed file path \"a/1²\": invalid char '²'"),
        ),
        ("a/Ⓐ", Some("malformed file path \"a/Ⓐ\": invalid char 'Ⓐ'")),
        (
            "a/\u{ad}",
            Some("malformed file path \"a/\\u00ad\": invalid char '\\u00ad'"),
        ),
    ];

    #[test]
    fn check_file_path_allows_unicode_letters_only() {
        assert_path_table(check_file_path, CHECK_FILE_PATH_UNICODE);
        // A combining mark is not a letter (Go prints it unescaped; we escape it).
        assert!(check_file_path("a/e\u{301}").is_err());
        assert!(check_file_path("a/\u{0915}\u{093f}").is_err()); // Devanagari vowel sign: a mark
    }

    type Mapping = &'static [(&'static str, Result<&'static str, &'static str>)];

    /// Checks results; for errors, our message must start with Go's (we may add a reason).
    fn assert_mapping(f: fn(&str) -> Result<String, PathError>, table: Mapping) {
        for &(input, want) in table {
            match (f(input), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "input {input:?}"),
                (Err(got), Err(want)) => {
                    let got = got.to_string();
                    assert!(
                        got.starts_with(want),
                        "input {input:?}: got {got:?}, want {want:?}…"
                    );
                }
                (got, want) => panic!("input {input:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    const ESCAPE_PATH: Mapping = &[
        (
            "github.com/Azure/azure-sdk-for-go",
            Ok("github.com/!azure/azure-sdk-for-go"),
        ),
        (
            "github.com/GoogleCloudPlatform/cloudsql-proxy",
            Ok("github.com/!google!cloud!platform/cloudsql-proxy"),
        ),
        (
            "github.com/Sirupsen/logrus",
            Ok("github.com/!sirupsen/logrus"),
        ),
        ("example.com/a", Ok("example.com/a")),
        ("example.com/ZZ/v2", Ok("example.com/!z!z/v2")),
        (
            "Example.com",
            Err("malformed module path \"Example.com\": invalid char 'E' in first path element"),
        ),
        (
            "example.com/a!b",
            Err("malformed module path \"example.com/a!b\": invalid char '!'"),
        ),
    ];

    #[test]
    fn escape_path_replaces_uppercase_with_bang_lowercase() {
        assert_mapping(escape_path, ESCAPE_PATH);
    }

    const UNESCAPE_PATH: Mapping = &[
        ("github.com/!azure/x", Ok("github.com/Azure/x")),
        ("example.com/!g!o", Ok("example.com/GO")),
        (
            "github.com/Azure/x",
            Err("invalid escaped module path \"github.com/Azure/x\""),
        ),
        (
            "github.com/!!azure",
            Err("invalid escaped module path \"github.com/!!azure\""),
        ),
        (
            "github.com/!1",
            Err("invalid escaped module path \"github.com/!1\""),
        ),
        (
            "github.com/x!",
            Err("invalid escaped module path \"github.com/x!\""),
        ),
        (
            "example.com/!",
            Err("invalid escaped module path \"example.com/!\""),
        ),
        (
            "example.com/a!-b",
            Err("invalid escaped module path \"example.com/a!-b\""),
        ),
        (
            "example.com/é",
            Err("invalid escaped module path \"example.com/é\""),
        ),
        (
            "!example.com",
            Err(
                "invalid escaped module path \"!example.com\": malformed module path \"Example.com\": invalid char 'E' in first path element",
            ),
        ),
        (
            "",
            Err("invalid escaped module path \"\": malformed module path \"\": empty string"),
        ),
        (
            "example.com/m/v1",
            Err(
                "invalid escaped module path \"example.com/m/v1\": malformed module path \"example.com/m/v1\": invalid version",
            ),
        ),
        (
            "example.com/~1",
            Err(
                "invalid escaped module path \"example.com/~1\": malformed module path \"example.com/~1\": trailing tilde and digits in path element",
            ),
        ),
    ];

    #[test]
    fn unescape_path_rejects_uppercase_bad_bangs_and_invalid_results() {
        assert_mapping(unescape_path, UNESCAPE_PATH);
    }

    #[test]
    fn unescape_path_reasons_name_the_escape_error() {
        const TABLE: &[(&str, PathReason)] = &[
            ("github.com/Azure/x", PathReason::UppercaseInEscaped('A')),
            ("github.com/!!azure", PathReason::BadBang),
            ("github.com/x!", PathReason::TrailingBang),
            ("example.com/é", PathReason::NonAscii('é')),
        ];
        for (input, want) in TABLE {
            let err = unescape_path(input).unwrap_err();
            assert_eq!(err.kind, PathKind::EscapedModule);
            assert_eq!(&err.reason, want, "input {input:?}");
        }
    }

    const ESCAPE_VERSION: Mapping = &[
        ("v1.0.0", Ok("v1.0.0")),
        ("v1.0.0-RC1", Ok("v1.0.0-!r!c1")),
        ("master", Ok("master")),
        ("Master", Ok("!master")),
        ("HEAD", Ok("!h!e!a!d")),
        ("GOPRO~1", Ok("!g!o!p!r!o~1")),
        ("a b", Ok("a b")),
        (".x", Ok(".x")),
        ("@v", Ok("@v")),
        ("v1.0.0+incompatible", Ok("v1.0.0+incompatible")),
        (
            "v1.0.0!",
            Err("version \"v1.0.0!\" invalid: disallowed version string"),
        ),
        ("", Err("version \"\" invalid: disallowed version string")),
        (
            "v1/2",
            Err("version \"v1/2\" invalid: disallowed version string"),
        ),
        (
            "con",
            Err("version \"con\" invalid: disallowed version string"),
        ),
        (
            "x.",
            Err("version \"x.\" invalid: disallowed version string"),
        ),
        (
            "..",
            Err("version \"..\" invalid: disallowed version string"),
        ),
        (
            "a:b",
            Err("version \"a:b\" invalid: disallowed version string"),
        ),
        (
            "a*b",
            Err("version \"a*b\" invalid: disallowed version string"),
        ),
        // Go reports "internal error: inconsistency in EscapePath" here.
        ("é", Err("version \"é\" invalid: disallowed version string")),
    ];

    #[test]
    fn escape_version_allows_any_file_name_without_bang() {
        assert_mapping(escape_version, ESCAPE_VERSION);
    }

    const UNESCAPE_VERSION: Mapping = &[
        ("v1.0.0-!r!c1", Ok("v1.0.0-RC1")),
        ("!h!e!a!d", Ok("HEAD")),
        ("a~1", Ok("a~1")),
        ("a b", Ok("a b")),
        ("v1.0.0+incompatible", Ok("v1.0.0+incompatible")),
        ("v1.0.0-RC1", Err("invalid escaped version \"v1.0.0-RC1\"")),
        ("!", Err("invalid escaped version \"!\"")),
        ("!!a", Err("invalid escaped version \"!!a\"")),
        ("é", Err("invalid escaped version \"é\"")),
        ("", Err("invalid escaped version \"\": empty path element")),
        (
            "..",
            Err("invalid escaped version \"..\": invalid path element \"..\""),
        ),
        (
            "con",
            Err(
                "invalid escaped version \"con\": \"con\" disallowed as path element component on Windows",
            ),
        ),
        (
            "!con",
            Err(
                "invalid escaped version \"Con\": \"Con\" disallowed as path element component on Windows",
            ),
        ),
        (
            "a/b",
            Err("invalid escaped version \"a/b\": invalid char '/'"),
        ),
        (
            "x.",
            Err("invalid escaped version \"x.\": trailing dot in path element"),
        ),
    ];

    #[test]
    fn unescape_version_rejects_bad_escapes_and_invalid_file_names() {
        assert_mapping(unescape_version, UNESCAPE_VERSION);
    }

    #[test]
    fn escaping_round_trips_valid_paths_and_versions() {
        for (path, _) in CHECK_PATH_ACCEPTS.iter().chain(CHECK_PATH_MAJOR_SUFFIX) {
            if let Ok(esc) = escape_path(path) {
                assert!(!esc.bytes().any(|b| b.is_ascii_uppercase()), "{esc}");
                assert_eq!(unescape_path(&esc).as_deref(), Ok(*path));
            }
        }
        for v in ["v1.0.0-RC1", "HEAD", "Master~2", "v2.0.0+incompatible"] {
            let esc = escape_version(v).unwrap();
            assert_eq!(unescape_version(&esc).as_deref(), Ok(v));
        }
    }

    const SPLIT_PATH_VERSION: &[(&str, Option<(&str, &str)>)] = &[
        ("example.com/m", Some(("example.com/m", ""))),
        ("example.com/m/v2", Some(("example.com/m", "/v2"))),
        ("example.com/m/v10", Some(("example.com/m", "/v10"))),
        ("example.com/m/v22", Some(("example.com/m", "/v22"))),
        ("example.com/v2", Some(("example.com", "/v2"))),
        ("x/v2", Some(("x", "/v2"))),
        ("/v2", Some(("", "/v2"))),
        ("v2", Some(("v2", ""))),
        ("example.com/m/x2", Some(("example.com/m/x2", ""))),
        ("example.com/m/v", Some(("example.com/m/v", ""))),
        ("example.com/m/2", Some(("example.com/m/2", ""))),
        ("example.com/m/.v2", Some(("example.com/m/.v2", ""))),
        ("example.com/mv2", Some(("example.com/mv2", ""))),
        ("example.com/m/v1", None),
        ("example.com/m/v0", None),
        ("example.com/m/v02", None),
        ("example.com/m/v2.1", None),
        ("gopkg.in/yaml.v2", Some(("gopkg.in/yaml", ".v2"))),
        ("gopkg.in/yaml.v0", Some(("gopkg.in/yaml", ".v0"))),
        ("gopkg.in/yaml.v10", Some(("gopkg.in/yaml", ".v10"))),
        (
            "gopkg.in/yaml.v1-unstable",
            Some(("gopkg.in/yaml", ".v1-unstable")),
        ),
        ("gopkg.in/user/pkg.v3", Some(("gopkg.in/user/pkg", ".v3"))),
        ("gopkg.in/.v3", Some(("gopkg.in/", ".v3"))),
        ("gopkg.in/yaml.v00", None),
        ("gopkg.in/yaml.v02", None),
        ("gopkg.in/yaml", None),
        ("gopkg.in/yaml.v", None),
        ("gopkg.in/v3", None),
        ("gopkg.in/x-unstable", None),
        // Go splits a digitless `.v-unstable` and rejects it later (check_path_major).
        ("gopkg.in/y.v-unstable", Some(("gopkg.in/y", ".v-unstable"))),
        ("gopkg.in/y.v0-unstable", None),
    ];

    #[test]
    fn split_path_version_finds_slash_vn_and_gopkg_in_dot_vn() {
        for &(input, want) in SPLIT_PATH_VERSION {
            assert_eq!(split_path_version(input), want, "input {input:?}");
        }
    }

    const CHECK_PATH_MAJOR: &[(&str, &str, Option<&str>)] = &[
        ("v2.0.0", "/v2", None),
        ("v2.0.0-pre", "/v2", None),
        ("v1.0.0", "", None),
        ("v0.1.0", "", None),
        ("v2.0.0+incompatible", "", None),
        ("v1.0.0+incompatible", "", None),
        ("v2.0.0+incompatible", "/v2", None),
        ("v0.0.0-20191109021931-daa7c04131f5", ".v1", None),
        ("v0.0.0-x", ".v1", None),
        ("v1.5.0", ".v1-unstable", None),
        ("v2.0.0", ".v2-unstable", None),
        ("v0.3.0", ".v0", None),
        (
            "v2.0.0",
            "",
            Some("version \"v2.0.0\" invalid: should be v0 or v1, not v2"),
        ),
        (
            "v2.0.0",
            ".v1",
            Some("version \"v2.0.0\" invalid: should be v1, not v2"),
        ),
        (
            "v3.0.0",
            "/v2",
            Some("version \"v3.0.0\" invalid: should be v2, not v3"),
        ),
        (
            "v1.0.0",
            "/v2",
            Some("version \"v1.0.0\" invalid: should be v2, not v1"),
        ),
        (
            "bad",
            "/v2",
            Some("version \"bad\" invalid: should be v2, not "),
        ),
        (
            "bad",
            "",
            Some("version \"bad\" invalid: should be v0 or v1, not "),
        ),
        (
            "v2.0.0",
            "v2",
            Some("version \"v2.0.0\" invalid: should be v2, not v2"),
        ),
        (
            "v0.0.0-20191109021931-daa7c04131f5",
            ".v2",
            Some("version \"v0.0.0-20191109021931-daa7c04131f5\" invalid: should be v2, not v0"),
        ),
    ];

    #[test]
    fn check_path_major_matches_major_version_to_suffix() {
        for &(version, path_major, want) in CHECK_PATH_MAJOR {
            let got = check_path_major(version, path_major)
                .err()
                .map(|e| e.to_string());
            assert_eq!(got.as_deref(), want, "{version} {path_major}");
            assert_eq!(match_path_major(version, path_major), want.is_none());
        }
    }

    #[test]
    fn path_major_prefix_strips_separator_and_unstable() {
        const TABLE: &[(&str, &str)] = &[
            ("", ""),
            ("/v2", "v2"),
            ("/v10", "v10"),
            (".v1", "v1"),
            (".v0", "v0"),
            (".v1-unstable", "v1"),
            // Inputs split_path_version never returns (Go panics on these).
            ("v2", ""),
            ("/x", ""),
            ("/v2.1", ""),
        ];
        for &(input, want) in TABLE {
            assert_eq!(path_major_prefix(input), want, "input {input:?}");
        }
    }

    #[test]
    fn canonical_version_keeps_incompatible() {
        const TABLE: &[(&str, Option<&str>)] = &[
            ("v1", Some("v1.0.0")),
            ("v1.2", Some("v1.2.0")),
            ("v1.2.3", Some("v1.2.3")),
            ("v2.0.0+incompatible", Some("v2.0.0+incompatible")),
            ("v1.0.0+meta", Some("v1.0.0")),
            ("v1.2.3-pre+incompatible", Some("v1.2.3-pre+incompatible")),
            ("v1.2.3-pre+incompatible.x", Some("v1.2.3-pre")),
            ("v2+incompatible", None),
            ("bad", None),
        ];
        for &(input, want) in TABLE {
            assert_eq!(canonical_version(input).as_deref(), want, "input {input:?}");
        }
    }

    /// Pairs Go's module.Check accepts and so do we (canonical, no misplaced +incompatible).
    const CHECK_ACCEPTS: &[(&str, &str)] = &[
        ("example.com/m", "v1.0.0"),
        ("example.com/m", "v0.0.0-20191109021931-daa7c04131f5"),
        ("example.com/m", "v2.0.0+incompatible"),
        ("example.com/m", "v4.1.2-pre+incompatible"),
        ("example.com/m/v2", "v2.0.0"),
        ("example.com/m/v3", "v3.0.0-20191109021931-daa7c04131f5"),
        ("gopkg.in/yaml.v2", "v2.4.0"),
        ("gopkg.in/check.v1", "v0.0.0-20161208181325-20d25e280405"),
    ];

    #[test]
    fn check_accepts_matching_canonical_versions() {
        for &(path, version) in CHECK_ACCEPTS {
            assert_eq!(check(path, version), Ok(()), "{path}@{version}");
            assert!(is_canonical_version(path, version));
        }
    }

    /// Go's module.Check messages for the pairs it rejects.
    const CHECK_REJECTS_LIKE_GO: &[(&str, &str, &str)] = &[
        (
            "example.com/m",
            "v2.0.0",
            "example.com/m@v2.0.0: invalid version: should be v0 or v1, not v2",
        ),
        (
            "example.com/m/v2",
            "v1.0.0",
            "example.com/m/v2@v1.0.0: invalid version: should be v2, not v1",
        ),
        (
            "example.com/m",
            "master",
            "example.com/m@master: invalid version: not a semantic version",
        ),
        (
            "example.com/m",
            "",
            "example.com/m@: invalid version: not a semantic version",
        ),
        (
            "Example.com/m",
            "v1.0.0",
            "malformed module path \"Example.com/m\": invalid char 'E' in first path element",
        ),
        (
            "gopkg.in/yaml.v2",
            "v3.0.0",
            "gopkg.in/yaml.v2@v3.0.0: invalid version: should be v2, not v3",
        ),
        (
            "example.com/m/v3",
            "v2.0.0-20191109021931-daa7c04131f5",
            "example.com/m/v3@v2.0.0-20191109021931-daa7c04131f5: invalid version: should be v3, not v2",
        ),
        (
            "example.com/m/v1",
            "v1.0.0",
            "malformed module path \"example.com/m/v1\": invalid version",
        ),
    ];

    #[test]
    fn check_rejects_wrong_major_and_non_semver_like_go() {
        for &(path, version, want) in CHECK_REJECTS_LIKE_GO {
            let got = check(path, version).unwrap_err().to_string();
            assert_eq!(got, want, "{path}@{version}");
        }
    }

    #[test]
    fn check_requires_canonical_version_and_go_incompatible_rules() {
        // Go's module.Check accepts all of these; a proxy must not serve them.
        const TABLE: &[(&str, &str, &str)] = &[
            (
                "example.com/m",
                "v1.0",
                "example.com/m@v1.0: invalid version: not a canonical version (should be v1.0.0)",
            ),
            (
                "example.com/m",
                "v1.0.0+meta",
                "example.com/m@v1.0.0+meta: invalid version: not a canonical version (should be v1.0.0)",
            ),
            (
                "example.com/m",
                "v1.0.0+incompatible",
                "example.com/m@v1.0.0+incompatible: invalid version: +incompatible suffix not allowed: major version v1 is compatible",
            ),
            (
                "example.com/m/v2",
                "v2.0.0+incompatible",
                "example.com/m/v2@v2.0.0+incompatible: invalid version: +incompatible suffix not allowed: module path includes a major version suffix, so major version must match",
            ),
        ];
        for &(path, version, want) in TABLE {
            let got = check(path, version).unwrap_err().to_string();
            assert_eq!(got, want, "{path}@{version}");
        }
    }

    #[test]
    fn module_version_displays_path_at_version() {
        assert_eq!(
            ModuleVersion::new("example.com/m", "v1.0.0").to_string(),
            "example.com/m@v1.0.0"
        );
        assert_eq!(
            ModuleVersion::new("example.com/m", "").to_string(),
            "example.com/m"
        );
    }

    const MATCH_PREFIX_PATTERNS: &[(&str, &str, bool)] = &[
        ("example.com", "example.com/m", true),
        ("example.com", "example.com", true),
        ("example.com", "example.comx/m", false),
        ("*.corp.example.com", "git.corp.example.com/a/b", true),
        ("*.corp.example.com", "corp.example.com/a", false),
        ("rsc.io/private", "rsc.io/private/quux", true),
        ("rsc.io/private", "rsc.io/privatex", false),
        ("rsc.io/private/", "rsc.io/private/x", true),
        ("a,,b/c", "b/c/d", true),
        ("", "x", false),
        (",", "x", false),
        ("example.com/*/x", "example.com/a/x/y", true),
        ("example.com/*/x", "example.com/a/y", false),
        ("example.com/*", "example.com", false),
        ("example.com/a/b/c", "example.com/a/b", false),
        ("github.com/[abc]*", "github.com/acme/x", true),
        ("github.com/[^a]*", "github.com/acme/x", false),
        ("github.com/[", "github.com/x", false),
        ("bad[,example.com", "example.com/m", true),
        ("*", "anything/at/all", true),
        ("*/*", "a", false),
        ("?xample.com", "example.com/x", true),
        ("example.com\\/x", "example.com/x", true),
        ("EXAMPLE.COM", "example.com", false),
        ("example.com/m/", "example.com/m", true),
        ("a/b,c", "c/d", true),
        ("*.com,*.org", "x.org/y", true),
        ("[a-c]*.io", "b.io/z", true),
        ("ex*le.com", "example.com/x", true),
        ("gitlab.com/group/*", "gitlab.com/group/sub/pkg", true),
        ("/", "x", false),
        ("//", "x/y/z", false),
        ("a//", "a/b", false),
    ];

    #[test]
    fn match_prefix_patterns_matches_any_element_prefix() {
        for &(globs, target, want) in MATCH_PREFIX_PATTERNS {
            assert_eq!(
                match_prefix_patterns(globs, target),
                want,
                "{globs:?} {target:?}"
            );
        }
    }

    /// Includes Go's leftmost-placement quirk: `*[a/][a/]*b` does not match `a//b`.
    const PATH_MATCH: &[(&str, &str, Result<bool, BadPattern>)] = &[
        ("abc", "abc", Ok(true)),
        ("*", "abc", Ok(true)),
        ("*c", "abc", Ok(true)),
        ("a*", "a", Ok(true)),
        ("a*", "abc", Ok(true)),
        ("a*", "ab/c", Ok(false)),
        ("a*/b", "abc/b", Ok(true)),
        ("a*/b", "a/c/b", Ok(false)),
        ("a*b*c*d*e*/f", "axbxcxdxe/f", Ok(true)),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/f", Ok(true)),
        ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", Ok(false)),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", Ok(false)),
        ("a*b?c*x", "abxbbxdbxebxczzx", Ok(true)),
        ("a*b?c*x", "abxbbxdbxebxczzy", Ok(false)),
        ("ab[c]", "abc", Ok(true)),
        ("ab[b-d]", "abc", Ok(true)),
        ("ab[e-g]", "abc", Ok(false)),
        ("ab[^c]", "abc", Ok(false)),
        ("ab[^b-d]", "abc", Ok(false)),
        ("ab[^e-g]", "abc", Ok(true)),
        ("a\\*b", "a*b", Ok(true)),
        ("a\\*b", "ab", Ok(false)),
        ("a?b", "a☺b", Ok(true)),
        ("a[^a]b", "a☺b", Ok(true)),
        ("a???b", "a☺b", Ok(false)),
        ("a[^a][^a][^a]b", "a☺b", Ok(false)),
        ("[a-ζ]*", "α", Ok(true)),
        ("*[a-ζ]", "A", Ok(false)),
        ("a?b", "a/b", Ok(false)),
        ("a*b", "a/b", Ok(false)),
        ("[\\]a]", "]", Ok(true)),
        ("[\\-]", "-", Ok(true)),
        ("[x\\-]", "x", Ok(true)),
        ("[x\\-]", "-", Ok(true)),
        ("[x\\-]", "z", Ok(false)),
        ("[\\-x]", "x", Ok(true)),
        ("[\\-x]", "-", Ok(true)),
        ("[\\-x]", "a", Ok(false)),
        ("[]a]", "]", Err(BadPattern)),
        ("[-]", "-", Err(BadPattern)),
        ("[x-]", "x", Err(BadPattern)),
        ("[x-]", "-", Err(BadPattern)),
        ("[x-]", "z", Err(BadPattern)),
        ("[-x]", "x", Err(BadPattern)),
        ("[-x]", "-", Err(BadPattern)),
        ("[-x]", "a", Err(BadPattern)),
        ("\\", "a", Err(BadPattern)),
        ("[a-b-c]", "a", Err(BadPattern)),
        ("[", "a", Err(BadPattern)),
        ("[^", "a", Err(BadPattern)),
        ("[^bc", "a", Err(BadPattern)),
        ("a[", "a", Err(BadPattern)),
        ("a[", "ab", Err(BadPattern)),
        ("a[", "x", Err(BadPattern)),
        ("a/b[", "x", Err(BadPattern)),
        ("*x", "xxx", Ok(true)),
        ("a[/]b", "a/b", Ok(true)),
        ("*[a/][a/]*b", "a//b", Ok(false)),
        ("[a/][a/]*b", "a//b", Ok(false)),
        ("", "", Ok(true)),
        ("", "a", Ok(false)),
        ("*", "", Ok(true)),
        ("**", "a", Ok(true)),
        ("a*", "x", Ok(false)),
        ("*a", "bab", Ok(false)),
        ("*a?", "aab", Ok(true)),
        ("*?", "é", Ok(true)),
        ("*??", "é", Ok(false)),
        ("[", "", Err(BadPattern)),
        ("x*[", "xy", Err(BadPattern)),
        ("\\a", "a", Ok(true)),
        ("[\\a]", "a", Ok(true)),
        ("a[b-a]", "ab", Ok(false)),
        ("*/b", "a/b", Ok(true)),
        ("*/b", "/b", Ok(true)),
        ("*", "a/", Ok(false)),
        ("a*b", "ab", Ok(true)),
        ("a\\", "a", Err(BadPattern)),
        ("*a\\", "ba", Err(BadPattern)),
        ("[a]*]", "a]", Ok(true)),
        ("[*]", "*", Ok(true)),
        ("[*", "x", Err(BadPattern)),
    ];

    #[test]
    fn path_match_follows_go_path_match() {
        for &(pattern, name, want) in PATH_MATCH {
            assert_eq!(path_match(pattern, name), want, "{pattern:?} {name:?}");
        }
    }
}
