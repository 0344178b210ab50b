//! Running git: bounded concurrency, timeouts that kill the whole process tree, bounded output,
//! and an environment that neither prompts nor lets the caller's `GIT_*` variables redirect git.
//!
//! Go rule: `cmd/go/internal/modfetch/codehost/codehost.go` `Run` and the environment
//! `cmd/go/internal/modload/init.go` sets up (`GIT_TERMINAL_PROMPT=0`, `GCM_INTERACTIVE=never`).
//! Go runs git with the user's environment and `GIT_DIR` set; so does this, so credential
//! helpers, `.netrc`, SSH keys and agents, `url.<base>.insteadOf` rules and proxy variables work
//! as they do for the go command.
//!
//! Additions a server needs (Go has none of them):
//!
//! - a semaphore bounds the number of git processes;
//! - each git runs in its own session (`setsid`): it has no controlling terminal, so neither
//!   git nor ssh can prompt, and a timeout (or a dropped request) kills the whole session —
//!   `git-remote-https`, `ssh` and any helper with it;
//! - standard output is bounded, standard error is kept only up to [`MAX_STDERR`] bytes;
//! - variables that would point git at another repository or configuration (`GIT_DIR`,
//!   `GIT_WORK_TREE`, `GIT_CONFIG_PARAMETERS`, ...) are removed; messages are in English
//!   (`LC_ALL=C`) and pathspecs literal (`GIT_LITERAL_PATHSPECS=1`).
//!
//! Arguments are passed as an argument vector, never through a shell. Callers put
//! `--end-of-options` before any value that did not come from this crate.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Semaphore;

/// The most bytes of a git command's standard error kept for error messages.
pub(crate) const MAX_STDERR: usize = 64 << 10;

/// Environment variables removed before running git: each would make git use another
/// repository, object store, configuration or ref namespace than the mirror.
const SCRUBBED_ENV: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
    "GIT_DISCOVERY_ACROSS_FILESYSTEM",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_QUARANTINE_PATH",
    "GIT_REPLACE_REF_BASE",
    "GIT_GRAFT_FILE",
    "GIT_SHALLOW_FILE",
    "GIT_PREFIX",
    "GIT_ICASE_PATHSPECS",
    "GIT_GLOB_PATHSPECS",
    "GIT_NOGLOB_PATHSPECS",
];

