//! The GOPROXY list: which sources to ask, in which order, and when to move on.
//!
//! Go rule: `proxyList` in `cmd/go/internal/modfetch/proxy.go` (and `go help environment`,
//! GOPROXY). Restated:
//!
//! - Entries are separated by `,` or `|`. The separator *after* an entry says when a lookup moves
//!   past it: `,` only when the entry answered "not found" (HTTP 404/410), `|` after any error.
//!   The last entry has no separator and falls through on "not found" only.
//! - Each entry is trimmed of Unicode white space; empty entries are skipped, so `a,,b`, `,a` and
//!   `a,` are all fine.
//! - `off` ends the list: lookups that reach it fail. `direct` ends the list too: fetch from
//!   version control. Entries after either are ignored, without being checked. Both keywords are
//!   case-sensitive (`OFF` is an invalid URL, as in Go).
//! - Any other entry is a URL. One with a `.`, `:` or `/` but no `:/`, that is not an absolute
//!   path, gets an implicit `https://` (`proxy.example.com` → `https://proxy.example.com`,
//!   `localhost:3000` → `https://localhost:3000`); everything else must already be a complete
//!   URL with scheme `http` or `https` (Go also takes `file`; this crate rejects it for now).
//! - A list without any entry is an error (Go: "GOPROXY list is not the empty string, but contains
//!   no entries").
//!
//! Deliberate deviations: the empty string is an error here (the go command substitutes its
//! default `https://proxy.golang.org,direct` before parsing; callers do that themselves), and the
//! `noproxy` entry that GONOPROXY/GOPRIVATE add in Go is not produced (those variables are not
//! this function's business). Go records `off` and `direct` with "fall through on any error" =
//! false whatever separator follows them; so does this.

use crate::error::ConfigError;
use crate::proxy_url::BaseUrl;

/// One entry of a GOPROXY list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProxyEntry {
    /// A module proxy at this base URL (with the implicit `https://` added when it was left out).
    Url(String),
    /// `direct`: fetch from version control.
    Direct,
    /// `off`: lookups that reach this entry fail.
    Off,
}

impl std::fmt::Display for ProxyEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProxyEntry::Url(url) => f.write_str(&crate::proxy_url::redact(url)),
            ProxyEntry::Direct => f.write_str("direct"),
            ProxyEntry::Off => f.write_str("off"),
        }
    }
}

/// Parses a GOPROXY value into its entries, each with whether a lookup falls through it on any
/// error (`true`: a `|` follows it) or only on "not found" (`false`).
pub fn parse_proxy_list(s: &str) -> Result<Vec<(ProxyEntry, bool)>, ConfigError> {
    let mut entries = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let (item, fall_through_any) = match rest.find([',', '|']) {
            Some(i) => {
                let any = rest.as_bytes()[i] == b'|';
                let item = &rest[..i];
                rest = &rest[i + 1..];
                (item, any)
            }
            None => {
                let item = rest;
                rest = "";
                (item, false)
            }
        };
        let item = item.trim();
        match item {
            "" => continue,
            "off" => {
                entries.push((ProxyEntry::Off, false));
                break;
            }
            "direct" => {
                entries.push((ProxyEntry::Direct, false));
                break;
            }
            _ => {
                let url = with_implicit_https(item);
                BaseUrl::parse(&url)?;
                entries.push((ProxyEntry::Url(url), fall_through_any));
            }
        }
    }
    if entries.is_empty() {
        return Err(ConfigError::EmptyList { list: s.to_owned() });
    }
    Ok(entries)
}

/// Adds `https://` to an entry that looks like a host or host/path, as `proxyList` does.
fn with_implicit_https(item: &str) -> String {
    let looks_like_host = item.contains(['.', ':', '/']);
    let complete = item.contains(":/");
    let absolute = item.starts_with('/');
    if looks_like_host && !complete && !absolute {
        format!("https://{item}")
    } else {
        item.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(u: &str) -> ProxyEntry {
        ProxyEntry::Url(u.to_owned())
    }

    /// (GOPROXY, entries with fall-through-on-any-error flags).
    fn good_lists() -> Vec<(&'static str, Vec<(ProxyEntry, bool)>)> {
        vec![
            (
                "https://proxy.golang.org,direct",
                vec![
                    (url("https://proxy.golang.org"), false),
                    (ProxyEntry::Direct, false),
                ],
            ),
            ("off", vec![(ProxyEntry::Off, false)]),
            ("direct", vec![(ProxyEntry::Direct, false)]),
            (
                "http://a|http://b,http://c",
                vec![
                    (url("http://a"), true),
                    (url("http://b"), false),
                    (url("http://c"), false),
                ],
            ),
            // Empty entries and surrounding spaces are skipped; a trailing '|' still marks its entry.
            (
                " ,http://a , ,| http://b|",
                vec![(url("http://a"), false), (url("http://b"), true)],
            ),
            (",,http://a,,", vec![(url("http://a"), false)]),
            // Entries after off/direct are ignored, even invalid ones.
            (
                "http://a|off,garbage",
                vec![(url("http://a"), true), (ProxyEntry::Off, false)],
            ),
            ("direct|http://a", vec![(ProxyEntry::Direct, false)]),
            ("off|direct", vec![(ProxyEntry::Off, false)]),
            // Implicit https:// for host-like entries.
            (
                "proxy.example.com",
                vec![(url("https://proxy.example.com"), false)],
            ),
            (
                "localhost:3000",
                vec![(url("https://localhost:3000"), false)],
            ),
            (
                "corp.example/go|direct",
                vec![
                    (url("https://corp.example/go"), true),
                    (ProxyEntry::Direct, false),
                ],
            ),
            ("\thttp://a/p/\n", vec![(url("http://a/p/"), false)]),
        ]
    }

    #[test]
    fn proxy_list_parses_like_go_proxy_list() {
        for (input, want) in good_lists() {
            assert_eq!(
                parse_proxy_list(input).ok(),
                Some(want),
                "GOPROXY={input:?}"
            );
        }
    }

    /// GOPROXY values the go command rejects.
    const BAD_LISTS: &[&str] = &[
        "",
        ",",
        " ",
        "|,|",
        "myproxy",
        "OFF",
        "Direct",
        "/srv/goproxy",
        "ftp://h",
        "http://a,noscheme",
        "http://h:port/",
    ];

    #[test]
    fn proxy_list_rejects_empty_lists_and_bad_urls_like_go_proxy_list() {
        for &input in BAD_LISTS {
            assert!(parse_proxy_list(input).is_err(), "GOPROXY={input:?}");
        }
    }

    #[test]
    fn proxy_list_empty_error_names_the_list() {
        assert_eq!(
            parse_proxy_list(" , "),
            Err(ConfigError::EmptyList { list: " , ".into() })
        );
        assert!(matches!(
            parse_proxy_list("myproxy"),
            Err(ConfigError::MissingScheme { .. })
        ));
    }
}
