//! The line-oriented syntax shared by go.mod and go.work (x/mod modfile/read.go: the lexer,
//! `parseFile`, `parseStmt`, `parseLineBlock` and the comment attachment of `assignComments`).
//!
//! The rules, as Go applies them:
//!
//! - A file is a sequence of lines. Spaces, tabs and carriage returns separate tokens; a newline
//!   ends a statement. Tokens are the punctuation `( ) [ ] { } ,`, string literals (`"…"` with
//!   backslash escapes, or `` `…` ``, neither may contain a raw newline) and identifiers: runs of
//!   printable, non-space runes other than that punctuation. An identifier stops before `//`.
//! - `//` starts a comment that runs to the end of the line. A comment alone on its line is a
//!   "whole-line" comment; one after other text is a "suffix" comment. `/*` is an error anywhere
//!   a token could start or inside an identifier, as is any other non-printable rune.
//! - A statement whose last token is `(` followed by the end of the line opens a block: every
//!   following line up to a line starting with `)` is one entry, and `)` must end its line.
//!   `( )` at the end of a statement is an empty block; elsewhere parentheses are plain tokens.
//! - Whole-line comments directly above a statement (no blank line between) belong to it; inside
//!   a block, all whole-line comments since the previous entry belong to the next entry, and so
//!   do blank lines (as empty comments) except those right after the opening line.
//! - A suffix comment belongs to the closest element before it that sits on one line: an entry,
//!   a block's `(` or `)`, or a group of whole-line comments. That is the entry on its own line,
//!   except when that entry spans lines (a string literal can hide a newline after a backslash);
//!   then Go gives the comment to an earlier element, and so do we.
//! - The first lexical or syntax error stops parsing; Go reports it at the lexer's position,
//!   which is one token ahead of the parser for the errors about blocks.
//!
//! Tokens and comments are kept as raw bytes (Go strings are bytes); positions count lines from 1
//! and columns in runes from 1, decoding as [`gotext::decode_rune`] does.

use super::gotext::{self, decode_rune, is_print, is_space, quote_rune};

/// A position in the input: 1-based line, 1-based rune column (Go's `Position.LineRune`) and
/// byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    /// Line number, from 1.
    pub line: usize,
    /// Column in runes, from 1.
    pub col: usize,
    /// Byte offset, from 0.
    pub byte: usize,
}

/// The first lexical or syntax error in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    /// Where Go reports it.
    pub pos: Pos,
    /// The message, as Go words it.
    pub msg: String,
}

/// One line of tokens: a top-level statement or an entry inside a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    /// Position of the first token.
    pub start: Pos,
    /// The raw tokens (string literals still quoted); never empty.
    pub tokens: Vec<Vec<u8>>,
    /// The whole-line comments attached before it, each starting with `//`; inside a block, an
    /// empty entry stands for blank lines, as in Go.
    pub before: Vec<Vec<u8>>,
    /// The suffix comments attached to it (normally the one on its line), each starting `//`.
    pub suffix: Vec<Vec<u8>>,
    /// End of the last token.
    end: Pos,
}

/// A parenthesized block: `verb (` … `)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Block {
    /// Position of the first token of the opening line.
    pub start: Pos,
    /// The tokens before `(`; never empty.
    pub tokens: Vec<Vec<u8>>,
    /// The whole-line comments attached before the block.
    pub before: Vec<Vec<u8>>,
    /// The entries.
    pub lines: Vec<Line>,
    /// Position of the `(`.
    lparen: Pos,
    /// Position of the `)`.
    rparen: Pos,
}

/// A top-level statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stmt {
    /// A single line.
    Line(Line),
    /// A block of lines.
    Block(Block),
    /// Whole-line comments not attached to a statement; starts at the first one. It matters
    /// only as a place where suffix comments may land.
    Comments(Pos),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Eof,
    /// A comment after other text on its line; it ends that line.
    SuffixComment,
    /// A comment alone on its line (its newline included).
    LineComment,
    Ident,
    Str,
    Newline,
    LParen,
    RParen,
    /// `[`, `]`, `{`, `}` or `,`.
    Punct,
}

