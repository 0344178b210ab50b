//! go.mod files: golang.org/x/mod `modfile` (rule.go `Parse`, `ParseLax`, read.go `ModulePath`).
//!
//! The syntax (lines, `verb ( … )` blocks, `//` comments, quoted strings) is in
//! `modfile/lex.rs`; this module applies the directive rules to each line. [`parse`] is Go's
//! `Parse` and [`parse_lax`] is `ParseLax`, both with a nil `VersionFixer` — what the go command
//! uses for dependencies' go.mod files (`coderepo.go`, `modload`) and `go mod edit`. The rules:
//!
//! - `module path`: once; the path may be quoted and is not otherwise checked (the go command
//!   compares it with the path it expected). A comment paragraph starting `Deprecated:` in the
//!   comments on the line or just above it deprecates the module.
//! - `go 1.N[.P][rcN]` (x/mod `GoVersionRE`) and `toolchain default|go1[.…]` (`ToolchainRE`):
//!   once each.
//! - `godebug key=value`: one unquoted token with no quotes or commas, split at the first `=`.
//! - `require path version` / `exclude path version`: the version must be semver and is stored
//!   canonical (`v1.2` → `v1.2.0`, `+incompatible` kept); the path must not end in an invalid
//!   major-version element, and the version's major must suit the path's `/vN` (or `.vN`).
//!   A require line whose first comment is `// indirect` (or `// indirect; …`) is indirect.
//! - `replace old [v] => new v` or `replace old [v] => dir`: `dir` must be a directory path
//!   (`./`, `../`, rooted, or a Windows drive or `\` path) and takes no version; without a
//!   version the new path must be one. Backslashes are rejected as the go command on Unix does.
//! - `retract v` or `retract [low, high]`: the comments on the line (or above it, or above its
//!   block) are the rationale. The bounds are not checked: Go checks them only through a version
//!   fixer, which the go command passes only for the main module.
//! - `tool path` and `ignore path`: one possibly quoted argument each.
//! - Blocks: `module`, `godebug`, `require`, `exclude`, `replace`, `retract`, `tool`, `ignore`.
//!
//! Strict parsing reports every unknown directive or block. Lax parsing (for dependencies) looks
//! only at `module`, `go`, `require`, `retract` and `ignore`, silently skips everything else and
//! every unknown block, tolerates bad retractions, and accepts a `go` version like `1.21-x` or
//! `v1.21.0.1` as its `1.21` prefix.
//!
//! Errors read like Go's: `go.mod:3: unknown directive: foo`, with the rune column when the line
//! does not start in column 1 (`go.mod:4:2: …` inside a block). Go stops at the first syntax
//! error but reports every directive error, and so do we.
//!
//! Deliberate deviations: values are Rust `String`s, so bytes that are not UTF-8 (possible only
//! through `\x`/octal escapes or raw invalid input) become U+FFFD, as in Go's JSON output; an
//! empty deprecation message is `None` (Go's `""` means "not deprecated" too).

pub(crate) mod gotext;
pub(crate) mod lex;
mod print_table;

use std::fmt;

use self::gotext::{lossy, quote, trim_space};
use self::lex::{Block, Line, Pos, Stmt};
use crate::module;

/// One error in a go.mod, go.work or go.sum file, printed like Go's `modfile.Error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The file name given to the parser.
    pub file: String,
    /// 1-based line; 0 when the error has no position.
    pub line: usize,
    /// 1-based column in runes; printed only when greater than 1, as Go does.
    pub col: usize,
    /// The message, worded as Go words it (without the position).
    pub msg: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.col > 1 {
            write!(f, "{}:{}:{}: {}", self.file, self.line, self.col, self.msg)
        } else if self.line > 0 {
            write!(f, "{}:{}: {}", self.file, self.line, self.msg)
        } else if !self.file.is_empty() {
            write!(f, "{}: {}", self.file, self.msg)
        } else {
            f.write_str(&self.msg)
        }
    }
}

/// All errors found in a file (Go's `modfile.ErrorList`): one per line when displayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", join_errors(.0))]
pub struct ParseErrors(pub Vec<ParseError>);

fn join_errors(list: &[ParseError]) -> String {
    list.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `module` directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleDecl {
    /// The module path, unquoted.
    pub path: String,
    /// The deprecation message, if the module is deprecated.
    pub deprecated: Option<String>,
    /// Line of the directive.
    pub line: usize,
}

/// A `require` directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Require {
    /// Module path.
    pub path: String,
    /// Canonical version.
    pub version: String,
    /// Whether the line is marked `// indirect`.
    pub indirect: bool,
    /// Line of the entry.
    pub line: usize,
}

