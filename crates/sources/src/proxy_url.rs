//! Proxy request URLs, built byte for byte the way the go command builds them.
//!
//! Go rule: `newProxyRepo` and `proxyRepo.getBody` in `cmd/go/internal/modfetch/proxy.go`, on top of
//! Go's `net/url` (`URL.setPath`, `URL.EscapedPath`, `PathEscape`, `shouldEscape`, `validEncoded`)
//! and `path.Join`. Restated:
//!
//! - The base URL keeps two forms of its path: the decoded path, and the path exactly as written
//!   when writing it back with Go's path escaping would not give the same text (otherwise none).
//! - The case-escaped module path (`!`-escaping, done by the caller) is appended to the decoded
//!   path after a `/` (one trailing `/` of the base is dropped), and, escaped with
//!   `url.PathEscape` but keeping `/`, to the written form (empty when there was none).
//! - The request suffix (`@v/list`, `@v/<escaped version>.info`, `@latest`, ...) is joined onto
//!   both with `path.Join`, which also cleans `.`, `..` and doubled slashes, the second one again
//!   escaped with `url.PathEscape` keeping `/`.
//! - The path sent is the written form when it is a valid escaping of the decoded form; otherwise
//!   the decoded path, escaped with Go's path escaping. The two escapings differ: `PathEscape`
//!   escapes `,` and `;`, path escaping leaves them. So, as with `go` itself, a version query
//!   `a,b` goes out as `a%2Cb` for `https://host` but as `a,b` for `https://host/prefix/`.
//! - The base URL's query, if any, is kept; `!` is always sent as `%21`, `@` and `+` unescaped.
//!
//! The request paths in this file's tests were recorded from the go 1.27 command itself.

use crate::error::ConfigError;

/// Go's `net/url` escaping modes that matter for paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// `encodePath`: a whole path; `/`, `;`, `,` and the other sub-delimiters stay.
    Path,
    /// `encodePathSegment`: one path segment (`url.PathEscape`); `/`, `;`, `,`, `?` are escaped.
    PathSegment,
}

/// Whether Go's `shouldEscape` escapes byte `c` in `mode`.
fn should_escape(c: u8, mode: Mode) -> bool {
    if c.is_ascii_alphanumeric() {
        return false;
    }
    match c {
        b'-' | b'_' | b'.' | b'~' => false,
        b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'?' | b'@' => match mode {
            Mode::Path => c == b'?',
            Mode::PathSegment => matches!(c, b'/' | b';' | b',' | b'?'),
        },
        _ => true,
    }
}

fn escape(s: &[u8], mode: Mode) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &c in s {
        if should_escape(c, mode) {
            out.push('%');
            out.push(char::from(HEX[usize::from(c >> 4)]));
            out.push(char::from(HEX[usize::from(c & 15)]));
        } else {
            out.push(char::from(c));
        }
    }
    out
}

/// The go command's `pathEscape`: `url.PathEscape`, with `/` left as is.
pub(crate) fn path_escape(s: &str) -> String {
    escape(s.as_bytes(), Mode::PathSegment).replace("%2F", "/")
}

