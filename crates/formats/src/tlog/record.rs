//! Tree heads, records and lookup responses: x/mod `sumdb/tlog/note.go` (`FormatTree`,
//! `ParseTree`, `FormatRecord`, `ParseRecord`), `sumdb/server.go` (the `/lookup/` response and
//! data tiles) and `sumdb/client.go` (`Lookup`'s choice of go.sum lines). The rules are stated in
//! the [`tlog`](super#tree-heads-and-records) module documentation.

use super::{HASH_SIZE, Hash, TlogError};
use crate::note::decode_go_base64;

/// The first line of a tree head's text.
pub const TREE_HEADER: &str = "go.sum database tree\n";

/// The longest tree head text [`parse_tree`] reads.
pub const MAX_TREE_TEXT: usize = 1_000_000;

/// A tree head: the log's size and root hash (Go's `tlog.Tree`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, std::hash::Hash)]
pub struct Tree {
    /// Number of records.
    pub n: i64,
    /// Root hash.
    pub hash: Hash,
}

/// The text of a tree head, to be signed as a note: `go.sum database tree\n<N>\n<hash>\n`.
pub fn format_tree(tree: &Tree) -> String {
    format!("{TREE_HEADER}{}\n{}\n", tree.n, tree.hash)
}

/// Parses a tree head's text (Go's `ParseTree`); lines after the third are ignored.
pub fn parse_tree(text: &[u8]) -> Result<Tree, TlogError> {
    let bad = |reason| TlogError::MalformedTree { reason };
    if !text.starts_with(TREE_HEADER.as_bytes()) {
        return Err(bad("does not start with \"go.sum database tree\""));
    }
    if text.len() > MAX_TREE_TEXT {
        return Err(bad("longer than 1,000,000 bytes"));
    }
    let mut lines = text.split(|&b| b == b'\n');
    let (Some(_), Some(size), Some(hash), Some(_)) =
        (lines.next(), lines.next(), lines.next(), lines.next())
    else {
        return Err(bad("fewer than three lines"));
    };
    let n = std::str::from_utf8(size)
        .ok()
        .and_then(|s| {
            s.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0 && n.to_string() == s)
        })
        .ok_or(bad("the size is not a canonical non-negative decimal"))?;
    let hash = std::str::from_utf8(hash)
        .ok()
        .and_then(decode_go_base64)
        .and_then(|h| <[u8; HASH_SIZE]>::try_from(h).ok())
        .ok_or(bad("the hash is not base64 of 32 bytes"))?;
    Ok(Tree {
        n,
        hash: Hash(hash),
    })
}

/// Checks record text: UTF-8, no control characters but `\n`, ends in `\n`, no blank line.
fn check_record_text(text: &[u8]) -> Result<&str, TlogError> {
    let bad = |reason| TlogError::MalformedRecord { reason };
    let text = std::str::from_utf8(text).map_err(|_| bad("record text is not UTF-8"))?;
    if text.contains(|c: char| c < ' ' && c != '\n') {
        return Err(bad("record text has a control character"));
    }
    if !text.ends_with('\n') {
        return Err(bad("record text does not end in a newline"));
    }
    // Go looks for two newlines in a row, so a lone leading newline is allowed.
    if text.contains("\n\n") {
        return Err(bad("record text has a blank line"));
    }
    Ok(text)
}

/// Formats record `id` for a lookup response: `<id>\n<text>\n` (Go's `FormatRecord`).
pub fn format_record(id: i64, text: &[u8]) -> Result<Vec<u8>, TlogError> {
    check_record_text(text)?;
    let mut msg = format!("{id}\n").into_bytes();
    msg.extend_from_slice(text);
    msg.push(b'\n');
    Ok(msg)
}

/// A record parsed from the front of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedRecord<'a> {
    /// The record id.
    pub id: i64,
    /// The record text, ending in a newline.
    pub text: &'a str,
    /// What follows the record's blank line.
    pub rest: &'a [u8],
}