/// An `exclude` directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exclude {
    /// Module path.
    pub path: String,
    /// Canonical version.
    pub version: String,
    /// Line of the entry.
    pub line: usize,
}

/// A `replace` directive (go.mod and go.work).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replace {
    /// The module path being replaced.
    pub old_path: String,
    /// The replaced version; `None` replaces every version.
    pub old_version: Option<String>,
    /// The replacement: a module path, or a directory when `new_version` is `None`.
    pub new_path: String,
    /// The replacement's version; `None` exactly when `new_path` is a directory.
    pub new_version: Option<String>,
    /// Line of the entry.
    pub line: usize,
}

/// A `retract` directive: a closed version interval (`low == high` for a single version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retract {
    /// Lower bound, as written (unquoted).
    pub low: String,
    /// Upper bound, as written (unquoted).
    pub high: String,
    /// The comment text explaining the retraction (lines joined by `\n`), possibly empty.
    pub rationale: String,
    /// Line of the entry.
    pub line: usize,
}

/// A parsed go.mod file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModFile {
    /// The `module` directive.
    pub module: Option<ModuleDecl>,
    /// The `go` version, like `1.21` or `1.22.0`.
    pub go: Option<String>,
    /// The `toolchain` name, like `go1.21.3` or `default`.
    pub toolchain: Option<String>,
    /// `godebug` settings as (key, value).
    pub godebug: Vec<(String, String)>,
    /// `require` directives, in file order.
    pub require: Vec<Require>,
    /// `exclude` directives.
    pub exclude: Vec<Exclude>,
    /// `replace` directives.
    pub replace: Vec<Replace>,
    /// `retract` directives.
    pub retract: Vec<Retract>,
    /// `tool` package paths.
    pub tool: Vec<String>,
    /// `ignore` directory paths.
    pub ignore: Vec<String>,
}

/// Parses a main module's go.mod (Go's `modfile.Parse` with a nil fixer): unknown directives,
/// unknown blocks and every malformed directive are errors.
pub fn parse(file: &str, data: &[u8]) -> Result<ModFile, ParseErrors> {
    parse_mod(file, data, Mode::Strict)
}

/// Parses a dependency's go.mod (Go's `modfile.ParseLax` with a nil fixer): only `module`, `go`,
/// `require`, `retract` and `ignore` are read; anything else, known or not, is skipped.
pub fn parse_lax(file: &str, data: &[u8]) -> Result<ModFile, ParseErrors> {
    parse_mod(file, data, Mode::Lax)
}

/// The module path from go.mod text, tolerating any other problem in the file (Go's
/// `modfile.ModulePath`): the first line starting `module` plus white space, up to any `//`;
/// a quoted path is unquoted. `None` if there is none or the first one is badly quoted.
pub fn module_path(data: &[u8]) -> Option<String> {
    for raw in data.split(|&b| b == b'\n') {
        let mut line = raw;
        if let Some(i) = line.windows(2).position(|w| w == b"//") {
            line = &line[..i];
        }
        let line = trim_space(line);
        let Some(rest) = line.strip_prefix(b"module") else {
            continue;
        };
        let path = trim_space(rest);
        if path.len() == rest.len() || path.is_empty() {
            continue;
        }
        if path[0] == b'"' || path[0] == b'`' {
            return gotext::unquote(path)
                .filter(|p| !p.is_empty())
                .map(|p| lossy(&p));
        }
        return Some(lossy(path));
    }
    None
}

/// Reports whether a replacement target is a directory rather than a module path (Go's
/// `modfile.IsDirectoryPath`): `.`, `..`, or starting `./`, `../`, `.\`, `..\`, `/`, `\`, or a
/// drive letter and colon — every syntax, since go.mod files move between systems.
pub fn is_directory_path(p: &str) -> bool {
    let b = p.as_bytes();
    p == "."
        || p == ".."
        || ["./", ".\\", "../", "..\\", "/", "\\"]
            .iter()
            .any(|pre| p.starts_with(pre))
        || (b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':')
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Strict,
    Lax,
}

/// The verbs that may head a block in go.mod.
const MOD_BLOCKS: &[&[u8]] = &[
    b"module", b"godebug", b"require", b"exclude", b"replace", b"retract", b"tool", b"ignore",
];

