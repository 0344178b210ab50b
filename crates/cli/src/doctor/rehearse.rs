//! `modferry rehearse`: prove that a project builds from a mirror alone, with the real go
//! command, before anyone is offline.
//!
//! The project is copied to a temporary directory (the original is never written to), and
//! `go mod download` then `go build -o <tmp>/ ./...` run there with a fresh module cache,
//! `GOPROXY=<mirror>` as the only source, `GOFLAGS=-mod=readonly`, `GOTOOLCHAIN=local`, no
//! GONOPROXY/GOPRIVATE (nothing may go direct), and an unreachable HTTP(S) proxy for every
//! other host (the go command never proxies loopback, and NO_PROXY exempts the mirror). The
//! checksum database is the one the mirror serves, if its description names one, else the
//! user's GOSUMDB; private patterns from the user and the mirror go to GONOSUMDB.
//!
//! Relative `replace` directories outside the project are pointed at their original absolute
//! location in the copy (`go mod edit -replace`), since only the project itself is copied.
//! GOCACHE may be shared across runs with `MODFERRY_REHEARSE_GOCACHE` (build outputs only; the
//! module cache is always fresh).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Output};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::findings::{Code, Finding, normalize, render_human};
use super::goenv::GoEnv;
use super::net;
use super::project::Project;
use super::{RehearseArgs, runtime};

/// What a rehearsal found.
#[derive(Debug, Serialize)]
pub struct Outcome {
    /// Whether download and build succeeded.
    pub ok: bool,
    /// The failures mapped onto finding codes.
    pub findings: Vec<Finding>,
    /// The go command's error output when it failed.
    pub output: String,
}

