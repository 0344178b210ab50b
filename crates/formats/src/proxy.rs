//! The GOPROXY protocol's URL grammar, parsed into a typed [`Endpoint`].
//!
//! Defined by `go help goproxy` / <https://go.dev/ref/mod#goproxy-protocol> and by what the go
//! command requests (cmd/go/internal/modfetch/proxy.go `Versions`, `Stat`, `Latest`, `GoMod`,
//! `Zip`; sumdb.go `initBase` for `/sumdb/<name>/supported`). With `$base` the proxy root,
//! `$module` an escaped module path ([`crate::module::escape_path`]) and `$version` an escaped
//! version ([`crate::module::escape_version`]):
//!
//! | request                                   | endpoint                          |
//! |-------------------------------------------|-----------------------------------|
//! | `$base/$module/@v/list`                   | [`Endpoint::List`]                |
//! | `$base/$module/@v/$version.info`          | [`Endpoint::Info`]                |
//! | `$base/$module/@v/$version.mod`           | [`Endpoint::Mod`]                 |
//! | `$base/$module/@v/$version.zip`           | [`Endpoint::Zip`]                 |
//! | `$base/$module/@latest`                   | [`Endpoint::Latest`]              |
//! | `$base/sumdb/$name/supported`             | [`Endpoint::SumdbSupported`]      |
//! | `$base/sumdb/$name/$rest`                 | [`Endpoint::Sumdb`] (`lookup/…`, `latest`, `tile/…`) |
//!
//! [`parse_endpoint`] takes the request path after percent-decoding and with the proxy root
//! removed, so it starts with `/`. It rejects, with a one-line reason: paths longer than
//! [`MAX_REQUEST_PATH_LEN`] bytes, non-ASCII or control characters, backslashes, empty, `.` or `..`
//! elements (hence `//` and a trailing `/`), malformed `!`-escapes, invalid module paths, escaped
//! versions that are not valid file names, and unknown `@v/` file suffixes (`.ziphash`, …).
//!
//! Versions are not required to be canonical semver: for `.info` the go command sends queries
//! (`master`, a commit prefix, `v1.2`), and for `.mod`/`.zip` the caller decides what to serve.
//! The module path and version in an [`Endpoint`] are unescaped (original case).

use std::fmt;

use crate::module::{self, PathError, go_quote};

/// The longest request path [`parse_endpoint`] accepts, in bytes.
///
/// Generous for real module paths (the longest in the public index are under 300 bytes) while
/// bounding the work done on hostile input.
pub const MAX_REQUEST_PATH_LEN: usize = 1024;

/// A request of the GOPROXY protocol, with module path and version unescaped.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `/$module/@v/list`: the module's known versions, one per line.
    List {
        /// The module path.
        module: String,
    },
    /// `/$module/@v/$version.info`: JSON metadata; `version` may be a query, not only semver.
    Info {
        /// The module path.
        module: String,
        /// The requested version or query.
        version: String,
    },
    /// `/$module/@v/$version.mod`: the go.mod file of a version.
    Mod {
        /// The module path.
        module: String,
        /// The requested version.
        version: String,
    },
    /// `/$module/@v/$version.zip`: the module zip of a version.
    Zip {
        /// The module path.
        module: String,
        /// The requested version.
        version: String,
    },
    /// `/$module/@latest`: JSON metadata of the latest version when `list` has none usable.
    Latest {
        /// The module path.
        module: String,
    },
    /// `/sumdb/$name/supported`: whether this proxy proxies checksum database `name`.
    SumdbSupported {
        /// The checksum database name, like `sum.golang.org`.
        name: String,
    },
    /// `/sumdb/$name/$path`: a proxied checksum database request.
    Sumdb {
        /// The checksum database name, like `sum.golang.org`.
        name: String,
        /// The database path without a leading slash, kept escaped: `latest`,
        /// `lookup/golang.org/x/text@v0.3.0`, `tile/8/0/000`, …
        path: String,
    },
}

