//! git over ssh with a key, the way git users configure it: Debian's openssh-server started on
//! a free loopback port with a temporary host key and one authorized key, and
//! `GIT_SSH_COMMAND` naming the client key and port. The rule uses the scp-like
//! `user@host:path` syntax.
//!
//! Needs `/usr/sbin/sshd` (scripts/test.sh installs openssh-server); without it the test fails
//! when `MODFERRY_REQUIRE_E2E=1`, and is skipped with a message otherwise.
//!
//! One test, because it sets `GIT_SSH_COMMAND` for the git processes the source starts.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use modferry_sources::{GitConfig, GitSource, Source, StaticRouter, StaticRule};

#[path = "support/commands.rs"]
mod commands;
use commands::{clone_bare, git, run};

const SSHD: &str = "/usr/sbin/sshd";

/// The sshd process, killed (by its pid) on drop.
struct Sshd(Child);

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_with_a_key_from_git_ssh_command() {
    if !Path::new(SSHD).exists() {
        assert!(
            std::env::var_os("MODFERRY_REQUIRE_E2E").is_none(),
            "{SSHD} missing: install openssh-server (scripts/test.sh does)"
        );
        eprintln!("skipping: {SSHD} missing (install openssh-server)");
        return;
    }
    let base = tempfile::tempdir().expect("tempdir");
    let b = base.path();
    let work = b.join("work");
    std::fs::create_dir_all(&work).expect("mkdir");
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(
        work.join("go.mod"),
        "module example.com/ssh/lib\n\ngo 1.21\n",
    )
    .expect("w");
    std::fs::write(work.join("lib.go"), "package lib\n").expect("w");
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "one"]);
    git(&work, &["tag", "v1.0.0"]);
    let bare = b.join("lib.git");
    clone_bare(b, &work, &bare);

    let host_key = b.join("host_key");
    let client_key = b.join("client_key");
    for key in [&host_key, &client_key] {
        run(
            b,
            "ssh-keygen",
            &[
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-f",
                key.to_str().expect("utf8"),
            ],
        );
    }
    let authorized = b.join("authorized_keys");
    std::fs::copy(client_key.with_extension("pub"), &authorized).expect("authorized_keys");
    let user = run(b, "id", &["-un"]);
    let port = free_port();
    let config = b.join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\n\
             AuthorizedKeysFile {}\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin prohibit-password\n\
             AllowUsers {user}\n",
            host_key.display(),
            b.join("sshd.pid").display(),
            authorized.display(),
        ),
    )
    .expect("sshd_config");
    // sshd refuses to start without its privilege separation directory.
    let _ = std::fs::create_dir_all("/run/sshd");
    let log = std::fs::File::create(b.join("sshd.log")).expect("log");
    let sshd = Sshd(
        Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start sshd"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "sshd did not listen: {}",
            std::fs::read_to_string(b.join("sshd.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // SAFETY: this binary holds this single test; nothing else reads the environment.
    unsafe {
        std::env::set_var(
            "GIT_SSH_COMMAND",
            format!(
                "ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes \
                 -o IdentitiesOnly=yes -p {port} -i {}",
                client_key.display()
            ),
        );
        std::env::remove_var("SSH_AUTH_SOCK");
    }
    let rule = StaticRule::new(
        "example.com/ssh/lib",
        &format!("{user}@127.0.0.1:{}", bare.display()),
    )
    .expect("rule");
    let src = GitSource::new(
        GitConfig::new(b.join("cache")),
        Arc::new(StaticRouter::new(vec![rule])),
    );
    assert_eq!(
        src.list("example.com/ssh/lib")
            .await
            .expect("list over ssh"),
        "v1.0.0\n"
    );
    let mut zip = Vec::new();
    src.zip("example.com/ssh/lib", "v1.0.0", &mut zip, 1 << 20)
        .await
        .expect("zip over ssh");
    assert!(!zip.is_empty());
    drop(sshd);
}