/// Go's `unescape` in path mode: `%XX` decoded, anything else (including `+`) kept. `None` for a
/// `%` not followed by two hex digits.
fn unescape(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hi = hex_value(*b.get(i + 1)?)?;
            let lo = hex_value(*b.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Go's `validEncoded` for paths: only bytes a path may carry unescaped, or `%`.
fn valid_encoded(s: &str) -> bool {
    s.bytes().all(|c| {
        matches!(
            c,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
                | b'['
                | b']'
                | b'%'
        ) || !should_escape(c, Mode::Path)
    })
}

/// Go's `path.Clean` on bytes: lexical removal of `.`, `..` and repeated slashes.
fn clean(path: &[u8]) -> Vec<u8> {
    if path.is_empty() {
        return b".".to_vec();
    }
    let rooted = path[0] == b'/';
    let mut parts: Vec<&[u8]> = Vec::new();
    // Count of leading ".." elements kept in a relative path (they cannot be popped).
    let mut fixed = 0;
    for elem in path.split(|&c| c == b'/') {
        match elem {
            b"" | b"." => {}
            b".." => {
                if parts.len() > fixed {
                    parts.pop();
                } else if !rooted {
                    parts.push(elem);
                    fixed += 1;
                }
            }
            _ => parts.push(elem),
        }
    }
    let joined = parts.join(&b'/');
    match (rooted, joined.is_empty()) {
        (true, _) => [b"/".as_slice(), &joined].concat(),
        (false, true) => b".".to_vec(),
        (false, false) => joined,
    }
}

/// Go's `path.Join` of two elements: empty elements are skipped, the rest joined with `/` and
/// cleaned; all empty gives empty.
fn join(a: &[u8], b: &[u8]) -> Vec<u8> {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Vec::new(),
        (false, true) => clean(a),
        (true, false) => clean(b),
        (false, false) => clean(&[a, b"/", b].concat()),
    }
}

fn trim_slash(p: &[u8]) -> &[u8] {
    p.strip_suffix(b"/").unwrap_or(p)
}

/// Go's `URL.EscapedPath`: the written form when it is a valid escaping of the decoded form,
/// else the decoded form escaped.
fn escaped_path(path: &[u8], raw: &str) -> String {
    if !raw.is_empty() && valid_encoded(raw) && unescape(raw).as_deref() == Some(path) {
        return raw.to_owned();
    }
    if path == b"*" {
        return "*".to_owned();
    }
    escape(path, Mode::Path)
}

/// A parsed GOPROXY base URL (`https://user:pass@host:port/prefix/?query`). Deliberately not
/// `Debug`: it holds the password; use [`BaseUrl::redacted`].
#[derive(Clone)]
pub(crate) struct BaseUrl {
    /// Lower-cased scheme: `http` or `https`.
    scheme: String,
    /// The authority as written (userinfo, host, port).
    authority: String,
    /// The authority with any password replaced by `xxxxx`.
    redacted_authority: String,
    /// The decoded path (Go `URL.Path`).
    path: Vec<u8>,
    /// The path as written when it differs from re-escaping `path` (Go `URL.RawPath`), else empty.
    raw_path: String,
    /// The query as written, without `?`; `Some("")` for a trailing `?`.
    query: Option<String>,
    /// The host name (no port, no brackets), for proxy decisions.
    host: String,
}

impl BaseUrl {
    /// Parses and checks a base URL the way `newProxyRepo` does: it must have a scheme, and the
    /// scheme must be `http` or `https` (`file` is recognised but not supported here).
    pub(crate) fn parse(input: &str) -> Result<BaseUrl, ConfigError> {
        let checked = reqwest::Url::parse(input);
        let redacted_input = redact(input);
        let Some((scheme, rest)) = split_scheme(input) else {
            return Err(ConfigError::MissingScheme {
                url: redacted_input,
            });
        };
        let scheme = scheme.to_ascii_lowercase();
        match scheme.as_str() {
            "http" | "https" => {}
            "file" => {
                return Err(ConfigError::FileProxyUnsupported {
                    url: redacted_input,
                });
            }
            _ => {
                return Err(ConfigError::UnsupportedScheme {
                    url: redacted_input,
                });
            }
        }
        let checked = checked.map_err(|e| ConfigError::InvalidUrl {
            url: redacted_input.clone(),
            reason: e.to_string(),
        })?;
        let host = checked
            .host_str()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_owned())
            .unwrap_or_default();
        let invalid = |reason: &str| ConfigError::InvalidUrl {
            url: redacted_input.clone(),
            reason: reason.to_owned(),
        };
        let Some(rest) = rest.strip_prefix("//") else {
            return Err(invalid("expected scheme://host"));
        };
        // Go splits off the fragment first, then the query, then the authority.
        let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q.to_owned())),
            None => (rest, None),
        };
        let (authority, written_path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let path = unescape(written_path).ok_or_else(|| invalid("invalid %-escape in path"))?;
        let raw_path = if escape(&path, Mode::Path) == written_path {
            String::new()
        } else {
            written_path.to_owned()
        };
        Ok(BaseUrl {
            scheme,
            authority: authority.to_owned(),
            redacted_authority: redact_authority(authority),
            path,
            raw_path,
            query,
            host,
        })
    }

    /// The URL with any password replaced by `xxxxx` (Go `URL.Redacted`), for messages.
    pub(crate) fn redacted(&self) -> String {
        self.assemble(
            &self.redacted_authority,
            &escaped_path(&self.path, &self.raw_path),
        )
    }

    /// The host name, without port or IPv6 brackets.
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// The URL of `suffix` (e.g. `@v/list`) for the module whose case-escaped path is
    /// `escaped_module`: `(full URL to request, redacted URL for messages)`.
    pub(crate) fn request_url(&self, escaped_module: &str, suffix: &str) -> (String, String) {
        let module_path = [trim_slash(&self.path), b"/", escaped_module.as_bytes()].concat();
        let module_raw = [
            trim_slash(self.raw_path.as_bytes()),
            b"/",
            path_escape(escaped_module).as_bytes(),
        ]
        .concat();
        let path = join(&module_path, suffix.as_bytes());
        let raw = join(&module_raw, path_escape(suffix).as_bytes());
        // `raw` is built from ASCII escapes and the written base path, which is a &str.
        let raw = String::from_utf8_lossy(&raw);
        let sent = escaped_path(&path, &raw);
        (
            self.assemble(&self.authority, &sent),
            self.assemble(&self.redacted_authority, &sent),
        )
    }

    fn assemble(&self, authority: &str, path: &str) -> String {
        let mut s = format!("{}://{}{}", self.scheme, authority, path);
        if let Some(q) = &self.query {
            s.push('?');
            s.push_str(q);
        }
        s
    }
}