/// Why a request path is not a GOPROXY endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointReason {
    /// The path is empty or just `/`.
    Empty,
    /// The path does not start with `/`.
    NotAbsolute,
    /// The path is longer than [`MAX_REQUEST_PATH_LEN`].
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The path contains a character outside printable ASCII (a control character, DEL or
    /// non-ASCII), none of which appears in an escaped module path or version.
    BadChar(char),
    /// The path contains a backslash.
    Backslash,
    /// The path has an empty element (`//` or a trailing `/`).
    EmptyElement,
    /// The path has a `.` or `..` element.
    DotElement(String),
    /// Neither `/@v/`, `/@latest` nor `/sumdb/` appears (an `@` not preceded by `/` counts as
    /// none).
    NotAProxyPath,
    /// The module path before `/@` is empty.
    MissingModule,
    /// Something other than `v/…` or `latest` follows `/@`.
    UnknownEndpoint(String),
    /// The `@v/` file (named here) has no `.info`, `.mod` or `.zip` suffix.
    UnknownSuffix(String),
    /// The `@v/` part has more than one element.
    NestedVersionFile,
    /// The module path is not a valid escaped module path.
    Module(PathError),
    /// The version is not a valid escaped version.
    Version(PathError),
    /// The checksum database name does not look like a host name.
    BadSumdbName(String),
    /// Nothing follows `/sumdb/<name>/`.
    MissingSumdbPath,
}

impl fmt::Display for EndpointReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndpointReason::Empty => f.write_str("empty path"),
            EndpointReason::NotAbsolute => f.write_str("path does not start with '/'"),
            EndpointReason::TooLong { len } => {
                write!(f, "path is {len} bytes, longer than {MAX_REQUEST_PATH_LEN}")
            }
            EndpointReason::BadChar(c) => {
                write!(f, "character {} not allowed", c.escape_unicode())
            }
            EndpointReason::Backslash => f.write_str("backslash not allowed"),
            EndpointReason::EmptyElement => f.write_str("empty path element"),
            EndpointReason::DotElement(e) => write!(f, "{} path element not allowed", go_quote(e)),
            EndpointReason::NotAProxyPath => {
                f.write_str("not a proxy path (no /@v/, /@latest or /sumdb/)")
            }
            EndpointReason::MissingModule => f.write_str("missing module path"),
            EndpointReason::UnknownEndpoint(e) => {
                write!(f, "unknown endpoint {} (want @v/ or @latest)", go_quote(e))
            }
            EndpointReason::UnknownSuffix(s) => {
                write!(f, "unknown file {} (want .info, .mod or .zip)", go_quote(s))
            }
            EndpointReason::NestedVersionFile => f.write_str("unexpected '/' after @v/"),
            EndpointReason::Module(e) | EndpointReason::Version(e) => e.fmt(f),
            EndpointReason::BadSumdbName(n) => {
                write!(f, "invalid checksum database name {}", go_quote(n))
            }
            EndpointReason::MissingSumdbPath => f.write_str("missing checksum database path"),
        }
    }
}

/// A request path that is not a GOPROXY endpoint, or an endpoint that cannot be written as one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid proxy request {}: {reason}", go_quote(path))]
pub struct EndpointError {
    /// The request path (shortened to its first 64 bytes and `...` when too long; for
    /// [`Endpoint::to_path`], the path it would have produced, or the unescaped module path or
    /// `module@version` when that cannot be escaped).
    pub path: String,
    /// What is wrong with it.
    pub reason: EndpointReason,
}

