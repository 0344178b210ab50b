//! The few pieces of Go's text handling that go.mod, go.work and go.sum parsing depend on, with
//! Go's exact behaviour on odd input:
//!
//! - decoding UTF-8 one rune at a time, where every byte that does not start a valid encoding is
//!   one U+FFFD rune of width 1 (`utf8.DecodeRune`), so columns and lossy strings match Go's;
//! - `unicode.IsPrint` (table generated from Go in `print_table.rs`) and `unicode.IsSpace`;
//! - `strconv.Quote` / `QuoteRune` (what `%q` prints in error messages) and `strconv.Unquote`
//!   for interpreted (`"…"`) and raw (`` `…` ``) string literals;
//! - `strings.Fields` and `bytes.TrimSpace`.
//!
//! Everything works on bytes, as Go's strings do; [`lossy`] turns bytes into a Rust `String`,
//! replacing each invalid byte by U+FFFD (as Go's `encoding/json` does).

use super::print_table::PRINT_RANGES;

/// The replacement character Go's decoder yields for a byte that is not valid UTF-8.
const REPLACEMENT: char = '\u{FFFD}';

/// Decodes the first rune of `b` (which must not be empty) like Go's `utf8.DecodeRune`: returns
/// the rune and its width in bytes, or `(U+FFFD, 1)` when `b` does not start with a valid encoding.
pub(crate) fn decode_rune(b: &[u8]) -> (char, usize) {
    let Some(&first) = b.first() else {
        return (REPLACEMENT, 0);
    };
    let width = match first {
        0x00..=0x7F => return (char::from(first), 1),
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return (REPLACEMENT, 1),
    };
    match b.get(..width).map(std::str::from_utf8) {
        Some(Ok(s)) => match s.chars().next() {
            Some(c) => (c, width),
            None => (REPLACEMENT, 1),
        },
        _ => (REPLACEMENT, 1),
    }
}

/// Converts bytes to a `String`, replacing every byte that is not part of a valid UTF-8 encoding
/// with U+FFFD (one per byte, as Go does; `String::from_utf8_lossy` may merge several).
pub(crate) fn lossy(b: &[u8]) -> String {
    if let Ok(s) = std::str::from_utf8(b) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(b.len() + 8);
    let mut rest = b;
    while !rest.is_empty() {
        let (c, w) = decode_rune(rest);
        out.push(c);
        rest = &rest[w..];
    }
    out
}

/// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space.
pub(crate) fn is_print(c: char) -> bool {
    let c = u32::from(c);
    if c < 0x80 {
        return (0x20..0x7F).contains(&c);
    }
    PRINT_RANGES
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Go's `unicode.IsSpace`, which is the Unicode White_Space property, as is Rust's.
pub(crate) fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// Go's `strings.Fields` on bytes: the non-empty runs between white-space runes.
pub(crate) fn fields(b: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = None;
    let mut i = 0;
    while i < b.len() {
        let (c, w) = decode_rune(&b[i..]);
        if is_space(c) {
            if let Some(s) = start.take() {
                out.push(&b[s..i]);
            }
        } else if start.is_none() {
            start = Some(i);
        }
        i += w;
    }
    if let Some(s) = start {
        out.push(&b[s..]);
    }
    out
}

/// Go's `bytes.TrimSpace`: `b` without leading and trailing white-space runes.
pub(crate) fn trim_space(b: &[u8]) -> &[u8] {
    let mut start = 0;
    while start < b.len() {
        let (c, w) = decode_rune(&b[start..]);
        if !is_space(c) {
            break;
        }
        start += w;
    }
    let mut end = b.len();
    while end > start {
        // Find the start of the last rune before `end`: at most 4 bytes back.
        let mut s = end - 1;
        while s > start && end - s < 4 && (b[s] & 0xC0) == 0x80 {
            s -= 1;
        }
        let (c, w) = decode_rune(&b[s..end]);
        if s + w != end {
            // Not a complete rune ending at `end`: the last byte is invalid on its own.
            break;
        }
        if !is_space(c) {
            break;
        }
        end = s;
    }
    &b[start..end]
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_hex(out: &mut String, prefix: &str, v: u32, digits: u32) {
    out.push_str(prefix);
    for shift in (0..digits).rev() {
        out.push(char::from(HEX[((v >> (4 * shift)) & 0xF) as usize]));
    }
}

/// Appends `c` as it appears inside a Go quoted literal delimited by `quote`.
fn push_escaped(out: &mut String, c: char, quote: char) {
    if c == quote || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if is_print(c) {
        out.push(c);
        return;
    }
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{C}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{B}' => out.push_str("\\v"),
        _ => {
            let v = u32::from(c);
            if v < 0x20 || v == 0x7F {
                push_hex(out, "\\x", v, 2);
            } else if v < 0x10000 {
                push_hex(out, "\\u", v, 4);
            } else {
                push_hex(out, "\\U", v, 8);
            }
        }
    }
}

/// Go's `strconv.Quote` (what `%q` prints for a string): a double-quoted literal in which
/// non-printable runes are escaped and each invalid byte is written as `\xNN`.
pub(crate) fn quote(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len() + 2);
    out.push('"');
    let mut rest = b;
    while !rest.is_empty() {
        let (c, w) = decode_rune(rest);
        if w == 1 && c == REPLACEMENT {
            push_hex(&mut out, "\\x", u32::from(rest[0]), 2);
        } else {
            push_escaped(&mut out, c, '"');
        }
        rest = &rest[w..];
    }
    out.push('"');
    out
}