impl Kind {
    fn ends_line(self) -> bool {
        matches!(self, Kind::Eof | Kind::SuffixComment | Kind::Newline)
    }
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    pos: Pos,
    end: Pos,
    /// The token's bytes; for comments without the trailing `\n` or `\r\n`.
    text: Vec<u8>,
}

struct Lexer<'a> {
    data: &'a [u8],
    pos: Pos,
    /// Every suffix comment read so far, with its start; assigned after parsing.
    suffix_comments: Vec<(Pos, Vec<u8>)>,
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a [u8] {
        &self.data[self.pos.byte..]
    }

    fn peek_rune(&self) -> Option<char> {
        let rest = self.rest();
        (!rest.is_empty()).then(|| decode_rune(rest).0)
    }

    fn read_rune(&mut self) -> Option<char> {
        let rest = self.rest();
        if rest.is_empty() {
            return None;
        }
        let (c, w) = decode_rune(rest);
        self.pos.byte += w;
        if c == '\n' {
            self.pos.line += 1;
            self.pos.col = 1;
        } else {
            self.pos.col += 1;
        }
        Some(c)
    }

    fn error<T>(&self, pos: Pos, msg: impl Into<String>) -> Result<T, SyntaxError> {
        Err(SyntaxError {
            pos,
            msg: msg.into(),
        })
    }

    fn block_comment_error<T>(&self) -> Result<T, SyntaxError> {
        self.error(
            self.pos,
            "mod files must use // comments (not /* */ comments)",
        )
    }

    fn token(&self, kind: Kind, start: Pos) -> Token {
        let mut text = &self.data[start.byte..self.pos.byte];
        if matches!(kind, Kind::SuffixComment | Kind::LineComment) {
            text = text
                .strip_suffix(b"\r\n")
                .or_else(|| text.strip_suffix(b"\n"))
                .unwrap_or(text);
        }
        Token {
            kind,
            pos: start,
            end: self.pos,
            text: text.to_vec(),
        }
    }

    /// Reads the next token.
    fn next(&mut self) -> Result<Token, SyntaxError> {
        while let Some(b' ' | b'\t' | b'\r') = self.rest().first() {
            self.read_rune();
        }
        let start = self.pos;
        let rest = self.rest();

        if rest.starts_with(b"//") {
            // Suffix comment if anything but white space precedes it on its line.
            let line_start = self.data[..start.byte]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            let suffix = !gotext::trim_space(&self.data[line_start..start.byte]).is_empty();
            while let Some(c) = self.read_rune() {
                if c == '\n' {
                    break;
                }
            }
            if !suffix {
                return Ok(self.token(Kind::LineComment, start));
            }
            let tok = self.token(Kind::SuffixComment, start);
            self.suffix_comments.push((start, tok.text.clone()));
            return Ok(tok);
        }
        if rest.starts_with(b"/*") {
            return self.block_comment_error();
        }

        let Some(&first) = rest.first() else {
            return Ok(self.token(Kind::Eof, start));
        };
        let punct = match first {
            b'\n' => Some(Kind::Newline),
            b'(' => Some(Kind::LParen),
            b')' => Some(Kind::RParen),
            b'[' | b']' | b'{' | b'}' | b',' => Some(Kind::Punct),
            _ => None,
        };
        if let Some(kind) = punct {
            self.read_rune();
            return Ok(self.token(kind, start));
        }

        if first == b'"' || first == b'`' {
            self.read_rune();
            loop {
                let Some(c) = self.peek_rune() else {
                    return self.error(start, "unexpected EOF in string");
                };
                if c == '\n' {
                    return self.error(self.pos, "unexpected newline in string");
                }
                self.read_rune();
                if c == char::from(first) {
                    break;
                }
                if c == '\\' && first == b'"' && self.read_rune().is_none() {
                    return self.error(start, "unexpected EOF in string");
                }
            }
            return Ok(self.token(Kind::Str, start));
        }

        if let Some(c) = self.peek_rune().filter(|&c| !is_ident(c)) {
            return self.error(
                self.pos,
                format!("unexpected input character {}", quote_rune(c)),
            );
        }
        while self.peek_rune().is_some_and(is_ident) {
            let rest = self.rest();
            if rest.starts_with(b"//") {
                break;
            }
            if rest.starts_with(b"/*") {
                return self.block_comment_error();
            }
            self.read_rune();
        }
        Ok(self.token(Kind::Ident, start))
    }
}

