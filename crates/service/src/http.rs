//! Small HTTP helpers: request-path percent-decoding, `Range` and `If-None-Match`.
//!
//! The go command percent-encodes the case-escaped module path (`!` arrives as `%21`;
//! `cmd/go/internal/modfetch/proxy.go` builds URLs with `url.URL`), so the path is decoded
//! first and un-escaped afterwards by [`modferry_formats::proxy::parse_endpoint`].

use std::ops::Range;

use crate::error::ApiError;

/// Decodes `%XX` sequences of a request path. Rejects malformed escapes, encoded NUL and
/// results that are not UTF-8, with a reason for the client.
pub fn percent_decode(path: &str) -> Result<String, ApiError> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(0) => return Err(ApiError::BadRequest("request path contains NUL".into())),
                Some(b) => out.push(b),
                None => {
                    return Err(ApiError::BadRequest(
                        "request path has a malformed %-escape".into(),
                    ));
                }
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| ApiError::BadRequest("request path is not valid UTF-8".into()))
}

/// Parses a `Range` header for a file of `size` bytes (RFC 9110 §14). Only a single range is
/// honoured; anything we do not understand (several ranges, other units) yields `Ok(None)`
/// and the whole file is sent, which the RFC allows. A syntactically valid range that lies
/// outside the file is an error (416).
pub fn parse_range(header: &str, size: u64) -> Result<Option<Range<u64>>, ApiError> {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let range = if a.is_empty() {
        // Suffix range: the last `b` bytes.
        let Ok(n) = b.parse::<u64>() else {
            return Ok(None);
        };
        if n == 0 {
            return Err(ApiError::RangeNotSatisfiable { size });
        }
        size.saturating_sub(n)..size
    } else {
        let Ok(start) = a.parse::<u64>() else {
            return Ok(None);
        };
        let end = if b.is_empty() {
            size
        } else {
            match b.parse::<u64>() {
                Ok(last) if last >= start => last.saturating_add(1).min(size),
                _ => return Ok(None),
            }
        };
        start..end
    };
    if range.start >= size || range.start >= range.end {
        return Err(ApiError::RangeNotSatisfiable { size });
    }
    Ok(Some(range))
}

/// A strong ETag derived from content (for small bodies held in memory).
pub fn content_etag(body: &[u8]) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(body);
    format!("\"{}\"", hex::encode(&d[..12]))
}

/// Whether an `If-None-Match` header value matches `etag` (weak comparison, RFC 9110 §13.1.2).
pub fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_string();
    let want = strip(etag);
    if_none_match
        .split(',')
        .any(|t| t.trim() == "*" || strip(t) == want)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decode_case_escaped_path_as_go_sends_it() {
        // proxy.go: `!` of the case-encoding arrives as %21.
        assert_eq!(
            percent_decode("/example.com/%21upper/@v/list").unwrap(),
            "/example.com/!upper/@v/list"
        );
        assert!(percent_decode("/a%2").is_err());
        assert!(percent_decode("/a%zz").is_err());
        assert!(percent_decode("/a%00b").is_err());
        assert!(percent_decode("/a%ff").is_err());
    }

    #[test]
    fn range_header_single_ranges() {
        let cases: &[(&str, u64, Option<Range<u64>>)] = &[
            ("bytes=0-9", 100, Some(0..10)),
            ("bytes=90-", 100, Some(90..100)),
            ("bytes=-10", 100, Some(90..100)),
            ("bytes=-1000", 100, Some(0..100)),
            ("bytes=95-200", 100, Some(95..100)),
            ("bytes=0-0", 1, Some(0..1)),
            ("bytes=0-1,5-6", 100, None),
            ("items=0-1", 100, None),
            ("bytes=5-2", 100, None),
        ];
        for (h, size, want) in cases {
            assert_eq!(parse_range(h, *size).unwrap(), *want, "{h}");
        }
        assert!(parse_range("bytes=100-", 100).is_err());
        assert!(parse_range("bytes=-0", 100).is_err());
        assert!(parse_range("bytes=0-", 0).is_err());
    }

    #[test]
    fn if_none_match_weak_comparison() {
        assert!(etag_matches("\"abc\"", "\"abc\""));
        assert!(etag_matches("W/\"abc\", \"x\"", "\"abc\""));
        assert!(etag_matches("*", "\"abc\""));
        assert!(!etag_matches("\"abd\"", "\"abc\""));
    }
}