/// Go's `strconv.QuoteRune` (what `%q` and `%#q` print for a rune): a single-quoted literal.
pub(crate) fn quote_rune(c: char) -> String {
    let mut out = String::from("'");
    push_escaped(&mut out, c, '\'');
    out.push('\'');
    out
}

fn unhex(b: u8) -> Option<u32> {
    char::from(b).to_digit(16)
}

/// Go's `strconv.Unquote` for interpreted (`"…"`) and raw (`` `…` ``) string literals: the bytes
/// the literal denotes, or `None` if `s` is not exactly one valid literal. Raw literals lose their
/// carriage returns; `\x` and octal escapes may yield bytes that are not UTF-8, and invalid UTF-8
/// in an interpreted literal becomes U+FFFD, as in Go.
pub(crate) fn unquote(s: &[u8]) -> Option<Vec<u8>> {
    if s.len() < 2 {
        return None;
    }
    let q = s[0];
    match q {
        b'`' => {
            let end = 1 + s[1..].iter().position(|&b| b == b'`')?;
            if end + 1 != s.len() {
                return None;
            }
            Some(s[1..end].iter().copied().filter(|&b| b != b'\r').collect())
        }
        b'"' => {
            let body = &s[1..];
            // Fast path: no escapes, the first quote ends the literal, and the text is UTF-8.
            if let Some(end) = body.iter().position(|&b| b == b'"') {
                let text = &body[..end];
                if !text.contains(&b'\\')
                    && !text.contains(&b'\n')
                    && std::str::from_utf8(text).is_ok()
                {
                    return (end + 2 == s.len()).then(|| text.to_vec());
                }
            } else {
                return None;
            }
            let mut out = Vec::with_capacity(body.len());
            let mut rest = body;
            loop {
                match rest.first() {
                    None => return None,
                    Some(b'"') => break,
                    Some(b'\n') => return None,
                    Some(_) => {}
                }
                rest = unquote_char(rest, &mut out)?;
            }
            // `rest` starts with the closing quote, which must end the input.
            (rest.len() == 1).then_some(out)
        }
        _ => None,
    }
}

