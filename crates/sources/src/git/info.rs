//! `.info` JSON exactly as the go command writes it into its module cache.
//!
//! Go rule: `cmd/go/internal/modfetch/repo.go` `RevInfo` (fields `Version`, `Time`, then
//! `Origin`), `codehost.Origin` (`VCS`, `URL`, `Subdir`, `Hash`, `TagPrefix`, `TagSum`, `Ref`,
//! `RepoSum`, each left out when empty), `cache.go` `writeDiskStat` (which drops `TagPrefix`,
//! `TagSum` and `RepoSum`, and `Ref` for pseudo-versions) and `encoding/json` (`Marshal`: no
//! white space, `<`, `>`, `&`, U+2028 and U+2029 escaped as `\u003c`-style sequences, times
//! as RFC 3339 with nanoseconds only when non-zero).

use modferry_formats::pseudo;
use time::OffsetDateTime;

use super::error::GitError;

/// Where a version came from (the fields of Go's `codehost.Origin` that an `.info` file keeps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    /// The repository URL (redacted).
    pub(crate) url: String,
    /// The module's directory in the repository; empty at the root.
    pub(crate) subdir: String,
    /// The commit hash.
    pub(crate) hash: String,
    /// The ref the version was resolved through, if any.
    pub(crate) ref_name: Option<String>,
}

/// Renders `{"Version":…,"Time":…,"Origin":{…}}` for `version` committed at `time` (Unix
/// seconds), applying `writeDiskStat`'s clean-up.
pub(crate) fn info_json(version: &str, time: i64, origin: &Origin) -> Result<Vec<u8>, GitError> {
    let mut s = String::with_capacity(256);
    s.push_str("{\"Version\":");
    push_json_string(&mut s, version);
    s.push_str(",\"Time\":");
    push_json_string(&mut s, &rfc3339(time)?);
    s.push_str(",\"Origin\":{\"VCS\":\"git\"");
    let mut field = |name: &str, value: &str| {
        if !value.is_empty() {
            s.push_str(",\"");
            s.push_str(name);
            s.push_str("\":");
            push_json_string(&mut s, value);
        }
    };
    field("URL", &origin.url);
    field("Subdir", &origin.subdir);
    field("Hash", &origin.hash);
    if !pseudo::is_pseudo_version(version) {
        field("Ref", origin.ref_name.as_deref().unwrap_or(""));
    }
    s.push_str("}}");
    Ok(s.into_bytes())
}

/// Go's `time.Time.MarshalJSON` for a whole-second UTC time: `2006-01-02T15:04:05Z`; years
/// outside 0..=9999 cannot be written (Go fails the same way).
pub(crate) fn rfc3339(unix: i64) -> Result<String, GitError> {
    let t = OffsetDateTime::from_unix_timestamp(unix)
        .map_err(|e| GitError::invalid(format!("commit time {unix}: {e}")))?;
    if !(0..=9999).contains(&t.year()) {
        return Err(GitError::invalid(format!(
            "commit time {unix}: year outside of range [0,9999]"
        )));
    }
    Ok(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

/// Appends `v` as a JSON string the way Go's `encoding/json` escapes it (HTML-safe).
fn push_json_string(out: &mut String, v: &str) {
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRINGS: &[(&str, &str)] = &[
        ("v1.0.0", r#""v1.0.0""#),
        ("a<b>&c", r#""a\u003cb\u003e\u0026c""#),
        ("q\"\\", r#""q\"\\""#),
        ("\n\t\u{1}", r#""\n\t\u0001""#),
        ("\u{2028}é", "\"\\u2028é\""),
    ];

    #[test]
    fn json_strings_escape_like_go_encoding_json() {
        for &(input, want) in STRINGS {
            let mut s = String::new();
            push_json_string(&mut s, input);
            assert_eq!(s, want, "{input:?}");
        }
    }

    #[test]
    fn info_json_matches_write_disk_stat_field_order() {
        let origin = Origin {
            url: "https://example.com/r".into(),
            subdir: "sub".into(),
            hash: "abc".into(),
            ref_name: Some("refs/tags/sub/v1.0.0".into()),
        };
        let got = info_json("v1.0.0", 1577934245, &origin).expect("json");
        assert_eq!(
            String::from_utf8(got).expect("utf8"),
            r#"{"Version":"v1.0.0","Time":"2020-01-02T03:04:05Z","Origin":{"VCS":"git","URL":"https://example.com/r","Subdir":"sub","Hash":"abc","Ref":"refs/tags/sub/v1.0.0"}}"#
        );
    }

    #[test]
    fn info_json_drops_ref_for_pseudo_versions_like_write_disk_stat() {
        let origin = Origin {
            url: "u".into(),
            subdir: String::new(),
            hash: "abc".into(),
            ref_name: Some("refs/heads/main".into()),
        };
        let got = info_json("v0.0.0-20200102030405-abcdefabcdef", 0, &origin).expect("json");
        assert_eq!(
            String::from_utf8(got).expect("utf8"),
            r#"{"Version":"v0.0.0-20200102030405-abcdefabcdef","Time":"1970-01-01T00:00:00Z","Origin":{"VCS":"git","URL":"u","Hash":"abc"}}"#
        );
    }
}
