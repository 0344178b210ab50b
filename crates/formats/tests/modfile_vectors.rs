//! Compares our go.mod / go.work parsers with golang.org/x/mod's, through the vectors in
//! `tests/data/modfile/*.txtar`.
//!
//! Each vector holds one input (`-- go.mod --` or `-- go.work --`) and, in `-- want.json --`,
//! what Go's `modfile.Parse`, `modfile.ParseLax` and `modfile.ModulePath` (or
//! `modfile.ParseWork`) return for it, recorded by `tools/oracle-modfile`: build it with
//! `tools/oracle-modfile/build.sh`, then after adding a case run
//! `tools/oracle-modfile/bin/oracle-modfile regen crates/formats/tests/data/modfile/*.txtar`.
//!
//! `MODFERRY_MODFILE_VECTORS=/some/dir` runs the comparison over another directory of vectors
//! instead (for differential testing with generated inputs).

use std::path::{Path, PathBuf};

use modferry_formats::gowork::{self, WorkFile};
use modferry_formats::modfile::{self, ModFile, ParseErrors, Replace};
use serde_json::{Value, json};

/// Splits a txtar archive into its named sections, byte for byte (the leading comment dropped).
fn sections(data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let (line, next) = rest.split_at(end);
        let bare = line.strip_suffix(b"\n").unwrap_or(line);
        if bare.len() >= 6 && bare.starts_with(b"-- ") && bare.ends_with(b" --") {
            let name = String::from_utf8_lossy(&bare[3..bare.len() - 3])
                .trim()
                .to_string();
            out.push((name, Vec::new()));
        } else if let Some((_, body)) = out.last_mut() {
            body.extend_from_slice(line);
        }
        rest = next;
    }
    out
}

fn errors_json(e: &ParseErrors) -> Value {
    let msgs: Vec<String> = e.0.iter().map(ToString::to_string).collect();
    json!({ "errors": msgs })
}

fn godebug_json(list: &[(String, String)]) -> Value {
    list.iter()
        .map(|(k, v)| json!({ "key": k, "value": v }))
        .collect()
}

fn replace_json(list: &[Replace]) -> Value {
    list.iter()
        .map(|r| {
            json!({
                "old_path": r.old_path,
                "old_version": r.old_version,
                "new_path": r.new_path,
                "new_version": r.new_version,
                "line": r.line,
            })
        })
        .collect()
}

fn mod_json(result: &Result<ModFile, ParseErrors>) -> Value {
    let f = match result {
        Ok(f) => f,
        Err(e) => return errors_json(e),
    };
    let module = f
        .module
        .as_ref()
        .map(|m| json!({ "path": m.path, "deprecated": m.deprecated, "line": m.line }));
    let require: Value = f
        .require
        .iter()
        .map(|r| json!({ "path": r.path, "version": r.version, "indirect": r.indirect, "line": r.line }))
        .collect();
    let exclude: Value = f
        .exclude
        .iter()
        .map(|x| json!({ "path": x.path, "version": x.version, "line": x.line }))
        .collect();
    let retract: Value = f
        .retract
        .iter()
        .map(|r| json!({ "low": r.low, "high": r.high, "rationale": r.rationale, "line": r.line }))
        .collect();
    json!({
        "file": {
            "module": module,
            "go": f.go,
            "toolchain": f.toolchain,
            "godebug": godebug_json(&f.godebug),
            "require": require,
            "exclude": exclude,
            "replace": replace_json(&f.replace),
            "retract": retract,
            "tool": f.tool,
            "ignore": f.ignore,
        }
    })
}

fn work_json(result: &Result<WorkFile, ParseErrors>) -> Value {
    let f = match result {
        Ok(f) => f,
        Err(e) => return errors_json(e),
    };
    let uses: Value = f
        .use_
        .iter()
        .map(|u| json!({ "path": u.path, "module_path": u.module_path_comment, "line": u.line }))
        .collect();
    json!({
        "file": {
            "go": f.go,
            "toolchain": f.toolchain,
            "godebug": godebug_json(&f.godebug),
            "use": uses,
            "replace": replace_json(&f.replace),
        }
    })
}

/// What our parsers return for one vector, in the oracle's JSON shape.
fn ours(kind: &str, input: &[u8]) -> Value {
    match kind {
        "go.mod" => json!({
            "parse": mod_json(&modfile::parse("go.mod", input)),
            "parse_lax": mod_json(&modfile::parse_lax("go.mod", input)),
            "module_path": modfile::module_path(input),
        }),
        "go.work" => json!({ "parse_work": work_json(&gowork::parse("go.work", input)) }),
        other => panic!("unknown input section {other}"),
    }
}

fn vector_dir() -> (PathBuf, bool) {
    match std::env::var_os("MODFERRY_MODFILE_VECTORS") {
        Some(dir) => (PathBuf::from(dir), false),
        None => (
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/modfile"),
            true,
        ),
    }
}

fn vector_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txtar"))
        .collect();
    files.sort();
    files
}

#[test]
fn modfile_matches_go_oracle_vectors() {
    let (dir, checked_in) = vector_dir();
    let files = vector_files(&dir);
    if checked_in {
        assert!(
            files.len() >= 50,
            "expected the modfile vectors, found {}",
            files.len()
        );
    }
    let mut failures = Vec::new();
    for path in &files {
        let data = std::fs::read(path).expect("read vector");
        let parts = sections(&data);
        let input = parts
            .iter()
            .find(|(name, _)| name == "go.mod" || name == "go.work")
            .unwrap_or_else(|| panic!("{}: no input section", path.display()));
        let want = parts
            .iter()
            .find(|(name, _)| name == "want.json")
            .unwrap_or_else(|| panic!("{}: no want.json section", path.display()));
        let want: Value = serde_json::from_slice(&want.1)
            .unwrap_or_else(|e| panic!("{}: bad want.json: {e}", path.display()));
        let got = ours(&input.0, &input.1);
        if got != want {
            failures.push(format!(
                "{}:\n want: {}\n  got: {}",
                path.display(),
                serde_json::to_string_pretty(&want).unwrap_or_default(),
                serde_json::to_string_pretty(&got).unwrap_or_default()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors differ from Go:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