/// Why a git command failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RunError {
    /// git could not be started.
    #[error("{command}: cannot run git: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// git exited unsuccessfully.
    #[error("{command}: {status}{}", stderr_suffix(.stderr))]
    Failed {
        /// The command line.
        command: String,
        /// How it ended.
        status: ExitStatus,
        /// Its standard error (at most [`MAX_STDERR`] bytes).
        stderr: String,
    },
    /// git ran longer than the timeout and was killed.
    #[error("{command}: timed out after {after:?}")]
    Timeout {
        /// The command line.
        command: String,
        /// The timeout.
        after: Duration,
    },
    /// git wrote more than the output limit and was killed.
    #[error("{command}: output larger than {limit} bytes")]
    OutputTooLarge {
        /// The command line.
        command: String,
        /// The limit.
        limit: u64,
    },
    /// Reading git's output, or writing it to its destination, failed.
    #[error("{command}: {source}")]
    Io {
        /// The command line.
        command: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl RunError {
    /// The exit code when git ran and failed.
    pub(crate) fn exit_code(&self) -> Option<i32> {
        match self {
            RunError::Failed { status, .. } => status.code(),
            _ => None,
        }
    }

    /// Git's standard error when it ran and failed.
    pub(crate) fn stderr(&self) -> &str {
        match self {
            RunError::Failed { stderr, .. } => stderr,
            _ => "",
        }
    }
}

fn stderr_suffix(stderr: &str) -> String {
    let trimmed = stderr.trim_end();
    if trimmed.is_empty() {
        String::new()
    } else {
        format!(":\n\t{}", trimmed.replace('\n', "\n\t"))
    }
}

/// One git invocation: `git [-c key=value]... args...` with `GIT_DIR` set to a repository.
#[derive(Debug, Clone)]
pub(crate) struct GitCommand {
    git_dir: PathBuf,
    config: Vec<String>,
    args: Vec<OsString>,
}

impl GitCommand {
    /// A command run against the repository at `git_dir` (which is also its working directory).
    pub(crate) fn new(git_dir: &Path) -> Self {
        GitCommand {
            git_dir: git_dir.to_owned(),
            config: Vec::new(),
            args: Vec::new(),
        }
    }

    /// Adds `-c key=value` in front of the subcommand.
    pub(crate) fn config(mut self, key_value: impl Into<String>) -> Self {
        self.config.push(key_value.into());
        self
    }

    /// Adds `-c key=value` options.
    pub(crate) fn configs<I: IntoIterator<Item = String>>(mut self, kvs: I) -> Self {
        self.config.extend(kvs);
        self
    }

    /// Adds one argument.
    pub(crate) fn arg(mut self, a: impl Into<OsString>) -> Self {
        self.args.push(a.into());
        self
    }

    /// Adds arguments.
    pub(crate) fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// The command line for messages (`git <args>`; the `-c` options are left out).
    pub(crate) fn display(&self) -> String {
        let mut s = String::from("git");
        for a in &self.args {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        s
    }
}

/// Counters of what a runner did, for tests and metrics.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// git processes started.
    pub(crate) commands: AtomicU64,
}

/// Runs git commands with a concurrency bound, a timeout and an output bound.
#[derive(Debug)]
pub(crate) struct GitRunner {
    permits: Semaphore,
    timeout: Duration,
    max_output: u64,
    pub(crate) counters: Counters,
}

impl GitRunner {
    /// A runner allowing `max_concurrent` processes (at least one).
    pub(crate) fn new(max_concurrent: usize, timeout: Duration, max_output: u64) -> Self {
        GitRunner {
            permits: Semaphore::new(max_concurrent.max(1)),
            timeout,
            max_output,
            counters: Counters::default(),
        }
    }

    /// Runs `cmd` and returns its standard output (at most the runner's output limit).
    pub(crate) async fn output(&self, cmd: &GitCommand) -> Result<Vec<u8>, RunError> {
        let mut out = Vec::new();
        self.run(cmd, &mut out, self.max_output).await?;
        Ok(out)
    }

    /// Runs `cmd`, copying its standard output into `dest` (at most `limit` bytes, else
    /// [`RunError::OutputTooLarge`]); returns the number of bytes copied.
    pub(crate) async fn output_to<W: AsyncWrite + Unpin + Send>(
        &self,
        cmd: &GitCommand,
        dest: &mut W,
        limit: u64,
    ) -> Result<u64, RunError> {
        self.run(cmd, dest, limit).await
    }

    async fn run<W: AsyncWrite + Unpin + Send>(
        &self,
        cmd: &GitCommand,
        dest: &mut W,
        limit: u64,
    ) -> Result<u64, RunError> {
        let command = cmd.display();
        // The semaphore is never closed; a closed one would only mean no limit.
        let _permit = self.permits.acquire().await.ok();
        self.counters.commands.fetch_add(1, Ordering::Relaxed);
        tracing::trace!(command = %command, dir = %cmd.git_dir.display(), "running git");

        let mut c = tokio::process::Command::new("git");
        for kv in &cmd.config {
            c.arg("-c").arg(kv);
        }
        c.args(&cmd.args)
            .current_dir(&cmd.git_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for k in SCRUBBED_ENV {
            c.env_remove(k);
        }
        // git lets GIT_SSL_CAINFO/GIT_SSL_CAPATH in the environment override `-c
        // http.sslCAInfo`: a rule's own CA file must win over the service's environment.
        if cmd
            .config
            .iter()
            .any(|kv| kv.starts_with("http.sslCAInfo="))
        {
            c.env_remove("GIT_SSL_CAINFO").env_remove("GIT_SSL_CAPATH");
        }
        c.env("GIT_DIR", &cmd.git_dir)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GCM_INTERACTIVE", "never")
            .env("GIT_LITERAL_PATHSPECS", "1")
            .env("GIT_NO_REPLACE_OBJECTS", "1")
            .env("LC_ALL", "C");
        // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
        unsafe {
            c.pre_exec(|| {
                if libc::setsid() == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = c.spawn().map_err(|source| RunError::Spawn {
            command: command.clone(),
            source,
        })?;
        // Kills the session if this future is dropped or times out before git is reaped.
        let mut guard = SessionGuard(child.id().and_then(|id| i32::try_from(id).ok()));
        let (Some(mut stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take())
        else {
            return Err(RunError::Io {
                command,
                source: std::io::Error::other("git's output pipes are missing"),
            });
        };

        let deadline = tokio::time::Instant::now() + self.timeout;
        let work = async {
            let copy = copy_bounded(&mut stdout, dest, limit);
            let err = read_stderr(&mut stderr);
            let (copied, err_text) = tokio::join!(copy, err);
            (copied, err_text)
        };
        let (copied, err_text) = match tokio::time::timeout_at(deadline, work).await {
            Ok(r) => r,
            Err(_) => {
                guard.kill();
                let _ = child.wait().await;
                return Err(RunError::Timeout {
                    command,
                    after: self.timeout,
                });
            }
        };
        let copied = match copied {
            Ok(Copied::Done(n)) => n,
            Ok(Copied::Overflow) => {
                guard.kill();
                let _ = child.wait().await;
                return Err(RunError::OutputTooLarge { command, limit });
            }
            Err(source) => {
                guard.kill();
                let _ = child.wait().await;
                return Err(RunError::Io { command, source });
            }
        };
        // Output is closed; the process should be exiting. Still within the deadline.
        let status = match tokio::time::timeout_at(deadline, child.wait()).await {
            Ok(Ok(status)) => status,
            Ok(Err(source)) => return Err(RunError::Io { command, source }),
            Err(_) => {
                guard.kill();
                let _ = child.wait().await;
                return Err(RunError::Timeout {
                    command,
                    after: self.timeout,
                });
            }
        };
        // Reaped: the session id may be reused from now on, so never signal it again.
        guard.0 = None;
        if !status.success() {
            return Err(RunError::Failed {
                command,
                status,
                stderr: err_text,
            });
        }
        dest.flush()
            .await
            .map_err(|source| RunError::Io { command, source })?;
        Ok(copied)
    }
}

/// Kills a git process session on drop unless disarmed.
struct SessionGuard(Option<i32>);

impl SessionGuard {
    fn kill(&mut self) {
        if let Some(pgid) = self.0
            && pgid > 0
        {
            // SAFETY: killpg only sends a signal; the group is the session git leads.
            unsafe {
                libc::killpg(pgid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

enum Copied {
    Done(u64),
    Overflow,
}

async fn copy_bounded<R, W>(src: &mut R, dest: &mut W, limit: u64) -> std::io::Result<Copied>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 64 << 10];
    let mut total: u64 = 0;
    loop {
        let n = src.read(&mut buf).await?;
        if n == 0 {
            return Ok(Copied::Done(total));
        }
        total = total.saturating_add(n as u64);
        if total > limit {
            return Ok(Copied::Overflow);
        }
        dest.write_all(&buf[..n]).await?;
    }
}

async fn read_stderr<R: AsyncRead + Unpin>(src: &mut R) -> String {
    let mut kept = Vec::new();
    let mut buf = vec![0u8; 8 << 10];
    loop {
        match src.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = MAX_STDERR.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runner() -> GitRunner {
        GitRunner::new(2, Duration::from_secs(20), 1 << 20)
    }

    #[tokio::test]
    async fn runner_captures_output_of_git_like_codehost_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = runner()
            .output(&GitCommand::new(dir.path()).arg("version"))
            .await
            .expect("git version");
        assert!(String::from_utf8_lossy(&out).starts_with("git version"));
    }

    #[tokio::test]
    async fn runner_reports_exit_status_and_stderr() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = runner()
            .output(&GitCommand::new(dir.path()).arg("rev-parse").arg("--verify"))
            .await
            .expect_err("not a repository");
        assert_eq!(err.exit_code(), Some(128));
        assert!(!err.stderr().is_empty(), "{err}");
    }

    #[tokio::test]
    async fn runner_bounds_output() {
        let dir = tempfile::tempdir().expect("tempdir");
        let r = GitRunner::new(1, Duration::from_secs(20), 10);
        let err = r
            .output(&GitCommand::new(dir.path()).arg("help").arg("-a"))
            .await
            .expect_err("too much output");
        assert!(
            matches!(err, RunError::OutputTooLarge { limit: 10, .. }),
            "{err}"
        );
    }

    #[tokio::test]
    async fn timeout_kills_git_and_every_process_it_started() {
        let dir = tempfile::tempdir().expect("tempdir");
        runner()
            .output(&GitCommand::new(dir.path()).args(["init", "--bare", "--quiet"]))
            .await
            .expect("init");
        let marker = dir.path().join("marker");
        // A shell alias: git starts sh, which starts sleep; all must die at the timeout.
        let cmd = GitCommand::new(dir.path())
            .config(format!("alias.slow=!sleep 1; touch {}", marker.display()))
            .arg("slow");
        let r = GitRunner::new(1, Duration::from_millis(300), 1 << 20);
        let start = std::time::Instant::now();
        let err = r.output(&cmd).await.expect_err("timeout");
        assert!(matches!(err, RunError::Timeout { .. }), "{err}");
        assert!(
            start.elapsed() < Duration::from_millis(900),
            "{:?}",
            start.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(
            !marker.exists(),
            "the shell git started outlived the timeout"
        );
    }

    #[tokio::test]
    async fn runner_ignores_caller_git_dir_variables() {
        // GIT_DIR from the environment would redirect every command; the runner sets its own.
        let dir = tempfile::tempdir().expect("tempdir");
        let cmd = GitCommand::new(dir.path())
            .arg("rev-parse")
            .arg("--git-dir");
        let err = runner().output(&cmd).await.expect_err("plain directory");
        assert!(err.stderr().contains("not a git repository"), "{err}");
    }
}