/// Parses a percent-decoded request path (starting with `/`, proxy root removed) into an
/// [`Endpoint`]; see the module docs for the grammar and what is rejected.
pub fn parse_endpoint(path: &str) -> Result<Endpoint, EndpointError> {
    let fail = |reason| EndpointError {
        path: path.to_owned(),
        reason,
    };
    if path.len() > MAX_REQUEST_PATH_LEN {
        // Do not echo an arbitrarily long path back; its start identifies it well enough.
        let mut end = 64;
        while !path.is_char_boundary(end) {
            end -= 1;
        }
        return Err(EndpointError {
            path: format!("{}...", &path[..end]),
            reason: EndpointReason::TooLong { len: path.len() },
        });
    }
    if path.is_empty() || path == "/" {
        return Err(fail(EndpointReason::Empty));
    }
    let Some(rel) = path.strip_prefix('/') else {
        return Err(fail(EndpointReason::NotAbsolute));
    };
    if let Some(c) = rel.chars().find(|c| !(c.is_ascii_graphic() || *c == ' ')) {
        return Err(fail(EndpointReason::BadChar(c)));
    }
    if rel.contains('\\') {
        return Err(fail(EndpointReason::Backslash));
    }
    for elem in rel.split('/') {
        match elem {
            "" => return Err(fail(EndpointReason::EmptyElement)),
            "." | ".." => return Err(fail(EndpointReason::DotElement(elem.to_owned()))),
            _ => {}
        }
    }

    if let Some(sumdb) = rel.strip_prefix("sumdb/") {
        return parse_sumdb(sumdb).map_err(fail);
    }

    // Module paths cannot contain '@', so the first "@" starts the endpoint.
    let Some(at) = rel.find('@') else {
        return Err(fail(EndpointReason::NotAProxyPath));
    };
    let (escaped_module, endpoint) = (&rel[..at], &rel[at + 1..]);
    if escaped_module.is_empty() {
        return Err(fail(EndpointReason::MissingModule));
    }
    let Some(escaped_module) = escaped_module.strip_suffix('/') else {
        return Err(fail(EndpointReason::NotAProxyPath));
    };
    let module =
        module::unescape_path(escaped_module).map_err(|e| fail(EndpointReason::Module(e)))?;

    if endpoint == "latest" {
        return Ok(Endpoint::Latest { module });
    }
    let Some(file) = endpoint.strip_prefix("v/") else {
        return Err(fail(EndpointReason::UnknownEndpoint(format!(
            "@{endpoint}"
        ))));
    };
    if file.contains('/') {
        return Err(fail(EndpointReason::NestedVersionFile));
    }
    if file == "list" {
        return Ok(Endpoint::List { module });
    }
    let unknown = || fail(EndpointReason::UnknownSuffix(file.to_owned()));
    let (escaped_version, suffix) = file.rsplit_once('.').ok_or_else(unknown)?;
    let make: fn(String, String) -> Endpoint = match suffix {
        "info" => |module, version| Endpoint::Info { module, version },
        "mod" => |module, version| Endpoint::Mod { module, version },
        "zip" => |module, version| Endpoint::Zip { module, version },
        _ => return Err(unknown()),
    };
    let version =
        module::unescape_version(escaped_version).map_err(|e| fail(EndpointReason::Version(e)))?;
    Ok(make(module, version))
}

/// Parses what follows `/sumdb/`.
fn parse_sumdb(rest: &str) -> Result<Endpoint, EndpointReason> {
    let (name, db_path) = rest.split_once('/').unwrap_or((rest, ""));
    if !is_host_name(name) {
        return Err(EndpointReason::BadSumdbName(name.to_owned()));
    }
    match db_path {
        "" => Err(EndpointReason::MissingSumdbPath),
        "supported" => Ok(Endpoint::SumdbSupported {
            name: name.to_owned(),
        }),
        _ => Ok(Endpoint::Sumdb {
            name: name.to_owned(),
            path: db_path.to_owned(),
        }),
    }
}

/// Reports whether `name` looks like a host name with an optional port: dot-separated labels of
/// ASCII letters, digits and `-`, no label empty or starting or ending with `-`, at most 253
/// bytes, then optionally `:` and a port number.
fn is_host_name(name: &str) -> bool {
    let (host, port) = match name.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (name, None),
    };
    if let Some(p) = port
        && (p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

impl Endpoint {
    /// The module path this request is about; `None` for checksum database requests.
    pub fn module(&self) -> Option<&str> {
        match self {
            Endpoint::List { module }
            | Endpoint::Info { module, .. }
            | Endpoint::Mod { module, .. }
            | Endpoint::Zip { module, .. }
            | Endpoint::Latest { module } => Some(module),
            Endpoint::SumdbSupported { .. } | Endpoint::Sumdb { .. } => None,
        }
    }

    /// The version (or `.info` query) this request is about, if any.
    pub fn version(&self) -> Option<&str> {
        match self {
            Endpoint::Info { version, .. }
            | Endpoint::Mod { version, .. }
            | Endpoint::Zip { version, .. } => Some(version),
            _ => None,
        }
    }

    /// The escaped request path a client sends for this endpoint, starting with `/`, before
    /// percent-encoding (append it to the proxy root; see [`Endpoint::to_url_path`]).
    ///
    /// Fails if the module path or version cannot be escaped, or if the result would not parse
    /// back to this endpoint (a bad checksum database name or path, a too-long path).
    pub fn to_path(&self) -> Result<String, EndpointError> {
        let escape_module = |m: &str| {
            module::escape_path(m).map_err(|e| EndpointError {
                path: m.to_owned(),
                reason: EndpointReason::Module(e),
            })
        };
        let escape_version = |m: &str, v: &str| {
            module::escape_version(v).map_err(|e| EndpointError {
                path: format!("{m}@{v}"),
                reason: EndpointReason::Version(e),
            })
        };
        let file = |m: &str, v: &str, suffix: &str| -> Result<String, EndpointError> {
            Ok(format!(
                "/{}/@v/{}.{suffix}",
                escape_module(m)?,
                escape_version(m, v)?
            ))
        };
        let path = match self {
            Endpoint::List { module } => format!("/{}/@v/list", escape_module(module)?),
            Endpoint::Info { module, version } => file(module, version, "info")?,
            Endpoint::Mod { module, version } => file(module, version, "mod")?,
            Endpoint::Zip { module, version } => file(module, version, "zip")?,
            Endpoint::Latest { module } => format!("/{}/@latest", escape_module(module)?),
            Endpoint::SumdbSupported { name } => format!("/sumdb/{name}/supported"),
            Endpoint::Sumdb { name, path } => format!("/sumdb/{name}/{path}"),
        };
        // Whatever we would send must be something we would accept.
        parse_endpoint(&path)?;
        Ok(path)
    }

    /// [`Endpoint::to_path`], percent-encoded the way the go command encodes request paths
    /// (Go's `url.PathEscape` but keeping `/`): `!` becomes `%21`; letters, digits,
    /// `- . _ ~ $ & + = @ : /` stay as they are; every other byte is `%XX`.
    pub fn to_url_path(&self) -> Result<String, EndpointError> {
        Ok(percent_encode_path(&self.to_path()?))
    }
}

impl fmt::Display for Endpoint {
    /// The unencoded escaped request path, or a description if it cannot be escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_path() {
            Ok(p) => f.write_str(&p),
            Err(e) => write!(f, "<{e}>"),
        }
    }
}