/// Runs the command.
pub fn run(args: RehearseArgs) -> Result<ExitCode> {
    let env = GoEnv::read();
    let mirror = args.mirror.trim_end_matches('/').to_string();
    let outcome = rehearse(&args.dir, &mirror, &env)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else if outcome.ok {
        println!(
            "rehearsal passed: go mod download and go build ./... succeeded with GOPROXY={mirror} only"
        );
    } else {
        println!("rehearsal failed: the project does not build from {mirror} alone\n");
        if !outcome.findings.is_empty() {
            print!("{}", render_human(&outcome.findings));
        }
        println!("go said:\n{}", outcome.output.trim_end());
    }
    Ok(if outcome.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Copies, downloads and builds; `Err` when the rehearsal itself cannot run.
pub fn rehearse(dir: &Path, mirror: &str, env: &GoEnv) -> Result<Outcome> {
    let go = env
        .go_bin
        .clone()
        .context("rehearse needs the go command on PATH")?;
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    if !dir.join("go.mod").is_file() {
        bail!("{} has no go.mod", dir.display());
    }
    let desc = runtime()?
        .block_on(net::describe_mirror(&net::client(), mirror))
        .map_err(|e| anyhow::anyhow!("the mirror {mirror} does not answer: {e}"))?
        .unwrap_or_default();

    let tmp = tempfile::Builder::new()
        .prefix("modferry-rehearse-")
        .tempdir()
        .context("creating a temporary directory")?;
    let name = dir
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "project".into());
    let work = tmp.path().join("src").join(name);
    copy_tree(&dir, &work).with_context(|| format!("copying {}", dir.display()))?;

    let vars = go_vars(
        tmp.path(),
        &go,
        mirror,
        env,
        &desc,
        work.join("go.work").is_file(),
    );
    let run = |args: &[&str], cwd: &Path| -> Result<Output> {
        Command::new(&go)
            .args(args)
            .current_dir(cwd)
            .env_clear()
            .envs(vars.iter().map(|(k, v)| (k, v)))
            .output()
            .with_context(|| format!("running go {}", args.join(" ")))
    };

    // Replacement directories outside the project keep pointing at the originals.
    let project = Project::load(&dir, env)?;
    for (base, r) in project.replaces() {
        if r.new_version.is_some() || Path::new(&r.new_path).is_absolute() || base != dir {
            continue;
        }
        let original = super::project::resolve_dir(&base, &r.new_path);
        let inside = original
            .canonicalize()
            .map(|p| p.starts_with(dir.canonicalize().unwrap_or_else(|_| dir.clone())))
            .unwrap_or(false);
        if inside {
            continue;
        }
        let old = match &r.old_version {
            Some(v) => format!("{}@{v}", r.old_path),
            None => r.old_path.clone(),
        };
        let abs = std::path::absolute(&original).unwrap_or(original);
        run(
            &["mod", "edit", &format!("-replace={old}={}", abs.display())],
            &work,
        )?;
    }

    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin)?;
    let mut output = String::new();
    let mut ok = true;
    let bin_arg = format!("{}/", bin.display());
    for args in [
        vec!["mod", "download"],
        vec!["build", "-o", bin_arg.as_str(), "./..."],
    ] {
        let out = run(&args, &work)?;
        if !out.status.success() {
            ok = false;
            output = format!(
                "$ go {}\n{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
            break;
        }
    }
    // The module cache is read-only by design; go removes it properly.
    let _ = run(&["clean", "-modcache"], tmp.path());
    let mut findings = if ok {
        Vec::new()
    } else {
        map_failure(&output, mirror)
    };
    normalize(&mut findings);
    Ok(Outcome {
        ok,
        findings,
        output,
    })
}

/// The environment of the rehearsal's go commands.
fn go_vars(
    tmp: &Path,
    go: &Path,
    mirror: &str,
    env: &GoEnv,
    desc: &net::MirrorDescription,
    has_work: bool,
) -> Vec<(String, String)> {
    let gocache = std::env::var("MODFERRY_REHEARSE_GOCACHE")
        .ok()
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.join("gocache"));
    let go_dir = go
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let mut nosumdb: Vec<String> = env
        .get("GONOSUMDB")
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    nosumdb.extend(desc.private.iter().cloned());
    let gosumdb = desc
        .sumdbs
        .first()
        .cloned()
        .unwrap_or_else(|| env.get("GOSUMDB").to_string());
    let host = mirror
        .split("://")
        .nth(1)
        .unwrap_or(mirror)
        .split(['/', ':'])
        .next()
        .unwrap_or("")
        .to_string();
    let t = |p: &str| tmp.join(p).display().to_string();
    let mut vars = vec![
        ("PATH", format!("{go_dir}:/usr/bin:/bin")),
        ("HOME", t("home")),
        ("GOPATH", t("gopath")),
        ("GOMODCACHE", t("modcache")),
        ("GOCACHE", gocache.display().to_string()),
        ("GOPROXY", mirror.to_string()),
        ("GOFLAGS", "-mod=readonly".to_string()),
        ("GOTOOLCHAIN", "local".to_string()),
        ("GOSUMDB", gosumdb),
        ("GONOSUMDB", nosumdb.join(",")),
        ("GONOPROXY", String::new()),
        ("GOPRIVATE", String::new()),
        ("GOENV", "off".to_string()),
        ("HTTP_PROXY", "http://127.0.0.1:9".to_string()),
        ("HTTPS_PROXY", "http://127.0.0.1:9".to_string()),
        ("NO_PROXY", host),
        ("GIT_TERMINAL_PROMPT", "0".to_string()),
    ];
    if !has_work {
        vars.push(("GOWORK", "off".to_string()));
    }
    for keep in [
        "CGO_ENABLED",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "GOOS",
        "GOARCH",
        "TMPDIR",
    ] {
        if let Ok(v) = std::env::var(keep) {
            vars.push((keep, v));
        }
    }
    let _ = std::fs::create_dir_all(tmp.join("home"));
    vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The `module@version` a go error line is about, if it names one.
fn subject_of(line: &str) -> String {
    line.trim()
        .trim_start_matches("go: ")
        .split([':', ' '])
        .find(|t| t.contains('@'))
        .unwrap_or("")
        .to_string()
}

/// Maps the go command's error output onto finding codes.
pub fn map_failure(stderr: &str, mirror: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let lines: Vec<&str> = stderr.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let next = lines.get(i + 1).copied().unwrap_or("");
        let subject = subject_of(line);
        let subj = if subject.is_empty() {
            "go".to_string()
        } else {
            subject.clone()
        };
        let l = *line;
        let f = if l.contains("missing go.sum entry") {
            Some(Finding::new(
                Code::GosumMissing,
                subj,
                format!("go.sum lacks a hash the build needs: {}", l.trim()),
                "go mod download <module> (or go mod tidy) with GOPROXY set to the mirror, and commit go.sum",
            ))
        } else if l.contains("SECURITY ERROR") || l.contains("checksum mismatch") {
            Some(Finding::new(
                Code::ChecksumMismatch,
                subj,
                format!("the mirror's content does not match go.sum: {}", l.trim()),
                "find out which is right; if go.sum is wrong, delete the module's lines and run go mod download <module>@<version>",
            ))
        } else if l.contains("declares its path as") || next.contains("declares its path as") {
            Some(Finding::new(
                Code::ModulePathMismatch,
                subj,
                format!("{} {}", l.trim(), next.trim()),
                "require the path the module declares, with a replace to the fork if needed",
            ))
        } else if l.contains("appears multiple times in workspace") {
            Some(Finding::new(
                Code::ModulePathMismatch,
                subj,
                l.trim(),
                "go work edit -dropuse=<dir>",
            ))
        } else if (l.contains("replaced by") || l.contains("replacement directory"))
            && (l.contains("no such file") || l.contains("does not exist"))
        {
            Some(Finding::new(
                Code::ReplaceTargetMissing,
                subj,
                l.trim(),
                "check out the replacement directory, or go mod edit -dropreplace=<module>",
            ))
        } else if l.contains("inconsistent vendoring") {
            Some(Finding::new(
                Code::VendorInconsistent,
                "vendor/modules.txt",
                l.trim(),
                "go mod vendor",
            ))
        } else if l.contains("requires go >=") || l.contains("toolchain not available") {
            Some(Finding::new(
                Code::ToolchainDownload,
                subj,
                l.trim(),
                "install the required go version, or go mod edit -go=<local version> -toolchain=none",
            ))
        } else if l.contains("verifying")
            && (l.contains("sumdb") || l.contains("lookup") || l.contains("checksum database"))
        {
            Some(Finding::new(
                Code::GosumdbUnreachable,
                subj,
                l.trim(),
                "serve the checksum database through the mirror (GOSUMDB=<name> it serves), complete go.sum, or list private modules in GONOSUMDB",
            ))
        } else if l.contains("404 Not Found")
            || l.contains("410 Gone")
            || l.contains("not in the mirror")
        {
            Some(Finding::new(
                Code::ModuleNotInMirror,
                subj,
                format!("the mirror {mirror} does not have it: {}", l.trim()),
                format!(
                    "add it on a connected machine (GOPROXY=<relaying modferry> go mod download {subject}) and copy the store to {mirror}'s host"
                ),
            ))
        } else if l.contains("connection refused")
            || l.contains("dial tcp")
            || l.contains("no such host")
        {
            Some(Finding::new(
                Code::GoproxyUnreachable,
                subj,
                l.trim(),
                format!("check that {mirror} is running and reachable"),
            ))
        } else {
            None
        };
        out.extend(f);
    }
    out
}