/// Decodes one character or escape sequence of an interpreted string literal at the start of
/// `s` (not at a quote or newline), appends its bytes to `out` and returns the rest.
fn unquote_char<'a>(s: &'a [u8], out: &mut Vec<u8>) -> Option<&'a [u8]> {
    let c = *s.first()?;
    if c >= 0x80 {
        let (r, w) = decode_rune(s);
        let mut buf = [0u8; 4];
        out.extend_from_slice(r.encode_utf8(&mut buf).as_bytes());
        return Some(&s[w..]);
    }
    if c != b'\\' {
        out.push(c);
        return Some(&s[1..]);
    }
    let esc = *s.get(1)?;
    let rest = &s[2..];
    let simple = match esc {
        b'a' => Some(0x07),
        b'b' => Some(0x08),
        b'f' => Some(0x0C),
        b'n' => Some(b'\n'),
        b'r' => Some(b'\r'),
        b't' => Some(b'\t'),
        b'v' => Some(0x0B),
        b'\\' => Some(b'\\'),
        b'"' => Some(b'"'),
        _ => None,
    };
    if let Some(b) = simple {
        out.push(b);
        return Some(rest);
    }
    match esc {
        b'x' | b'u' | b'U' => {
            let n = match esc {
                b'x' => 2,
                b'u' => 4,
                _ => 8,
            };
            let digits = rest.get(..n)?;
            let mut v: u32 = 0;
            for &d in digits {
                v = (v << 4) | unhex(d)?;
            }
            if esc == b'x' {
                // A single byte, possibly not UTF-8 on its own.
                out.push(u8::try_from(v).ok()?);
            } else {
                let ch = char::from_u32(v)?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
            Some(&rest[n..])
        }
        b'0'..=b'7' => {
            let digits = rest.get(..2)?;
            let mut v = u32::from(esc - b'0');
            for &d in digits {
                if !(b'0'..=b'7').contains(&d) {
                    return None;
                }
                v = (v << 3) | u32::from(d - b'0');
            }
            out.push(u8::try_from(v).ok()?);
            Some(&rest[2..])
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_rune_treats_each_invalid_byte_as_one_replacement_rune() {
        const CASES: &[(&[u8], char, usize)] = &[
            (b"a", 'a', 1),
            ("é".as_bytes(), 'é', 2),
            ("€x".as_bytes(), '€', 3),
            ("😀".as_bytes(), '😀', 4),
            (b"\xff", REPLACEMENT, 1),
            (b"\xe2\x82", REPLACEMENT, 1),     // truncated
            (b"\xc0\x80", REPLACEMENT, 1),     // overlong
            (b"\xed\xa0\x80", REPLACEMENT, 1), // surrogate
        ];
        for &(input, c, w) in CASES {
            assert_eq!(decode_rune(input), (c, w), "{input:?}");
        }
    }

    #[test]
    fn lossy_replaces_every_invalid_byte_like_go_json() {
        assert_eq!(lossy(b"a\xe2\x82b"), "a\u{FFFD}\u{FFFD}b");
        assert_eq!(lossy("ok".as_bytes()), "ok");
    }

    #[test]
    fn is_print_matches_unicode_is_print() {
        const CASES: &[(char, bool)] = &[
            (' ', true),
            ('~', true),
            ('\u{7F}', false),
            ('\t', false),
            ('\u{A0}', false),
            ('\u{AD}', false),
            ('é', true),
            ('\u{200B}', false),
            ('\u{3000}', false),
            ('\u{FFFD}', true),
            ('😀', true),
            ('\u{E000}', false),
        ];
        for &(c, want) in CASES {
            assert_eq!(is_print(c), want, "{c:?}");
        }
    }

    #[test]
    fn quote_matches_strconv_quote() {
        const CASES: &[(&[u8], &str)] = &[
            (b"v1.0.0", r#""v1.0.0""#),
            (b"a\"b\\c", r#""a\"b\\c""#),
            (b"\x00\x07\x7f\t", r#""\x00\a\x7f\t""#),
            (b"\xff", r#""\xff""#),
            ("é\u{200B}\u{E0001}".as_bytes(), "\"é\\u200b\\U000e0001\""),
        ];
        for &(input, want) in CASES {
            assert_eq!(quote(input), want, "{input:?}");
        }
        assert_eq!(quote_rune('\0'), r"'\x00'");
        assert_eq!(quote_rune('\u{A0}'), r"'\u00a0'");
        assert_eq!(quote_rune('\''), r"'\''");
    }

    #[test]
    fn unquote_matches_strconv_unquote() {
        const CASES: &[(&[u8], Option<&[u8]>)] = &[
            (br#""abc""#, Some(b"abc")),
            (br#""""#, Some(b"")),
            (
                br#""a\tb\x41\101\u00e9\U0001F600\\\"""#,
                Some("a\tbAAé😀\\\"".as_bytes()),
            ),
            (br#""\xff""#, Some(b"\xff")),
            (b"\"\xff\"", Some("\u{FFFD}".as_bytes())),
            (br#""\'""#, None),
            (br#""\q""#, None),
            (br#""\400""#, None),
            (br#""\ud800""#, None),
            (br#""\x4""#, None),
            (br#""abc"#, None),
            (br#""a"b""#, None),
            (b"\"a\nb\"", None),
            (b"`a\\b\r`", Some(b"a\\b")),
            (b"`a`b`", None),
            (b"'a'", None),
            (b"\"", None),
        ];
        for &(input, want) in CASES {
            assert_eq!(unquote(input).as_deref(), want, "{:?}", lossy(input));
        }
    }

    #[test]
    fn fields_and_trim_space_use_unicode_white_space() {
        assert_eq!(
            fields(b"  a\tb\xc2\xa0c \r\n"),
            vec![&b"a"[..], &b"b"[..], &b"c"[..]]
        );
        assert!(fields(b" \t ").is_empty());
        assert_eq!(trim_space(b" \r x y\t\xe3\x80\x80"), b"x y");
        assert_eq!(trim_space(b"x\xff "), b"x\xff");
        assert_eq!(trim_space(b"   "), b"");
    }
}