/// Whether `c` may appear in an identifier token.
fn is_ident(c: char) -> bool {
    !matches!(c, ' ' | '(' | ')' | '[' | ']' | '{' | '}' | ',') && !is_space(c) && is_print(c)
}

/// The parser: one token of lookahead, read eagerly like Go's.
struct Parser<'a> {
    file: &'a str,
    lexer: Lexer<'a>,
    next: Token,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Kind {
        self.next.kind
    }

    /// Returns the lookahead token and reads the one after it.
    fn lex(&mut self) -> Result<Token, SyntaxError> {
        let following = self.lexer.next()?;
        Ok(std::mem::replace(&mut self.next, following))
    }

    /// An error at the lexer's current position (after the lookahead token).
    fn error<T>(&self, msg: impl Into<String>) -> Result<T, SyntaxError> {
        Err(SyntaxError {
            pos: self.lexer.pos,
            msg: msg.into(),
        })
    }

    fn parse_file(&mut self) -> Result<Vec<Stmt>, SyntaxError> {
        let mut stmts = Vec::new();
        // Whole-line comments since the last blank line, and where the first one starts; they
        // go to the next statement, or stand alone if a blank line or the end comes first.
        let mut pending: Option<(Pos, Vec<Vec<u8>>)> = None;
        loop {
            match self.peek() {
                Kind::Eof => {
                    if let Some((start, _)) = pending {
                        stmts.push(Stmt::Comments(start));
                    }
                    return Ok(stmts);
                }
                Kind::Newline => {
                    self.lex()?;
                    if let Some((start, _)) = pending.take() {
                        stmts.push(Stmt::Comments(start));
                    }
                }
                Kind::LineComment => {
                    let tok = self.lex()?;
                    pending
                        .get_or_insert_with(|| (tok.pos, Vec::new()))
                        .1
                        .push(tok.text);
                }
                _ => {
                    let mut stmt = self.parse_stmt()?;
                    if let Some((_, before)) = pending.take() {
                        match &mut stmt {
                            Stmt::Line(l) => l.before = before,
                            Stmt::Block(b) => b.before = before,
                            Stmt::Comments(_) => {}
                        }
                    }
                    stmts.push(stmt);
                }
            }
        }
    }

    fn parse_stmt(&mut self) -> Result<Stmt, SyntaxError> {
        let first = self.lex()?;
        let start = first.pos;
        let mut end = first.end;
        let mut tokens = vec![first.text];
        loop {
            let tok = self.lex()?;
            if tok.kind.ends_line() {
                return Ok(Stmt::Line(Line {
                    start,
                    tokens,
                    before: Vec::new(),
                    suffix: Vec::new(),
                    end,
                }));
            }
            if tok.kind != Kind::LParen {
                end = tok.end;
                tokens.push(tok.text);
                continue;
            }
            if self.peek().ends_line() {
                return self.parse_block(start, tokens, tok.pos).map(Stmt::Block);
            }
            if self.peek() == Kind::RParen {
                let rparen = self.lex()?;
                if self.peek().ends_line() {
                    // `verb ( )`: an empty block.
                    self.lex()?;
                    return Ok(Stmt::Block(Block {
                        start,
                        tokens,
                        before: Vec::new(),
                        lines: Vec::new(),
                        lparen: tok.pos,
                        rparen: rparen.pos,
                    }));
                }
                tokens.push(tok.text);
                tokens.push(rparen.text);
            } else {
                tokens.push(tok.text);
            }
        }
    }

    fn parse_block(
        &mut self,
        start: Pos,
        tokens: Vec<Vec<u8>>,
        lparen: Pos,
    ) -> Result<Block, SyntaxError> {
        let mut block = Block {
            start,
            tokens,
            before: Vec::new(),
            lines: Vec::new(),
            lparen,
            rparen: lparen,
        };
        let mut comments: Vec<Vec<u8>> = Vec::new();
        loop {
            match self.peek() {
                // The comment after `(` (Go attaches it to the parenthesis, not to an entry).
                Kind::SuffixComment => {
                    self.lex()?;
                }
                Kind::Newline => {
                    self.lex()?;
                    // Go keeps one empty comment for a run of blank lines after an entry or a
                    // comment; it hides the block's comments from the next entry.
                    let after_entry = comments.is_empty() && !block.lines.is_empty();
                    let after_comment = comments.last().is_some_and(|c| !c.is_empty());
                    if after_entry || after_comment {
                        comments.push(Vec::new());
                    }
                }
                Kind::LineComment => comments.push(self.lex()?.text),
                Kind::Eof => {
                    return self.error(format!(
                        "syntax error (unterminated block started at {}:{}:{})",
                        self.file, start.line, start.col
                    ));
                }
                Kind::RParen => {
                    block.rparen = self.lex()?.pos;
                    if !self.peek().ends_line() {
                        return self.error("syntax error (expected newline after closing paren)");
                    }
                    self.lex()?;
                    return Ok(block);
                }
                _ => {
                    let mut line = self.parse_line()?;
                    line.before = std::mem::take(&mut comments);
                    block.lines.push(line);
                }
            }
        }
    }

    fn parse_line(&mut self) -> Result<Line, SyntaxError> {
        let first = self.lex()?;
        let start = first.pos;
        let mut end = first.end;
        let mut tokens = vec![first.text];
        loop {
            let tok = self.lex()?;
            if tok.kind.ends_line() {
                return Ok(Line {
                    start,
                    tokens,
                    before: Vec::new(),
                    suffix: Vec::new(),
                    end,
                });
            }
            end = tok.end;
            tokens.push(tok.text);
        }
    }
}