/// The verbs lax parsing reads.
const LAX_VERBS: &[&[u8]] = &[b"go", b"module", b"retract", b"require", b"ignore"];

fn parse_mod(file: &str, data: &[u8], mode: Mode) -> Result<ModFile, ParseErrors> {
    let stmts = parse_syntax(file, data)?;
    let mut b = ModBuilder {
        errs: Errors::new(file),
        mode,
        f: ModFile::default(),
    };
    for stmt in &stmts {
        match stmt {
            Stmt::Line(line) => b.add(None, line, &line.tokens[0], &line.tokens[1..]),
            Stmt::Block(block) => {
                if !known_block(block, MOD_BLOCKS) {
                    if mode == Mode::Strict {
                        b.errs.unknown_block(block);
                    }
                    continue;
                }
                for line in &block.lines {
                    b.add(Some(block), line, &block.tokens[0], &line.tokens);
                }
            }
            Stmt::Comments(_) => {}
        }
    }
    b.errs.finish(b.f)
}

// ---------------------------------------------------------------------------------------------
// Shared with go.work

/// Lexes and parses the common syntax, turning a syntax error into a one-entry [`ParseErrors`].
pub(crate) fn parse_syntax(file: &str, data: &[u8]) -> Result<Vec<Stmt>, ParseErrors> {
    lex::parse(file, data).map_err(|e| {
        ParseErrors(vec![ParseError {
            file: file.to_owned(),
            line: e.pos.line,
            col: e.pos.col,
            msg: e.msg,
        }])
    })
}

/// Whether a block is headed by exactly one of the `allowed` verbs.
pub(crate) fn known_block(block: &Block, allowed: &[&[u8]]) -> bool {
    block.tokens.len() == 1 && allowed.contains(&block.tokens[0].as_slice())
}

/// Collects directive errors for one file.
pub(crate) struct Errors {
    file: String,
    list: Vec<ParseError>,
}

impl Errors {
    pub(crate) fn new(file: &str) -> Self {
        Errors {
            file: file.to_owned(),
            list: Vec::new(),
        }
    }

    pub(crate) fn at(&mut self, pos: Pos, msg: impl Into<String>) {
        self.list.push(ParseError {
            file: self.file.clone(),
            line: pos.line,
            col: pos.col,
            msg: msg.into(),
        });
    }

    pub(crate) fn unknown_block(&mut self, block: &Block) {
        let words: Vec<String> = block.tokens.iter().map(|t| lossy(t)).collect();
        self.at(
            block.start,
            format!("unknown block type: {}", words.join(" ")),
        );
    }

    pub(crate) fn finish<T>(self, value: T) -> Result<T, ParseErrors> {
        if self.list.is_empty() {
            Ok(value)
        } else {
            Err(ParseErrors(self.list))
        }
    }
}

/// Go's `parseString`: unquotes a `"…"` token; any other token must contain no quote at all
/// (raw `` `…` `` strings are reserved, not accepted).
pub(crate) fn parse_string(tok: &[u8]) -> Result<Vec<u8>, &'static str> {
    if tok.first() == Some(&b'"') {
        gotext::unquote(tok).ok_or("invalid syntax")
    } else if tok.iter().any(|b| matches!(b, b'"' | b'\'' | b'`')) {
        Err("unquoted string cannot contain quote")
    } else {
        Ok(tok.to_vec())
    }
}

/// [`parse_string`] with Go's "invalid quoted string" wording.
pub(crate) fn parse_quoted(tok: &[u8]) -> Result<String, String> {
    parse_string(tok)
        .map(|s| lossy(&s))
        .map_err(|e| format!("invalid quoted string: {e}"))
}

/// The `verb path: ` (or `verb: `) prefix Go puts before version errors.
fn directive_prefix(verb: &str, path: &str) -> String {
    if path.is_empty() {
        format!("{verb}: ")
    } else {
        format!("{verb} {path}: ")
    }
}

/// Go's `parseVersion` with a nil fixer: unquote, require semver, return the canonical form.
fn parse_version(verb: &str, path: &str, tok: &[u8]) -> Result<String, String> {
    let prefix = directive_prefix(verb, path);
    let t =
        parse_string(tok).map_err(|e| format!("{prefix}version {} invalid: {e}", quote(tok)))?;
    module::canonical_version(&lossy(&t)).ok_or_else(|| {
        format!(
            "{prefix}version {} invalid: must be of the form v1.2.3",
            quote(&t)
        )
    })
}