/// Parses a formatted record at the start of `msg`, up to and including its blank line (Go's
/// `ParseRecord`).
pub fn parse_record(msg: &[u8]) -> Result<ParsedRecord<'_>, TlogError> {
    let bad = |reason| TlogError::MalformedRecord { reason };
    let nl = msg
        .iter()
        .position(|&b| b == b'\n')
        .ok_or(bad("no record id line"))?;
    let id = std::str::from_utf8(&msg[..nl])
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or(bad("the record id is not a decimal number"))?;
    let body = &msg[nl + 1..];
    let end = body
        .windows(2)
        .position(|w| w == b"\n\n")
        .ok_or(bad("the record text has no terminating blank line"))?;
    let text = check_record_text(&body[..end + 1])?;
    Ok(ParsedRecord {
        id,
        text,
        rest: &body[end + 2..],
    })
}

/// The body of a `/lookup/<module>@<version>` response: record `id`, then the signed tree head
/// note (sumdb `Server`).
pub fn format_lookup(id: i64, text: &[u8], signed_tree: &[u8]) -> Result<Vec<u8>, TlogError> {
    let mut msg = format_record(id, text)?;
    msg.extend_from_slice(signed_tree);
    Ok(msg)
}

/// A parsed lookup response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lookup<'a> {
    /// The record id.
    pub id: i64,
    /// The record text (for the go.sum database, two go.sum lines).
    pub text: &'a str,
    /// The signed tree head note that follows; to be opened with [`crate::note::open`].
    pub signed_tree: &'a [u8],
}

/// Splits a `/lookup/` response into its record and signed tree head (as sumdb `Client.Lookup`
/// does before checking them).
pub fn parse_lookup(msg: &[u8]) -> Result<Lookup<'_>, TlogError> {
    let r = parse_record(msg)?;
    Ok(Lookup {
        id: r.id,
        text: r.text,
        signed_tree: r.rest,
    })
}

/// The content of a data tile: each record's text followed by a blank line (sumdb `Server`
/// serving `tile/H/data/…`).
pub fn format_data_tile<T: AsRef<[u8]>>(records: &[T]) -> Result<Vec<u8>, TlogError> {
    let mut out = Vec::new();
    for text in records {
        let text = check_record_text(text.as_ref())?;
        out.extend_from_slice(text.as_bytes());
        out.push(b'\n');
    }
    Ok(out)
}

/// Splits a data tile into its records' texts.
pub fn parse_data_tile(data: &[u8]) -> Result<Vec<&str>, TlogError> {
    let mut records = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let end = rest
            .windows(2)
            .position(|w| w == b"\n\n")
            .ok_or(TlogError::MalformedRecord {
                reason: "data tile record has no terminating blank line",
            })?;
        records.push(check_record_text(&rest[..end + 1])?);
        rest = &rest[end + 2..];
    }
    Ok(records)
}

/// The record text the go.sum database keeps for a module version: its two go.sum lines,
/// `<path> <version> <zip h1>\n<path> <version>/go.mod <go.mod h1>\n`.
pub fn format_gosum_record(path: &str, version: &str, zip_hash: &str, mod_hash: &str) -> String {
    format!("{path} {version} {zip_hash}\n{path} {version}/go.mod {mod_hash}\n")
}

