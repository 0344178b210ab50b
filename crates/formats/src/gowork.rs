//! go.work files: golang.org/x/mod `modfile` (work.go `ParseWork`, directive rules in rule.go
//! `WorkFile.add`), with a nil version fixer as the go command uses.
//!
//! The syntax is go.mod's (see [`crate::modfile`]). The directives:
//!
//! - `go 1.N[.P][rcN]` and `toolchain default|go1[.…]`: at most once each, checked as in go.mod
//!   (there is no lax mode for go.work).
//! - `godebug key=value`, as in go.mod.
//! - `use dir`: one possibly quoted directory; it is not checked further.
//! - `replace`, exactly as in go.mod.
//! - Blocks: `godebug`, `use`, `replace`. Any other directive or block is an error.
//!
//! [`Use::module_path_comment`] mirrors Go's `Use.ModulePath`, which `ParseWork` never fills in
//! (only `go work use` sets it, in memory): it is always `None` after [`parse`].

use crate::modfile::gotext::lossy;
use crate::modfile::{
    self, Errors, ParseErrors, Replace, go_directive, godebug_directive, known_block, parse_quoted,
    parse_syntax, replace_directive, toolchain_directive,
};

/// A `use` directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    /// The module directory, relative to the go.work file or absolute, unquoted.
    pub path: String,
    /// Go's `Use.ModulePath`; never set by parsing (see the module docs).
    pub module_path_comment: Option<String>,
    /// Line of the entry.
    pub line: usize,
}

/// A parsed go.work file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkFile {
    /// The `go` version.
    pub go: Option<String>,
    /// The `toolchain` name.
    pub toolchain: Option<String>,
    /// `godebug` settings as (key, value).
    pub godebug: Vec<(String, String)>,
    /// `use` directives, in file order.
    pub use_: Vec<Use>,
    /// `replace` directives.
    pub replace: Vec<Replace>,
}

/// The verbs that may head a block in go.work.
const WORK_BLOCKS: &[&[u8]] = &[b"godebug", b"use", b"replace"];

/// Parses a go.work file (Go's `modfile.ParseWork` with a nil fixer).
pub fn parse(file: &str, data: &[u8]) -> Result<WorkFile, ParseErrors> {
    let stmts = parse_syntax(file, data)?;
    let mut errs = Errors::new(file);
    let mut f = WorkFile::default();
    for stmt in &stmts {
        match stmt {
            modfile::lex::Stmt::Line(line) => {
                if let Err(msg) = add(&mut f, line.start.line, &line.tokens[0], &line.tokens[1..]) {
                    errs.at(line.start, msg);
                }
            }
            modfile::lex::Stmt::Block(block) => {
                if !known_block(block, WORK_BLOCKS) {
                    errs.unknown_block(block);
                    continue;
                }
                for line in &block.lines {
                    if let Err(msg) = add(&mut f, line.start.line, &block.tokens[0], &line.tokens) {
                        errs.at(line.start, msg);
                    }
                }
            }
            modfile::lex::Stmt::Comments(_) => {}
        }
    }
    errs.finish(f)
}

fn add(f: &mut WorkFile, line: usize, verb: &[u8], args: &[Vec<u8>]) -> Result<(), String> {
    match verb {
        b"go" => f.go = Some(go_directive(f.go.is_some(), args, false)?),
        b"toolchain" => f.toolchain = Some(toolchain_directive(f.toolchain.is_some(), args)?),
        b"godebug" => f.godebug.push(godebug_directive(args)?),
        b"use" => {
            let [arg] = args else {
                return Err("usage: use local/dir".into());
            };
            f.use_.push(Use {
                path: parse_quoted(arg)?,
                module_path_comment: None,
                line,
            });
        }
        b"replace" => f.replace.push(replace_directive("replace", args, line)?),
        _ => {
            return Err(format!("unknown directive: {}", lossy(verb)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_work_reads_use_and_replace_blocks() {
        let src = b"go 1.22\ntoolchain go1.22.1\ngodebug (\n\tpanicnil=1\n)\nuse (\n\t./a\n\t\"./b c\"\n)\nuse ../d\nreplace x.com/y v1.0.0 => ./y\n";
        let f = parse("go.work", src).unwrap();
        assert_eq!(f.go.as_deref(), Some("1.22"));
        assert_eq!(f.toolchain.as_deref(), Some("go1.22.1"));
        assert_eq!(f.godebug, vec![("panicnil".to_string(), "1".to_string())]);
        let uses: Vec<(&str, usize)> = f.use_.iter().map(|u| (u.path.as_str(), u.line)).collect();
        assert_eq!(uses, vec![("./a", 7), ("./b c", 8), ("../d", 10)]);
        assert!(f.use_.iter().all(|u| u.module_path_comment.is_none()));
        assert_eq!(f.replace.len(), 1);
        assert_eq!(f.replace[0].new_version, None);
    }

    #[test]
    fn parse_work_rejects_go_mod_only_directives() {
        const CASES: &[(&str, &str)] = &[
            ("module x\n", "go.work:1: unknown directive: module"),
            (
                "require x v1.0.0\n",
                "go.work:1: unknown directive: require",
            ),
            (
                "require (\n\tx v1.0.0\n)\n",
                "go.work:1: unknown block type: require",
            ),
            ("use a b\n", "go.work:1: usage: use local/dir"),
            ("use (\n\ta b\n)\n", "go.work:2:2: usage: use local/dir"),
            ("use ( x\n", "go.work:1: usage: use local/dir"),
            (
                "go 1.21-pre\n",
                "go.work:1: invalid go version '1.21-pre': must match format 1.23.0",
            ),
            ("go 1.21\ngo 1.22\n", "go.work:2: repeated go statement"),
            (
                "toolchain local\n",
                "go.work:1: invalid toolchain version 'local': must match format go1.23.0 or default",
            ),
            (
                "use `x`\n",
                "go.work:1: invalid quoted string: unquoted string cannot contain quote",
            ),
        ];
        for &(input, want) in CASES {
            let err = parse("go.work", input.as_bytes()).unwrap_err();
            assert_eq!(err.to_string(), want, "{input:?}");
        }
    }
}