/// Go's `modulePathMajor` then `CheckPathMajor`, worded like Go.
fn check_major(verb: &str, path: &str, version: &str, path_major: &str) -> Result<(), String> {
    module::check_path_major(version, path_major).map_err(|e| {
        let reason = match &e {
            module::ModuleError::Version { reason, .. } => reason.to_string(),
            other => other.to_string(),
        };
        format!(
            "{}version {} invalid: {reason}",
            directive_prefix(verb, path),
            quote(version.as_bytes())
        )
    })
}

/// Matches x/mod's `GoVersionRE`: `1.N`, `1.N.P`, optionally followed by `rc1`-like letters and
/// digits; no leading zeros.
pub(crate) fn is_go_version(v: &[u8]) -> bool {
    let Some(mut i) = major_digits(v, 0) else {
        return false;
    };
    if v.get(i) != Some(&b'.') {
        return false;
    }
    let Some(next) = minor_digits(v, i + 1) else {
        return false;
    };
    i = next;
    if v.get(i) == Some(&b'.') {
        let Some(next) = minor_digits(v, i + 1) else {
            return false;
        };
        i = next;
    }
    if i == v.len() {
        return true;
    }
    let letters = v[i..].iter().take_while(|b| b.is_ascii_lowercase()).count();
    let digits = v[i + letters..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    letters > 0 && digits > 0 && i + letters + digits == v.len()
}

/// x/mod's `laxGoVersionRE`: `[v]MAJOR.MINOR` followed by a non-digit and anything; returns the
/// `MAJOR.MINOR` part.
fn lax_go_version(v: &[u8]) -> Option<&[u8]> {
    let start = usize::from(v.first() == Some(&b'v'));
    let i = major_digits(v, start)?;
    if v.get(i) != Some(&b'.') {
        return None;
    }
    let end = minor_digits(v, i + 1)?;
    let (c, _) = gotext::decode_rune(v.get(end..).filter(|r| !r.is_empty())?);
    (!c.is_ascii_digit()).then(|| &v[start..end])
}

/// `[1-9][0-9]*` at `i`; returns the end.
fn major_digits(v: &[u8], i: usize) -> Option<usize> {
    if !matches!(v.get(i), Some(b'1'..=b'9')) {
        return None;
    }
    Some(i + v[i..].iter().take_while(|b| b.is_ascii_digit()).count())
}

/// `0|[1-9][0-9]*` at `i`; returns the end.
fn minor_digits(v: &[u8], i: usize) -> Option<usize> {
    match v.get(i) {
        Some(b'0') => Some(i + 1),
        _ => major_digits(v, i),
    }
}

/// Matches x/mod's `ToolchainRE`: `default`, `go1`, or anything starting `go1.`.
pub(crate) fn is_toolchain_name(v: &[u8]) -> bool {
    v == b"default" || v == b"go1" || v.starts_with(b"go1.")
}

/// The `go` directive's checks shared by go.mod and go.work; `lax` allows the lax fix-up.
pub(crate) fn go_directive(seen: bool, args: &[Vec<u8>], lax: bool) -> Result<String, String> {
    if seen {
        return Err("repeated go statement".into());
    }
    let [arg] = args else {
        return Err("go directive expects exactly one argument".into());
    };
    if is_go_version(arg) {
        return Ok(lossy(arg));
    }
    if lax && let Some(prefix) = lax_go_version(arg) {
        return Ok(lossy(prefix));
    }
    Err(format!(
        "invalid go version '{}': must match format 1.23.0",
        lossy(arg)
    ))
}

/// The `toolchain` directive's checks shared by go.mod and go.work.
pub(crate) fn toolchain_directive(seen: bool, args: &[Vec<u8>]) -> Result<String, String> {
    if seen {
        return Err("repeated toolchain statement".into());
    }
    let [arg] = args else {
        return Err("toolchain directive expects exactly one argument".into());
    };
    if !is_toolchain_name(arg) {
        return Err(format!(
            "invalid toolchain version '{}': must match format go1.23.0 or default",
            lossy(arg)
        ));
    }
    Ok(lossy(arg))
}

/// The `godebug key=value` directive shared by go.mod and go.work.
pub(crate) fn godebug_directive(args: &[Vec<u8>]) -> Result<(String, String), String> {
    const USAGE: &str = "usage: godebug key=value";
    let [arg] = args else {
        return Err(USAGE.into());
    };
    if arg.iter().any(|b| matches!(b, b'"' | b'`' | b'\'' | b',')) {
        return Err(USAGE.into());
    }
    let eq = arg.iter().position(|&b| b == b'=').ok_or(USAGE)?;
    Ok((lossy(&arg[..eq]), lossy(&arg[eq + 1..])))
}

/// The `replace` directive shared by go.mod and go.work (Go's `parseReplace`).
pub(crate) fn replace_directive(
    verb: &str,
    args: &[Vec<u8>],
    line: usize,
) -> Result<Replace, String> {
    let arrow = if args.len() >= 2 && args[1] == b"=>" {
        1
    } else {
        2
    };
    if args.len() < arrow + 2 || args.len() > arrow + 3 || args[arrow] != b"=>" {
        return Err(format!(
            "usage: {verb} module/path [v1.2.3] => other/module v1.4\n\t or {verb} module/path [v1.2.3] => ../local/directory"
        ));
    }
    let old_path = parse_quoted(&args[0])?;
    let Some((_, path_major)) = module::split_path_version(&old_path) else {
        return Err(format!(
            "{}invalid module path",
            directive_prefix(verb, &old_path)
        ));
    };
    let old_version = if arrow == 2 {
        let v = parse_version(verb, &old_path, &args[1])?;
        check_major(verb, &old_path, &v, path_major)?;
        Some(v)
    } else {
        None
    };
    let new_raw =
        parse_string(&args[arrow + 1]).map_err(|e| format!("invalid quoted string: {e}"))?;
    let new_path = lossy(&new_raw);
    let new_version = if args.len() == arrow + 2 {
        if !is_directory_path(&new_path) {
            if new_path.contains('@') {
                return Err(
                    "replacement module must match format 'path version', not 'path@version'"
                        .into(),
                );
            }
            return Err("replacement module without version must be directory path (rooted or starting with . or ..)".into());
        }
        if new_path.contains('\\') {
            return Err(
                "replacement directory appears to be Windows path (on a non-windows system)".into(),
            );
        }
        None
    } else {
        let v = parse_version(verb, &new_path, &args[arrow + 2])?;
        if is_directory_path(&new_path) {
            return Err(format!(
                "replacement module directory path {} cannot have version",
                quote(&new_raw)
            ));
        }
        Some(v)
    };
    Ok(Replace {
        old_path,
        old_version,
        new_path,
        new_version,
        line,
    })
}

// ---------------------------------------------------------------------------------------------
// go.mod directives

struct ModBuilder {
    errs: Errors,
    mode: Mode,
    f: ModFile,
}

impl ModBuilder {
    fn add(&mut self, block: Option<&Block>, line: &Line, verb: &[u8], args: &[Vec<u8>]) {
        if self.mode == Mode::Lax && !LAX_VERBS.contains(&verb) {
            return;
        }
        if let Err(msg) = self.apply(block, line, verb, args) {
            self.errs.at(line.start, msg);
        }
    }

    fn apply(
        &mut self,
        block: Option<&Block>,
        line: &Line,
        verb: &[u8],
        args: &[Vec<u8>],
    ) -> Result<(), String> {
        let strict = self.mode == Mode::Strict;
        let f = &mut self.f;
        let at = line.start.line;
        match verb {
            b"go" => f.go = Some(go_directive(f.go.is_some(), args, !strict)?),
            b"toolchain" => {
                f.toolchain = Some(toolchain_directive(f.toolchain.is_some(), args)?);
            }
            b"module" => {
                if f.module.is_some() {
                    return Err("repeated module statement".into());
                }
                // Go records the module (for the "repeated" check) before validating it.
                let decl = f.module.insert(ModuleDecl {
                    path: String::new(),
                    deprecated: deprecation(&directive_comment(block, line)),
                    line: at,
                });
                let [arg] = args else {
                    return Err("usage: module module/path".into());
                };
                decl.path = parse_quoted(arg)?;
            }
            b"godebug" => f.godebug.push(godebug_directive(args)?),
            b"require" | b"exclude" => {
                let verb = if verb == b"require" {
                    "require"
                } else {
                    "exclude"
                };
                let [path, version] = args else {
                    return Err(format!("usage: {verb} module/path v1.2.3"));
                };
                let path = parse_quoted(path)?;
                let version = parse_version(verb, &path, version)?;
                let Some((_, path_major)) = module::split_path_version(&path) else {
                    return Err("invalid module path".into());
                };
                check_major(verb, &path, &version, path_major)?;
                if verb == "require" {
                    f.require.push(Require {
                        path,
                        version,
                        indirect: is_indirect(line),
                        line: at,
                    });
                } else {
                    f.exclude.push(Exclude {
                        path,
                        version,
                        line: at,
                    });
                }
            }
            b"replace" => f.replace.push(replace_directive("replace", args, at)?),
            b"retract" => {
                let rationale = directive_comment(block, line);
                let (low, high, used) = match version_interval(args) {
                    Ok(v) => v,
                    // A dependency may use interval syntax we do not know yet.
                    Err(_) if !strict => return Ok(()),
                    Err(e) => return Err(e),
                };
                if strict && let Some(extra) = args.get(used) {
                    return Err(format!("unexpected token after version: {}", quote(extra)));
                }
                f.retract.push(Retract {
                    low,
                    high,
                    rationale,
                    line: at,
                });
            }
            b"tool" | b"ignore" => {
                let [arg] = args else {
                    return Err(format!(
                        "{} directive expects exactly one argument",
                        lossy(verb)
                    ));
                };
                let path = parse_quoted(arg)?;
                if verb == b"tool" {
                    f.tool.push(path);
                } else {
                    f.ignore.push(path);
                }
            }
            _ => return Err(format!("unknown directive: {}", lossy(verb))),
        }
        Ok(())
    }
}

/// Go's `isIndirect`: the first suffix comment is `// indirect` or `// indirect; more`.
fn is_indirect(line: &Line) -> bool {
    let Some(c) = line.suffix.first() else {
        return false;
    };
    let text = c.strip_prefix(b"//").unwrap_or(c);
    match gotext::fields(text).as_slice() {
        [only] => *only == b"indirect",
        [first, _, ..] => *first == b"indirect;",
        [] => false,
    }
}

/// Go's `parseDirectiveComment`: the text of the comments on a line (above it and after it),
/// or of those above its block when the line has none; one trimmed line per comment.
fn directive_comment(block: Option<&Block>, line: &Line) -> String {
    let own: Vec<&Vec<u8>> = line.before.iter().chain(line.suffix.iter()).collect();
    let comments = match block {
        Some(b) if own.is_empty() => b.before.iter().collect(),
        _ => own,
    };
    comments
        .iter()
        .filter_map(|c| c.strip_prefix(b"//"))
        .map(|c| lossy(trim_space(c)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Go's `parseDeprecation`: the first paragraph (paragraphs are separated by a blank comment
/// line) that starts with `Deprecated:`, without that prefix and the spaces after it.
fn deprecation(text: &str) -> Option<String> {
    const MARK: &str = "Deprecated:";
    let start = text
        .match_indices(MARK)
        .map(|(i, _)| i)
        .find(|&i| i == 0 || text[..i].ends_with("\n\n"))?;
    let rest = text[start + MARK.len()..].trim_start_matches(' ');
    let msg = rest.find("\n\n").map_or(rest, |end| &rest[..end]);
    (!msg.is_empty()).then(|| msg.to_owned())
}

/// Go's `parseVersionInterval` for `retract` (versions unquoted but not checked): a version, or
/// `[ low , high ]`. Returns the bounds and how many tokens they used.
fn version_interval(args: &[Vec<u8>]) -> Result<(String, String, usize), String> {
    let bound = |tok: &Vec<u8>| {
        parse_string(tok)
            .map(|s| lossy(&s))
            .map_err(|e| format!("retract: version {} invalid: {e}", quote(tok)))
    };
    let is = |i: usize, want: &[u8]| args.get(i).is_some_and(|t| t == want);
    match args.first() {
        None => return Err("expected '[' or version".into()),
        Some(t) if t == b"(" => return Err("expected '[' or version".into()),
        Some(t) if t != b"[" => {
            let v = bound(t)?;
            return Ok((v.clone(), v, 1));
        }
        Some(_) => {}
    }
    let low = bound(args.get(1).ok_or("expected version after '['")?)?;
    if !is(2, b",") {
        return Err("expected ',' after version".into());
    }
    let high = bound(args.get(3).ok_or("expected version after ','")?)?;
    if !is(4, b"]") {
        return Err("expected ']' after version".into());
    }
    Ok((low, high, 5))
}

#[cfg(test)]
mod tests;