/// The go.sum lines of record `text` for `path` at `version` (which may end in `/go.mod`): the
/// lines starting with `<path> <version> `, as the go command's sumdb client selects them.
pub fn lookup_lines<'a>(text: &'a str, path: &str, version: &str) -> Vec<&'a str> {
    let prefix = format!("{path} {version} ");
    text.split('\n')
        .filter(|line| line.starts_with(&prefix))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::record_hash;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tree_heads_round_trip_and_ignore_extra_lines() {
        let tree = Tree {
            n: 1234,
            hash: record_hash(b"x"),
        };
        let text = format_tree(&tree);
        assert_eq!(text, format!("go.sum database tree\n1234\n{}\n", tree.hash));
        assert_eq!(parse_tree(text.as_bytes()).unwrap(), tree);
        let extended = format!("{text}more\nlines\n\u{ff}");
        assert_eq!(parse_tree(extended.as_bytes()).unwrap(), tree);
    }

    #[test]
    fn parse_tree_rejects_malformed_heads() {
        let hash = record_hash(b"x").to_string();
        let cases = [
            format!("go.sum database tree v2\n1\n{hash}\n"),
            format!("go.sum database tree\n1\n{hash}"),
            format!("go.sum database tree\n01\n{hash}\n"),
            format!("go.sum database tree\n+1\n{hash}\n"),
            format!("go.sum database tree\n-1\n{hash}\n"),
            format!("go.sum database tree\n-0\n{hash}\n"),
            format!("go.sum database tree\n 1\n{hash}\n"),
            format!("go.sum database tree\n99999999999999999999\n{hash}\n"),
            format!("go.sum database tree\n1\n{}\n", &hash[..43]),
            "go.sum database tree\n1\nAAAA\n".to_owned(),
            format!(
                "go.sum database tree\n1\n{hash}\n{}",
                "x".repeat(MAX_TREE_TEXT)
            ),
        ];
        for text in &cases {
            assert!(
                matches!(
                    parse_tree(text.as_bytes()),
                    Err(TlogError::MalformedTree { .. })
                ),
                "{text:?}"
            );
        }
    }

    #[test]
    fn record_text_must_be_newline_terminated_without_blank_lines() {
        const CASES: &[(&[u8], bool)] = &[
            (b"a\n", true),
            (b"a\nb\n", true),
            (b"\xc3\xa9\n", true),
            (b"a", false),
            (b"", false),
            (b"\n", true),
            (b"\na\n", true),
            (b"a\n\nb\n", false),
            (b"a\tb\n", false),
            (b"a\rb\n", false),
            (b"\xff\n", false),
        ];
        for &(text, ok) in CASES {
            assert_eq!(format_record(7, text).is_ok(), ok, "{text:?}");
        }
    }

    #[test]
    fn records_and_lookups_round_trip() {
        let text = format_gosum_record("example.com/m", "v1.0.0", "h1:zip=", "h1:mod=");
        assert_eq!(
            text,
            "example.com/m v1.0.0 h1:zip=\nexample.com/m v1.0.0/go.mod h1:mod=\n"
        );
        let signed = "go.sum database tree\n5\nxxx\n\n\u{2014} a sig\n";
        let msg = format_lookup(4, text.as_bytes(), signed.as_bytes()).unwrap();
        assert!(msg.starts_with(b"4\nexample.com/m v1.0.0 h1:zip=\n"));
        let l = parse_lookup(&msg).unwrap();
        assert_eq!(
            (l.id, l.text, l.signed_tree),
            (4, text.as_str(), signed.as_bytes())
        );
        assert_eq!(
            lookup_lines(l.text, "example.com/m", "v1.0.0"),
            ["example.com/m v1.0.0 h1:zip="]
        );
        assert_eq!(
            lookup_lines(l.text, "example.com/m", "v1.0.0/go.mod"),
            ["example.com/m v1.0.0/go.mod h1:mod="]
        );
        assert!(lookup_lines(l.text, "example.com", "v1.0.0").is_empty());
    }

    #[test]
    fn parse_record_accepts_what_strconv_parse_int_accepts() {
        const CASES: &[(&[u8], Option<i64>)] = &[
            (b"5\na\n\n", Some(5)),
            (b"+5\na\n\n", Some(5)),
            (b"-5\na\n\n", Some(-5)),
            (b"005\na\n\n", Some(5)),
            (b"\na\n\n", None),
            (b"5 \na\n\n", None),
            (b"5\na\n", None),
            (b"5", None),
            (b"5\n\n", None),
            (b"99999999999999999999\na\n\n", None),
        ];
        for &(msg, want) in CASES {
            assert_eq!(parse_record(msg).ok().map(|r| r.id), want, "{msg:?}");
        }
    }

    #[test]
    fn data_tiles_drop_the_id_lines() {
        let data = format_data_tile(&["a\nb\n", "c\n"]).unwrap();
        assert_eq!(data, b"a\nb\n\nc\n\n");
        assert_eq!(parse_data_tile(&data).unwrap(), ["a\nb\n", "c\n"]);
        assert!(parse_data_tile(b"a\n").is_err());
        assert!(format_data_tile(&["a"]).is_err());
    }

    proptest! {
        #[test]
        fn parsers_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_tree(&data);
            let _ = parse_record(&data);
            let _ = parse_data_tile(&data);
            let _ = format_record(1, &data);
        }

        #[test]
        fn records_round_trip(id in any::<i64>(), lines in proptest::collection::vec("[ -~]{1,20}", 1..5)) {
            let text = lines.iter().map(|l| format!("{l}\n")).collect::<String>();
            let msg = format_record(id, text.as_bytes()).unwrap();
            let r = parse_record(&msg).unwrap();
            prop_assert_eq!((r.id, r.text, r.rest), (id, text.as_str(), &b""[..]));
        }
    }
}