/// Copies a directory tree (files, directories, symlinks), skipping `.git`.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let name = e.file_name();
        if name == ".git" {
            continue;
        }
        let (src, dst) = (e.path(), to.join(&name));
        let ft = e.file_type()?;
        if ft.is_dir() {
            copy_tree(&src, &dst)?;
        } else if ft.is_symlink() {
            let target = std::fs::read_link(&src)?;
            #[cfg(unix)]
            std::os::unix::fs::symlink(target, &dst)?;
            #[cfg(not(unix))]
            let _ = target;
        } else {
            std::fs::copy(&src, &dst)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CASES: &[(&str, Code)] = &[
        (
            "go: example.com/m@v1.0.0: missing go.sum entry for go.mod file",
            Code::GosumMissing,
        ),
        (
            "verifying example.com/m@v1.0.0: checksum mismatch",
            Code::ChecksumMismatch,
        ),
        (
            "go: example.com/m@v1.0.0: reading http://x/example.com/m/@v/v1.0.0.mod: 404 Not Found",
            Code::ModuleNotInMirror,
        ),
        (
            "go: inconsistent vendoring in /x:",
            Code::VendorInconsistent,
        ),
        (
            "go: go.mod requires go >= 1.99.0 (running go 1.27.3; GOTOOLCHAIN=local)",
            Code::ToolchainDownload,
        ),
    ];

    #[test]
    fn go_errors_map_onto_finding_codes() {
        for (line, code) in CASES {
            let f = map_failure(line, "http://m");
            assert_eq!(f.first().map(|f| f.code), Some(*code), "{line}");
        }
        assert_eq!(subject_of(CASES[2].0), "example.com/m@v1.0.0");
    }
}