/// `scheme:` prefix per RFC 3986 (`ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`), as Go's
/// `getScheme` accepts it.
fn split_scheme(s: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = s.split_once(':')?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    if !first.is_ascii_alphabetic()
        || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return None;
    }
    Some((scheme, rest))
}

/// Replaces the password of `scheme://user:password@host...` with `xxxxx`.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = split_scheme(url) else {
        return url.to_owned();
    };
    let Some(rest) = rest.strip_prefix("//") else {
        return url.to_owned();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    format!("{scheme}://{}{tail}", redact_authority(authority))
}

fn redact_authority(authority: &str) -> String {
    match authority.rsplit_once('@') {
        Some((userinfo, hostport)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:xxxxx@{hostport}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path_of(base: &str, module: &str, suffix: &str) -> String {
        let b = BaseUrl::parse(base).expect("base parses");
        let (url, _) = b.request_url(module, suffix);
        let after_scheme = url.split_once("://").map(|x| x.1).unwrap_or("");
        let i = after_scheme.find('/').unwrap_or(after_scheme.len());
        after_scheme[i..].to_owned()
    }

    /// (base URL, escaped module, suffix, request target the go 1.27 command sent).
    const GO_REQUEST_TARGETS: &[(&str, &str, &str, &str)] = &[
        (
            "http://h:1",
            "example.com/!upper/!mod",
            "@v/v1.0.0-!pre.info",
            "/example.com/%21upper/%21mod/@v/v1.0.0-%21pre.info",
        ),
        (
            "http://h:1",
            "example.com/m",
            "@v/v2.0.0+incompatible.info",
            "/example.com/m/@v/v2.0.0+incompatible.info",
        ),
        (
            "http://h:1",
            "example.com/m",
            "@v/a,b.info",
            "/example.com/m/@v/a%2Cb.info",
        ),
        (
            "http://h:1",
            "example.com/m",
            "@v/a$b.info",
            "/example.com/m/@v/a$b.info",
        ),
        (
            "http://h:1",
            "example.com/m",
            "@v/a(b).info",
            "/example.com/m/@v/a%28b%29.info",
        ),
        (
            "http://h:1",
            "example.com/m",
            "@v/a=b.info",
            "/example.com/m/@v/a=b.info",
        ),
        (
            "http://h:1",
            "example.com/m",
            "@v/a@b.info",
            "/example.com/m/@v/a@b.info",
        ),
        (
            "http://h:1",
            "example.com/m",
            "@v/a[b].info",
            "/example.com/m/@v/a%5Bb%5D.info",
        ),
        (
            "http://h:1",
            "example.com/m",
            "@v/a^b.info",
            "/example.com/m/@v/a%5Eb.info",
        ),
        (
            "http://h:1",
            "example.com/m",
            "@v/a{b}.info",
            "/example.com/m/@v/a%7Bb%7D.info",
        ),
        (
            "http://h:1",
            "example.com/m",
            "@v/a#b.info",
            "/example.com/m/@v/a%23b.info",
        ),
        (
            "http://h:1",
            "example.com/m",
            "@v/a%b.info",
            "/example.com/m/@v/a%25b.info",
        ),
        (
            "http://h:1",
            "example.com/m",
            "@v/a b.info",
            "/example.com/m/@v/a%20b.info",
        ),
        (
            "http://h:1",
            "example.com/m",
            "@v/a&b.info",
            "/example.com/m/@v/a&b.info",
        ),
        (
            "http://h:1",
            "example.com/m",
            "@v/a~b.info",
            "/example.com/m/@v/a~b.info",
        ),
        (
            "http://h:1",
            "example.com/m",
            "@v/list",
            "/example.com/m/@v/list",
        ),
        (
            "http://h:1/",
            "example.com/m",
            "@v/a,b.info",
            "/example.com/m/@v/a%2Cb.info",
        ),
        (
            "http://h:1/prefix/",
            "example.com/!upper/!mod",
            "@v/v1.0.0-!pre.info",
            "/prefix/example.com/%21upper/%21mod/@v/v1.0.0-%21pre.info",
        ),
        (
            "http://h:1/prefix/",
            "example.com/m",
            "@v/a,b.info",
            "/prefix/example.com/m/@v/a,b.info",
        ),
        (
            "http://h:1/prefix/",
            "example.com/m",
            "@v/a(b).info",
            "/prefix/example.com/m/@v/a%28b%29.info",
        ),
        (
            "http://h:1/pre%2Cfix",
            "example.com/m",
            "@v/a,b.info",
            "/pre%2Cfix/example.com/m/@v/a%2Cb.info",
        ),
        (
            "http://h:1/pre%20fix/",
            "example.com/m",
            "@v/a,b.info",
            "/pre%20fix/example.com/m/@v/a,b.info",
        ),
        (
            "http://h:1/a%2Fb/",
            "example.com/m",
            "@v/a,b.info",
            "/a%2Fb/example.com/m/@v/a%2Cb.info",
        ),
        (
            "http://h:1/p(x)",
            "example.com/m",
            "@v/a,b.info",
            "/p(x)/example.com/m/@v/a%2Cb.info",
        ),
        (
            "http://h:1/p%28x%29",
            "example.com/m",
            "@v/a,b.info",
            "/p%28x%29/example.com/m/@v/a,b.info",
        ),
        (
            "http://h:1/pré",
            "example.com/m",
            "@v/a,b.info",
            "/pr%C3%A9/example.com/m/@v/a,b.info",
        ),
        (
            "http://h:1//dbl//",
            "example.com/m",
            "@v/a,b.info",
            "/dbl/example.com/m/@v/a,b.info",
        ),
        (
            "http://h:1/a/../b/./c",
            "example.com/m",
            "@v/a,b.info",
            "/b/c/example.com/m/@v/a,b.info",
        ),
        (
            "http://h:1/q?x=1",
            "example.com/m",
            "@v/a,b.info",
            "/q/example.com/m/@v/a,b.info?x=1",
        ),
        (
            "http://h:1/p!x",
            "example.com/m",
            "@v/a,b.info",
            "/p!x/example.com/m/@v/a%2Cb.info",
        ),
        (
            "http://h:1/p%21x",
            "example.com/m",
            "@v/a,b.info",
            "/p%21x/example.com/m/@v/a,b.info",
        ),
    ];

    #[test]
    fn request_url_matches_go_proxy_repo_get_body() {
        for &(base, module, suffix, want) in GO_REQUEST_TARGETS {
            assert_eq!(
                path_of(base, module, suffix),
                want,
                "base {base} suffix {suffix}"
            );
        }
    }

    const PATH_ESCAPE: &[(&str, &str)] = &[
        ("example.com/!upper", "example.com/%21upper"),
        ("v1.0.0+incompatible", "v1.0.0+incompatible"),
        ("a;b,c?d", "a%3Bb%2Cc%3Fd"),
        ("a/b", "a/b"),
        ("é", "%C3%A9"),
    ];

    #[test]
    fn path_escape_is_url_path_escape_keeping_slash() {
        for &(input, want) in PATH_ESCAPE {
            assert_eq!(path_escape(input), want, "{input}");
        }
    }

    const CLEAN: &[(&str, &str)] = &[
        ("", "."),
        ("/", "/"),
        ("a/b/../c", "a/c"),
        ("/../a", "/a"),
        ("../../a", "../../a"),
        ("a/../..", ".."),
        ("//a//b/./", "/a/b"),
    ];

    #[test]
    fn clean_matches_go_path_clean() {
        for &(input, want) in CLEAN {
            assert_eq!(clean(input.as_bytes()), want.as_bytes(), "{input}");
        }
    }

    #[test]
    fn redacted_url_hides_password_like_go_url_redacted() {
        let b = BaseUrl::parse("https://me:secret@h.example/p").expect("parses");
        assert_eq!(b.redacted(), "https://me:xxxxx@h.example/p");
        let (full, red) = b.request_url("m", "@v/list");
        assert_eq!(full, "https://me:secret@h.example/p/m/@v/list");
        assert_eq!(red, "https://me:xxxxx@h.example/p/m/@v/list");
        assert_eq!(redact("https://me@h/x"), "https://me@h/x");
    }

    /// (base URL, whether newProxyRepo accepts it).
    const BASE_URLS: &[(&str, bool)] = &[
        ("https://proxy.golang.org", true),
        ("HTTP://h/x", true),
        ("http://h:8080/prefix/", true),
        ("ftp://h", false),
        ("file:///srv/proxy", false),
        ("myproxy", false),
        ("/abs/path", false),
        ("http://h/%zz", false),
        ("http://h:notaport/", false),
    ];

    #[test]
    fn base_url_scheme_must_be_http_or_https_like_new_proxy_repo() {
        for &(input, ok) in BASE_URLS {
            assert_eq!(BaseUrl::parse(input).is_ok(), ok, "{input}");
        }
    }
}