/// Parses `data` into statements; `file` names the file in the "unterminated block" message.
pub(crate) fn parse(file: &str, data: &[u8]) -> Result<Vec<Stmt>, SyntaxError> {
    let mut lexer = Lexer {
        data,
        pos: Pos {
            line: 1,
            col: 1,
            byte: 0,
        },
        suffix_comments: Vec::new(),
    };
    let next = lexer.next()?;
    let mut parser = Parser { file, lexer, next };
    let mut stmts = parser.parse_file()?;
    assign_suffix_comments(&mut stmts, parser.lexer.suffix_comments);
    Ok(stmts)
}

/// Where a suffix comment may be attached.
#[derive(Clone, Copy)]
enum Target {
    /// Somewhere we do not keep comments (a parenthesis, a block, a comment group).
    Elsewhere,
    /// A top-level line.
    Line(usize),
    /// An entry of a top-level block.
    Entry(usize, usize),
}

/// Gives each suffix comment to the last element, in order of where elements end (nested ones
/// before their block), that sits on one line and ends at or before the comment: Go's
/// `assignComments`. Comments with no such element are dropped (Go keeps them on the file).
fn assign_suffix_comments(stmts: &mut [Stmt], mut comments: Vec<(Pos, Vec<u8>)>) {
    // (one line?, end offset, target) in the order elements end.
    let mut order: Vec<(bool, usize, Target)> = Vec::new();
    let paren = |p: Pos| (true, p.byte + 1, Target::Elsewhere);
    for (i, stmt) in stmts.iter().enumerate() {
        match stmt {
            Stmt::Line(l) => order.push((l.start.line == l.end.line, l.end.byte, Target::Line(i))),
            Stmt::Block(b) => {
                order.push(paren(b.lparen));
                for (j, l) in b.lines.iter().enumerate() {
                    order.push((l.start.line == l.end.line, l.end.byte, Target::Entry(i, j)));
                }
                order.push(paren(b.rparen));
                order.push((
                    b.start.line == b.rparen.line,
                    b.rparen.byte + 1,
                    Target::Elsewhere,
                ));
            }
            Stmt::Comments(start) => order.push((true, start.byte, Target::Elsewhere)),
        }
    }
    for &(one_line, end, target) in order.iter().rev() {
        if !one_line {
            continue;
        }
        while comments.last().is_some_and(|(pos, _)| pos.byte >= end) {
            let Some((_, text)) = comments.pop() else {
                break;
            };
            let line = match target {
                Target::Elsewhere => continue,
                Target::Line(i) => match &mut stmts[i] {
                    Stmt::Line(l) => l,
                    _ => continue,
                },
                Target::Entry(i, j) => match &mut stmts[i] {
                    Stmt::Block(b) => &mut b.lines[j],
                    _ => continue,
                },
            };
            // Taken from the back, so keep them in file order.
            line.suffix.insert(0, text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(line: &Line) -> Vec<String> {
        line.tokens.iter().map(|t| gotext::lossy(t)).collect()
    }

    fn lines(stmts: &[Stmt]) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        for s in stmts {
            match s {
                Stmt::Line(l) => out.push(toks(l)),
                Stmt::Comments(_) => {}
                Stmt::Block(b) => {
                    let mut head: Vec<String> = b.tokens.iter().map(|t| gotext::lossy(t)).collect();
                    head.push("(".into());
                    out.push(head);
                    out.extend(b.lines.iter().map(toks));
                    out.push(vec![")".into()]);
                }
            }
        }
        out
    }

    #[test]
    fn lexer_splits_tokens_on_space_punctuation_and_strings() {
        const CASES: &[(&str, &[&[&str]])] = &[
            ("module x\n", &[&["module", "x"]]),
            ("a b\tc\r\n\n  d", &[&["a", "b", "c"], &["d"]]),
            (
                "retract [v1.0.0,v1.1.0]",
                &[&["retract", "[", "v1.0.0", ",", "v1.1.0", "]"]],
            ),
            ("module \"a b\"c", &[&["module", "\"a b\"", "c"]]),
            ("module `a\"b`", &[&["module", "`a\"b`"]]),
            ("x a\"b'c", &[&["x", "a\"b'c"]]),
            ("x a//c\ny", &[&["x", "a"], &["y"]]),
            ("x ( y", &[&["x", "(", "y"]]),
            ("x ( ) y", &[&["x", "(", ")", "y"]]),
            ("x {é}", &[&["x", "{", "é", "}"]]),
        ];
        for &(input, want) in CASES {
            let got = lines(&parse("go.mod", input.as_bytes()).unwrap());
            let want: Vec<Vec<String>> = want
                .iter()
                .map(|l| l.iter().map(|s| s.to_string()).collect())
                .collect();
            assert_eq!(got, want, "{input:?}");
        }
    }

    #[test]
    fn parse_recognizes_blocks_only_when_paren_ends_the_line() {
        let stmts = parse("go.mod", b"require (\n\ta v1\n\n\tb v2 // c\n)\nx ( )\n").unwrap();
        assert_eq!(
            lines(&stmts),
            vec![
                vec!["require", "("],
                vec!["a", "v1"],
                vec!["b", "v2"],
                vec![")"],
                vec!["x", "("],
                vec![")"],
            ]
        );
    }

    #[test]
    fn comments_attach_to_the_following_statement_or_entry() {
        let src = b"// top\n\n// a\n// b\nmodule m // s\nrequire ( // paren\n\t// c\n\n\t// d\n\tx v1\n\t// e\n)\n";
        let stmts = parse("go.mod", src).unwrap();
        assert!(matches!(stmts[0], Stmt::Comments(Pos { line: 1, .. })));
        let Stmt::Line(m) = &stmts[1] else {
            panic!("want line")
        };
        assert_eq!(m.before, vec![b"// a".to_vec(), b"// b".to_vec()]);
        assert_eq!(m.suffix, vec![b"// s".to_vec()]);
        let Stmt::Block(b) = &stmts[2] else {
            panic!("want block")
        };
        assert!(b.before.is_empty());
        assert_eq!(
            b.lines[0].before,
            vec![b"// c".to_vec(), Vec::new(), b"// d".to_vec()]
        );
    }

    #[test]
    fn suffix_comment_skips_entries_that_span_lines() {
        // The require line spans two lines (escaped newline in a string), so Go gives the
        // comment after it to the closest one-line element before it: the module line.
        let stmts = parse("go.mod", b"module m\nrequire \"a\\\nb\" v1 // c\n").unwrap();
        let (Stmt::Line(m), Stmt::Line(r)) = (&stmts[0], &stmts[1]) else {
            panic!("want two lines")
        };
        assert_eq!(m.suffix, vec![b"// c".to_vec()]);
        assert!(r.suffix.is_empty());
    }

    #[test]
    fn comment_text_drops_the_line_ending() {
        let stmts = parse("go.mod", b"x // a\r\n").unwrap();
        let Stmt::Line(l) = &stmts[0] else {
            panic!("want line")
        };
        assert_eq!(l.suffix, vec![b"// a".to_vec()]);
    }

    #[test]
    fn lexer_errors_report_go_positions() {
        const CASES: &[(&str, usize, usize, &str)] = &[
            (
                "/* x */",
                1,
                1,
                "mod files must use // comments (not /* */ comments)",
            ),
            (
                "module a/*b",
                1,
                9,
                "mod files must use // comments (not /* */ comments)",
            ),
            ("module \"abc", 1, 8, "unexpected EOF in string"),
            ("module \"a\\", 1, 8, "unexpected EOF in string"),
            ("module \"ab\nc\"", 1, 11, "unexpected newline in string"),
            ("x\n\u{0}", 2, 1, "unexpected input character '\\x00'"),
            ("x \u{A0}y", 1, 3, "unexpected input character '\\u00a0'"),
            ("x \u{B}", 1, 3, "unexpected input character '\\v'"),
        ];
        for &(input, line, col, msg) in CASES {
            let err = parse("go.mod", input.as_bytes()).unwrap_err();
            assert_eq!(
                (err.pos.line, err.pos.col, err.msg.as_str()),
                (line, col, msg),
                "{input:?}"
            );
        }
    }

    #[test]
    fn parser_errors_are_reported_one_token_ahead() {
        const CASES: &[(&str, usize, usize, &str)] = &[
            (
                "go 1.21\n  require (\n\tx v1\n",
                4,
                1,
                "syntax error (unterminated block started at go.mod:2:3)",
            ),
            (
                "require (\n) x\n",
                2,
                4,
                "syntax error (expected newline after closing paren)",
            ),
            ("require (\n) \"x\ny", 2, 5, "unexpected newline in string"),
        ];
        for &(input, line, col, msg) in CASES {
            let err = parse("go.mod", input.as_bytes()).unwrap_err();
            assert_eq!(
                (err.pos.line, err.pos.col, err.msg.as_str()),
                (line, col, msg),
                "{input:?}"
            );
        }
    }

    #[test]
    fn columns_count_runes_and_invalid_bytes_as_one() {
        let err = parse("go.mod", b"x \xff\xc3\xa9 \x01").unwrap_err();
        assert_eq!((err.pos.line, err.pos.col, err.pos.byte), (1, 6, 6));
    }
}