/// Percent-encodes a request path like the go command's `pathEscape`.
fn percent_encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 8);
    for b in path.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'_' | b'~' | b'$' | b'&' | b'+' | b'=' | b'@' | b':' | b'/'
            );
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(m: &str) -> Endpoint {
        Endpoint::List { module: m.into() }
    }
    fn latest(m: &str) -> Endpoint {
        Endpoint::Latest { module: m.into() }
    }
    fn info(m: &str, v: &str) -> Endpoint {
        Endpoint::Info {
            module: m.into(),
            version: v.into(),
        }
    }
    fn gomod(m: &str, v: &str) -> Endpoint {
        Endpoint::Mod {
            module: m.into(),
            version: v.into(),
        }
    }
    fn zip(m: &str, v: &str) -> Endpoint {
        Endpoint::Zip {
            module: m.into(),
            version: v.into(),
        }
    }
    fn supported(n: &str) -> Endpoint {
        Endpoint::SumdbSupported { name: n.into() }
    }
    fn sumdb(n: &str, p: &str) -> Endpoint {
        Endpoint::Sumdb {
            name: n.into(),
            path: p.into(),
        }
    }

    fn accepted() -> Vec<(&'static str, Endpoint)> {
        vec![
            ("/example.com/m/@v/list", list("example.com/m")),
            ("/example.com/m/@latest", latest("example.com/m")),
            (
                "/example.com/!upper/hello/@v/v1.0.0.zip",
                zip("example.com/Upper/hello", "v1.0.0"),
            ),
            (
                "/example.com/m/@v/v1.0.0.mod",
                gomod("example.com/m", "v1.0.0"),
            ),
            (
                "/example.com/m/@v/v1.0.0.info",
                info("example.com/m", "v1.0.0"),
            ),
            (
                "/example.com/m/@v/v1.0.0-!r!c1.info",
                info("example.com/m", "v1.0.0-RC1"),
            ),
            (
                "/example.com/m/v2/@v/v2.0.0.mod",
                gomod("example.com/m/v2", "v2.0.0"),
            ),
            (
                "/gopkg.in/yaml.v2/@v/v2.4.0.zip",
                zip("gopkg.in/yaml.v2", "v2.4.0"),
            ),
            (
                "/example.com/m/@v/v2.0.0+incompatible.zip",
                zip("example.com/m", "v2.0.0+incompatible"),
            ),
            // Queries the go command sends for `go get m@<query>`.
            (
                "/example.com/m/@v/master.info",
                info("example.com/m", "master"),
            ),
            (
                "/example.com/m/@v/!h!e!a!d.info",
                info("example.com/m", "HEAD"),
            ),
            ("/example.com/m/@v/v1.2.info", info("example.com/m", "v1.2")),
            (
                "/example.com/m/@v/daa7c041.info",
                info("example.com/m", "daa7c041"),
            ),
            (
                "/example.com/m/@v/feature a(1).info",
                info("example.com/m", "feature a(1)"),
            ),
            // Non-canonical .mod/.zip versions parse; the server decides.
            ("/example.com/m/@v/v1.2.mod", gomod("example.com/m", "v1.2")),
            (
                "/sumdb/sum.golang.org/supported",
                supported("sum.golang.org"),
            ),
            (
                "/sumdb/sum.golang.org/latest",
                sumdb("sum.golang.org", "latest"),
            ),
            (
                "/sumdb/sum.golang.org/lookup/golang.org/x/text@v0.3.0",
                sumdb("sum.golang.org", "lookup/golang.org/x/text@v0.3.0"),
            ),
            (
                "/sumdb/sum.golang.org/lookup/github.com/!azure/x@v1.0.0",
                sumdb("sum.golang.org", "lookup/github.com/!azure/x@v1.0.0"),
            ),
            (
                "/sumdb/sum.golang.org/tile/8/0/x001/234.p/5",
                sumdb("sum.golang.org", "tile/8/0/x001/234.p/5"),
            ),
            (
                "/sumdb/localhost:8080/latest",
                sumdb("localhost:8080", "latest"),
            ),
        ]
    }

    #[test]
    fn parse_endpoint_accepts_every_goproxy_request_shape() {
        for (input, want) in accepted() {
            assert_eq!(parse_endpoint(input), Ok(want), "input {input:?}");
        }
    }

    #[test]
    fn to_path_round_trips_parsed_requests() {
        for (input, endpoint) in accepted() {
            assert_eq!(endpoint.to_path().as_deref(), Ok(input), "{endpoint:?}");
            assert_eq!(endpoint.to_string(), input);
        }
    }

    #[test]
    fn parse_endpoint_rejects_with_one_line_reasons() {
        let too_long = format!("/example.com/{}/@latest", "a".repeat(MAX_REQUEST_PATH_LEN));
        let table: Vec<(&str, &str)> = vec![
            ("", "empty path"),
            ("/", "empty path"),
            ("example.com/m/@v/list", "path does not start with '/'"),
            ("/example.com/m/@v/v1\0.zip", "character \\u{0} not allowed"),
            (
                "/example.com/m/@v/v1\x7f.zip",
                "character \\u{7f} not allowed",
            ),
            ("/example.com/m/@v/v1\n.zip", "character \\u{a} not allowed"),
            (
                "/ex\u{e4}mple.com/m/@latest",
                "character \\u{e4} not allowed",
            ),
            ("/example.com\\m/@latest", "backslash not allowed"),
            ("//example.com/m/@latest", "empty path element"),
            ("/example.com/m/@v/", "empty path element"),
            ("/example.com/m//@v/list", "empty path element"),
            (
                "/example.com/../m/@latest",
                "\"..\" path element not allowed",
            ),
            ("/example.com/./m/@latest", "\".\" path element not allowed"),
            (
                "/sumdb/sum.golang.org/lookup/../x",
                "\"..\" path element not allowed",
            ),
            (
                "/example.com/m",
                "not a proxy path (no /@v/, /@latest or /sumdb/)",
            ),
            (
                "/example.com/m@v/list",
                "not a proxy path (no /@v/, /@latest or /sumdb/)",
            ),
            ("/@v/list", "missing module path"),
            (
                "/example.com/m/@v",
                "unknown endpoint \"@v\" (want @v/ or @latest)",
            ),
            (
                "/example.com/m/@foo",
                "unknown endpoint \"@foo\" (want @v/ or @latest)",
            ),
            (
                "/example.com/m/@latest/x",
                "unknown endpoint \"@latest/x\" (want @v/ or @latest)",
            ),
            (
                "/example.com/m/@v/v1.0.0.ziphash",
                "unknown file \"v1.0.0.ziphash\" (want .info, .mod or .zip)",
            ),
            (
                "/example.com/m/@v/v1.0.0.txt",
                "unknown file \"v1.0.0.txt\" (want .info, .mod or .zip)",
            ),
            (
                "/example.com/m/@v/lists",
                "unknown file \"lists\" (want .info, .mod or .zip)",
            ),
            ("/example.com/m/@v/v1.0.0/x.zip", "unexpected '/' after @v/"),
            (
                "/example.com/!!m/@latest",
                "invalid escaped module path \"example.com/!!m\": '!' not followed by a lowercase letter",
            ),
            (
                "/Example.com/m/@latest",
                "invalid escaped module path \"Example.com/m\": uppercase letter 'E' must be escaped",
            ),
            (
                "/example/m/@latest",
                "invalid escaped module path \"example/m\": malformed module path \"example/m\": missing dot in first path element",
            ),
            (
                "/example.com/m/v1/@v/list",
                "invalid escaped module path \"example.com/m/v1\": malformed module path \"example.com/m/v1\": invalid version",
            ),
            (
                "/example.com/m/@v/v1.0.0-RC1.info",
                "invalid escaped version \"v1.0.0-RC1\": uppercase letter 'R' must be escaped",
            ),
            (
                "/example.com/m/@v/v1!.zip",
                "invalid escaped version \"v1!\": trailing '!'",
            ),
            (
                "/example.com/m/@v/.zip",
                "invalid escaped version \"\": empty path element",
            ),
            (
                "/example.com/m/@v/con.info",
                "invalid escaped version \"con\": \"con\" disallowed as path element component on Windows",
            ),
            (
                "/example.com/m/@v/a:b.info",
                "invalid escaped version \"a:b\": invalid char ':'",
            ),
            ("/sumdb/sum.golang.org", "missing checksum database path"),
            (
                "/sumdb/-bad/latest",
                "invalid checksum database name \"-bad\"",
            ),
            (
                "/sumdb/sum..org/latest",
                "invalid checksum database name \"sum..org\"",
            ),
            (
                "/sumdb/a_b/latest",
                "invalid checksum database name \"a_b\"",
            ),
            (
                "/sumdb/host:/latest",
                "invalid checksum database name \"host:\"",
            ),
        ];
        let err = parse_endpoint(&too_long).unwrap_err();
        assert_eq!(
            err.reason.to_string(),
            "path is 1045 bytes, longer than 1024"
        );
        assert_eq!(err.path, format!("/example.com/{}...", "a".repeat(51)));
        for (input, want) in table {
            let err = parse_endpoint(input).unwrap_err();
            assert_eq!(err.reason.to_string(), want, "input {input:?}");
            assert_eq!(
                err.to_string(),
                format!("invalid proxy request {}: {want}", go_quote(input))
            );
            assert!(!err.to_string().contains('\n'), "one line: {err}");
        }
    }

    #[test]
    fn parse_endpoint_accepts_paths_up_to_the_limit() {
        let prefix = "/example.com/";
        let suffix = "/@latest";
        let filler = "a".repeat(MAX_REQUEST_PATH_LEN - prefix.len() - suffix.len());
        let path = format!("{prefix}{filler}{suffix}");
        assert_eq!(path.len(), MAX_REQUEST_PATH_LEN);
        assert!(parse_endpoint(&path).is_ok());
    }

    #[test]
    fn to_path_rejects_what_cannot_be_escaped_or_parsed_back() {
        let table = [
            list("Example.com/m"),
            zip("example.com/m", "v1/2"),
            info("example.com/m", "v1!"),
            gomod("example.com/m", ""),
            supported("bad name"),
            sumdb("sum.golang.org", ""),
            sumdb("sum.golang.org", "lookup/../x"),
        ];
        for endpoint in table {
            assert!(endpoint.to_path().is_err(), "{endpoint:?}");
        }
    }

    #[test]
    fn to_url_path_percent_encodes_like_the_go_command() {
        // Expected strings come from Go's url.PathEscape with %2F turned back into '/', which is
        // what cmd/go/internal/modfetch/proxy.go sends.
        let table = [
            (
                info("example.com/Upper/hello", "v1.0.0-RC1"),
                "/example.com/%21upper/hello/@v/v1.0.0-%21r%21c1.info",
            ),
            (
                info("example.com/m", "a b#%()[]^{},$&+=@~"),
                "/example.com/m/@v/a%20b%23%25%28%29%5B%5D%5E%7B%7D%2C$&+=@~.info",
            ),
            (
                sumdb("sum.golang.org", "lookup/example.com/!m@v1.0.0"),
                "/sumdb/sum.golang.org/lookup/example.com/%21m@v1.0.0",
            ),
        ];
        for (endpoint, want) in table {
            assert_eq!(endpoint.to_url_path().as_deref(), Ok(want));
        }
    }

    #[test]
    fn module_and_version_accessors() {
        assert_eq!(
            zip("example.com/m", "v1.0.0").module(),
            Some("example.com/m")
        );
        assert_eq!(zip("example.com/m", "v1.0.0").version(), Some("v1.0.0"));
        assert_eq!(list("example.com/m").version(), None);
        assert_eq!(supported("sum.golang.org").module(), None);
    }
}
