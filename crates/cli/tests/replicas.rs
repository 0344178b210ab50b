//! Several `modferry serve` replicas on one bucket of a real SeaweedFS (docs/scale-out.md).
//!
//! - Replica A fetches modules from the upstream; replica D, whose upstream is unreachable,
//!   serves them from the bucket with identical bytes.
//! - 100 concurrent cold requests for one zip, spread over three replicas while the upstream
//!   holds its answer for 2 s, cause exactly one upstream zip fetch; all clients get the same
//!   bytes (single-flight within a replica, leases in the bucket across replicas).
//! - The real go command downloads through a replica and verifies go.sum.
//! - Faults: SeaweedFS stopped during a download cuts the response short (never a complete
//!   200 with wrong bytes); while stopped, requests get 503 with Retry-After and a one-line
//!   reason; after a restart the service recovers and nothing partial is visible.
//! - SeaweedFS stopped in the middle of a large zip's multipart upload (held there by a relay):
//!   503, nothing partial visible after a restart, and the next request fills the store at once
//!   (the replica takes over the lease and upload claim it could not remove).
//! - Immutable conflicts: another writer stores a different `.mod`, a different valid zip, or
//!   something that is not a zip first; the alarm is raised (log and `/metrics`), the stored
//!   object is never overwritten, and a non-zip is never served as a zip.
//! - A replica killed (SIGKILL) while holding a fetch lease: another one waits for the lease to
//!   expire, takes it over and fetches once.
//! - `modferry store copy` fs → s3 → fs gives identical files; a corrupt zip is refused by name.
//!
//! The upstream is a small Python server over a GOPROXY directory (not our code) that counts
//! requests per path and delays answers. Module zips come from Go's own x/mod code (the oracle).

mod util;

#[path = "../../store/tests/common/link.rs"]
mod link;
#[path = "../../store/tests/common/seaweed.rs"]
mod seaweed;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use link::Link;
use modferry_formats::module::{escape_path, escape_version};
use util::*;

/// The counting, delaying upstream: GET /PATH serves ROOT/PATH; `.zip` answers wait
/// ZIP_DELAY seconds, others OTHER_DELAY; every request's path is appended to COUNT_FILE.
const UPSTREAM_PY: &str = r#"
import http.server, os, sys, time, threading, urllib.parse
root, port, count_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
zip_delay, other_delay = float(sys.argv[4]), float(sys.argv[5])
lock = threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        path = urllib.parse.unquote(self.path)
        with lock:
            with open(count_file, "a") as f:
                f.write(path + "\n")
        time.sleep(zip_delay if path.endswith(".zip") else other_delay)
        p = os.path.join(root, path.lstrip("/"))
        if not os.path.isfile(p):
            body = b"not found\n"
            self.send_response(404)
        else:
            body = open(p, "rb").read()
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
s.daemon_threads = True
print("ready", flush=True)
s.serve_forever()
"#;

/// A module of the fixture: path, version, files (a go.mod among them).
struct Module {
    path: &'static str,
    version: &'static str,
    files: Vec<(&'static str, Vec<u8>)>,
}

/// The upstream directory and the oracle's hashes.
struct World {
    dir: tempfile::TempDir,
    /// `(module, version, zip h1, go.mod h1)`
    sums: Vec<(String, String, String, String)>,
}

impl World {
    fn upstream(&self) -> PathBuf {
        self.dir.path().join("upstream")
    }
    /// The upstream file `<escaped>/@v/<escaped version>.<ext>`, as a URL path.
    fn url_path(module: &str, version: &str, ext: &str) -> String {
        format!(
            "/{}/@v/{}.{ext}",
            escape_path(module).unwrap(),
            escape_version(version).unwrap()
        )
    }
    fn file(&self, module: &str, version: &str, ext: &str) -> Vec<u8> {
        let p = Self::url_path(module, version, ext);
        std::fs::read(self.upstream().join(p.trim_start_matches('/'))).unwrap()
    }
}

fn build_world(modules: &[Module]) -> World {
    let dir = tempfile::tempdir().unwrap();
    let upstream = dir.path().join("upstream");
    let mut sums = Vec::new();
    for m in modules {
        let go_mod = m
            .files
            .iter()
            .find(|(name, _)| *name == "go.mod")
            .map(|(_, content)| content.as_slice())
            .expect("every replicas module has a go.mod");
        let (h1, mod_h1) =
            publish_tree(dir.path(), &upstream, m.path, m.version, go_mod, &m.files).hashes();
        sums.push((m.path.to_string(), m.version.to_string(), h1, mod_h1));
    }
    World { dir, sums }
}

fn small_module(path: &'static str, pkg: &str) -> Module {
    Module {
        path,
        version: "v1.0.0",
        files: vec![
            ("go.mod", format!("module {path}\n\ngo 1.21\n").into_bytes()),
            (
                "lib.go",
                format!("package {pkg}\n\nfunc Name() string {{ return \"{pkg}\" }}\n")
                    .into_bytes(),
            ),
        ],
    }
}

/// A module whose zip is `size` bytes of incompressible data (plus a little).
fn big_module(path: &'static str, size: usize) -> Module {
    let mut data = Vec::with_capacity(size);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while data.len() < size {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    Module {
        path,
        version: "v1.0.0",
        files: vec![
            ("go.mod", format!("module {path}\n\ngo 1.21\n").into_bytes()),
            ("big.go", b"package big\n".to_vec()),
            ("data.bin", data),
        ],
    }
}

/// The counting upstream (killed on drop).
struct Upstream {
    proc: Proc,
    count_file: PathBuf,
}

impl Upstream {
    fn start(world: &World, zip_delay: f64, other_delay: f64) -> Upstream {
        let script = world.dir.path().join("upstream.py");
        std::fs::write(&script, UPSTREAM_PY).unwrap();
        let port = free_port();
        let count_file = world.dir.path().join(format!("count-{port}.txt"));
        std::fs::write(&count_file, "").unwrap();
        let log = world.dir.path().join(format!("upstream-{port}.log"));
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(world.upstream())
            .arg(port.to_string())
            .arg(&count_file)
            .arg(zip_delay.to_string())
            .arg(other_delay.to_string())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("spawn python3");
        let mut line = [0u8; 6];
        child
            .stdout
            .as_mut()
            .unwrap()
            .read_exact(&mut line)
            .expect("upstream ready line");
        Upstream {
            proc: Proc {
                child,
                url: format!("http://127.0.0.1:{port}"),
                log,
            },
            count_file,
        }
    }

    /// How many requests the upstream saw for `path`.
    fn count(&self, path: &str) -> usize {
        std::fs::read_to_string(&self.count_file)
            .unwrap()
            .lines()
            .filter(|l| *l == path)
            .count()
    }
}

/// `modferry serve --store s3://BUCKET/PREFIX --upstream UPSTREAM` with the AWS_* variables
/// of `sw`, on a free port; ready when /healthz answers.
fn replica(dir: &Path, endpoint: &str, prefix: &str, upstream: &str) -> Proc {
    replica_with_env(dir, endpoint, prefix, upstream, &[])
}

/// [`replica`] with more environment variables (e.g. `MODFERRY_LEASE_TTL`).
fn replica_with_env(
    dir: &Path,
    endpoint: &str,
    prefix: &str,
    upstream: &str,
    env: &[(&str, &str)],
) -> Proc {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let log = dir.join(format!("replica-{port}.log"));
    let store = format!("s3://{}/{prefix}", seaweed::BUCKET);
    let mut child = Command::new(env!("CARGO_BIN_EXE_modferry"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--store", &store, "--upstream", upstream])
        .args(["--git-cache", dir.join("git").to_str().unwrap()])
        .env_remove("MODFERRY_CONFIG")
        .envs(aws_env(endpoint))
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("spawn modferry");
    let addr = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            panic!(
                "replica exited early ({st}): {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        if http_get(&addr, "/healthz").is_ok_and(|r| r.starts_with("HTTP/1.")) {
            break;
        }
        assert!(Instant::now() < deadline, "replica {url} not ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    Proc { child, url, log }
}

fn aws_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", seaweed::ACCESS_KEY.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", seaweed::SECRET_KEY.to_owned()),
    ]
}

/// A response: status, headers (lowercase names), body.
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A blocking HTTP/1.0 GET that returns what arrived (the body may be short if the server
/// cut the connection).
fn get(url: &str, path: &str) -> Resp {
    let addr = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    parse_resp(&buf)
}

/// [`get`] that must answer within `limit`; panics with `context()` (e.g. the replica's log)
/// otherwise.
fn get_within(url: &str, path: &str, limit: Duration, context: impl Fn() -> String) -> Resp {
    let (tx, rx) = std::sync::mpsc::channel();
    let (url, path) = (url.to_owned(), path.to_owned());
    std::thread::spawn(move || {
        let _ = tx.send(get(&url, &path));
    });
    match rx.recv_timeout(limit) {
        Ok(r) => r,
        Err(_) => panic!("no answer within {limit:?}: {}", context()),
    }
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn parse_resp(buf: &[u8]) -> Resp {
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete header");
    let head = String::from_utf8_lossy(&buf[..end]);
    let mut lines = head.lines();
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Resp {
        status,
        headers,
        body: buf[end + 4..].to_vec(),
    }
}

#[test]
fn replicas_share_the_bucket_and_fetch_each_zip_from_upstream_once() {
    let sw = seaweed::shared();
    let world = build_world(&[
        small_module("example.com/Upper/Hello", "hello"),
        small_module("example.com/race", "race"),
    ]);
    let upstream = Upstream::start(&world, 2.0, 0.3);
    let prefix = "replicas-share";
    let logs = world.dir.path();
    let a = replica(logs, &sw.endpoint(), prefix, &upstream.proc.url);
    let b = replica(logs, &sw.endpoint(), prefix, &upstream.proc.url);
    let c = replica(logs, &sw.endpoint(), prefix, &upstream.proc.url);
    let d = replica(logs, &sw.endpoint(), prefix, "http://127.0.0.1:1");

    // A fetches (the path needs case-encoding: '!' in the key); D, without an upstream,
    // serves the same bytes from the bucket.
    let hello = "example.com/Upper/Hello";
    for ext in ["info", "mod", "zip"] {
        let path = World::url_path(hello, "v1.0.0", ext);
        let want = world.file(hello, "v1.0.0", ext);
        let got_a = get(&a.url, &path);
        assert_eq!(got_a.status, 200, "A {path}: {}", a.log_text());
        assert_eq!(got_a.body, want, "A {path}");
        let got_d = get(&d.url, &path);
        assert_eq!(got_d.status, 200, "D {path}: {}", d.log_text());
        assert_eq!(got_d.body, want, "D {path}");
    }

    // 100 concurrent cold requests over A, B and C: one upstream zip fetch.
    let race = "example.com/race";
    let zip_path = World::url_path(race, "v1.0.0", "zip");
    let want = world.file(race, "v1.0.0", "zip");
    let urls = [a.url.clone(), b.url.clone(), c.url.clone()];
    let threads: Vec<_> = (0..100)
        .map(|i| {
            let url = urls[i % 3].clone();
            let path = zip_path.clone();
            std::thread::spawn(move || get(&url, &path))
        })
        .collect();
    for (i, t) in threads.into_iter().enumerate() {
        let r = t.join().unwrap();
        assert_eq!(
            r.status,
            200,
            "client {i}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert!(r.body == want, "client {i} got different bytes");
    }
    assert_eq!(
        upstream.count(&zip_path),
        1,
        "upstream zip fetches; replica logs:\n{}\n{}\n{}",
        a.log_text(),
        b.log_text(),
        c.log_text()
    );
    assert_eq!(
        upstream.count(&World::url_path(race, "v1.0.0", "info")),
        1,
        ".info fetches"
    );
    let metrics = get(&a.url, "/metrics");
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(
        text.contains("modferry_immutable_conflicts_total 0"),
        "{text}"
    );
    // The leases are released: none is left in the bucket.
    let leases = block_on(async {
        let store = modferry_store::S3Store::open(sw.config(prefix))
            .await
            .unwrap();
        let prefix = modferry_store::layout::meta_prefix("lease").unwrap();
        modferry_store::Store::list(&store, &prefix).await.unwrap()
    });
    assert!(leases.is_empty(), "{leases:?}");
}

#[test]
fn go_command_downloads_through_a_replica_with_go_sum_verification() {
    let sw = seaweed::shared();
    let world = build_world(&[small_module("example.com/Upper/Hello", "hello")]);
    let upstream = Upstream::start(&world, 0.0, 0.0);
    let r = replica(
        world.dir.path(),
        &sw.endpoint(),
        "replicas-go",
        &upstream.proc.url,
    );
    let consumer = world.dir.path().join("consumer");
    std::fs::create_dir_all(&consumer).unwrap();
    let (p, v, h1, mod_h1) = &world.sums[0];
    std::fs::write(
        consumer.join("go.mod"),
        format!("module example.com/consumer\n\ngo 1.21\n\nrequire {p} {v}\n"),
    )
    .unwrap();
    std::fs::write(
        consumer.join("go.sum"),
        format!("{p} {v} {h1}\n{p} {v}/go.mod {mod_h1}\n"),
    )
    .unwrap();
    std::fs::write(
        consumer.join("main.go"),
        "package main\n\nimport hello \"example.com/Upper/Hello\"\n\nfunc main() { println(hello.Name()) }\n",
    )
    .unwrap();
    let env = GoEnv::new(&r.url);
    let out = env.go_ok(&consumer, &["mod", "download", "-json", p]);
    assert!(out.contains(h1.as_str()), "{out}");
    let bin = env.home.path().join("consumer-bin");
    env.go_ok(&consumer, &["build", "-o", bin.to_str().unwrap(), "."]);
    let sum_after = std::fs::read_to_string(consumer.join("go.sum")).unwrap();
    assert_eq!(
        sum_after,
        format!("{p} {v} {h1}\n{p} {v}/go.mod {mod_h1}\n")
    );
}

#[test]
fn object_store_down_gives_503_and_the_service_recovers() {
    let mut sw = seaweed::Seaweed::start();
    let world = build_world(&[
        big_module("example.com/big", 24 << 20),
        small_module("example.com/later", "later"),
    ]);
    let upstream = Upstream::start(&world, 0.0, 0.0);
    let r = replica(
        world.dir.path(),
        &sw.endpoint(),
        "replicas-fault",
        &upstream.proc.url,
    );
    let big = "example.com/big";
    let zip_path = World::url_path(big, "v1.0.0", "zip");
    let want = world.file(big, "v1.0.0", "zip");
    // Fill the store.
    let first = get(&r.url, &zip_path);
    assert_eq!(first.status, 200, "{}", r.log_text());
    assert!(first.body == want);

    // A slow download from the bucket, with the store stopped in the middle.
    let addr = r.url.trim_start_matches("http://").to_owned();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(s, "GET {zip_path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let n = s.read(&mut buf).unwrap();
    buf.truncate(n);
    sw.stop();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    buf.extend_from_slice(&rest);
    let resp = parse_resp(&buf);
    if resp.status == 200 {
        let len: usize = resp.header("content-length").unwrap().parse().unwrap();
        // Either everything arrived before the store went away (then it is the right
        // bytes), or the connection was cut short: the client sees a truncated body.
        assert!(
            resp.body.len() < len || resp.body == want,
            "a complete-looking 200 with wrong bytes ({} of {len})",
            resp.body.len()
        );
    } else {
        assert_eq!(resp.status, 503);
    }

    // While stopped: 503, Retry-After, one line.
    for path in [
        zip_path.clone(),
        World::url_path("example.com/later", "v1.0.0", "zip"),
    ] {
        let resp = get(&r.url, &path);
        assert_eq!(
            resp.status,
            503,
            "{path}: {}",
            String::from_utf8_lossy(&resp.body)
        );
        assert!(resp.header("retry-after").is_some(), "{path}");
        let body = String::from_utf8_lossy(&resp.body);
        assert_eq!(body.lines().count(), 1, "{body}");
    }

    // Back: everything served whole, the module fetched while down included.
    sw.restart();
    let again = get(&r.url, &zip_path);
    assert_eq!(again.status, 200, "{}", r.log_text());
    assert!(again.body == want);
    let later = "example.com/later";
    let lz = get(&r.url, &World::url_path(later, "v1.0.0", "zip"));
    assert_eq!(lz.status, 200, "{}", r.log_text());
    assert_eq!(lz.body, world.file(later, "v1.0.0", "zip"));
}

/// Waits until a (re)started SeaweedFS takes writes: for a moment after its S3 port opens it
/// answers some requests with 500.
fn wait_writable(sw: &seaweed::Seaweed) {
    use modferry_store::{Key, Payload, PutMode, S3Store, Store};
    let deadline = Instant::now() + Duration::from_secs(20);
    block_on(async {
        let key = Key::new("example.com/probe/@v/list").unwrap();
        loop {
            if let Ok(store) = S3Store::open(sw.config("replicas-probe")).await {
                let body = Payload::Bytes(bytes::Bytes::from_static(b"v1.0.0\n"));
                if store.put(&key, body, PutMode::Overwrite).await.is_ok()
                    && store.get_bytes(&key, 64).await.is_ok()
                {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "SeaweedFS takes no writes: {}",
                sw.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

/// SeaweedFS stopped while a replica uploads a large zip (a multipart upload through a
/// temporary object, then a conditional copy): the client gets 503, nothing partial becomes
/// visible, and after a restart the next request fills the store and serves the same bytes.
///
/// The replica downloads the whole zip to a staging file and validates it before it writes
/// anything to the bucket, so a slow upstream cannot overlap the upload; the relay between
/// the replica and SeaweedFS holds the upload in the middle instead.
#[test]
fn object_store_stopped_during_a_fill_leaves_nothing_partial() {
    let mut sw = seaweed::Seaweed::start();
    let m = "example.com/fill";
    let world = build_world(&[big_module(m, 24 << 20)]);
    let upstream = Upstream::start(&world, 0.0, 0.0);
    // 8 MiB parts (S3Config::part_size): 12 MiB sent means the second part is under way.
    let link = Link::stalling(&sw.endpoint(), 12 << 20);
    let prefix = "replicas-fill";
    let r = replica_with_env(
        world.dir.path(),
        &link.url,
        prefix,
        &upstream.proc.url,
        &[("MODFERRY_LOG", "debug,hyper=info,h2=info,reqwest=info")],
    );
    let zip_path = World::url_path(m, "v1.0.0", "zip");
    let want = world.file(m, "v1.0.0", "zip");

    let client = {
        let (url, path) = (r.url.clone(), zip_path.clone());
        std::thread::spawn(move || get(&url, &path))
    };
    link.wait_stalled(Duration::from_secs(20), || r.log_text());
    assert_eq!(upstream.count(&zip_path), 1);
    sw.stop();
    let resp = client.join().unwrap();
    let body = String::from_utf8_lossy(&resp.body);
    assert_eq!(resp.status, 503, "{body}\n{}", r.log_text());
    assert!(resp.header("retry-after").is_some());
    assert_eq!(body.lines().count(), 1, "{body}");

    sw.restart();
    wait_writable(&sw);
    let zip_key = zip_path.trim_start_matches('/');
    let raw = |key: &str| sw.filer_status(&format!("/buckets/{}/{prefix}/{key}", seaweed::BUCKET));
    let claim = format!(".modferry/tmp/claim/{prefix}/{zip_key}");
    let open = || async {
        modferry_store::S3Store::open(sw.config(prefix))
            .await
            .unwrap()
    };
    // Nothing partial: no object at the zip's key, neither through S3 nor in the filer, and the
    // keys visible as module files are the .info, .mod and list stored before the zip.
    let visible = block_on(async {
        let store = open().await;
        let key = modferry_store::Key::new(zip_key).unwrap();
        assert!(
            modferry_store::Store::head(&store, &key)
                .await
                .unwrap()
                .is_none()
        );
        modferry_store::Store::list(&store, "").await.unwrap()
    });
    assert_eq!(raw(zip_key), Some(404));
    let module_files: Vec<&str> = visible
        .iter()
        .map(|k| k.as_str())
        .filter(|k| !k.starts_with(".modferry/"))
        .collect();
    let dir = zip_key.trim_end_matches("v1.0.0.zip");
    assert_eq!(
        module_files,
        [
            format!("{dir}list"),
            format!("{dir}v1.0.0.info"),
            format!("{dir}v1.0.0.mod")
        ],
        "{visible:?}"
    );

    // The next request fills the store (fetching again: the staging file is gone) and serves
    // the same bytes, promptly: what the failed fill left behind does not hold it up.
    let again = get_within(&r.url, &zip_path, Duration::from_secs(10), || r.log_text());
    assert_eq!(again.status, 200, "{}", r.log_text());
    assert!(again.body == want, "different bytes after the fault");
    assert_eq!(upstream.count(&zip_path), 2);
    let (stored, leases) = block_on(async {
        let store = open().await;
        let key = modferry_store::Key::new(zip_key).unwrap();
        let stored = modferry_store::Store::get_bytes(&store, &key, 64 << 20)
            .await
            .unwrap();
        let lease_prefix = modferry_store::layout::meta_prefix("lease").unwrap();
        let leases = modferry_store::Store::list(&store, &lease_prefix)
            .await
            .unwrap();
        (stored, leases)
    });
    assert!(stored.is_some_and(|b| b == want), "stored zip differs");
    assert!(leases.is_empty(), "{leases:?}");
    assert_eq!(raw(&claim), Some(404), "the upload claim is left behind");
}

/// The bytes stored at `key` under `prefix`, read through the store crate.
fn bucket_get(sw: &seaweed::Seaweed, prefix: &str, key: &str) -> Option<Vec<u8>> {
    block_on(async {
        let store = modferry_store::S3Store::open(sw.config(prefix))
            .await
            .unwrap();
        let key = modferry_store::Key::new(key).unwrap();
        modferry_store::Store::get_bytes(&store, &key, 64 << 20)
            .await
            .unwrap()
            .map(|b| b.to_vec())
    })
}

/// Writes `bytes` at `key` under `prefix` create-only, as another writer would.
fn bucket_create(sw: &seaweed::Seaweed, prefix: &str, key: &str, bytes: &[u8]) {
    use modferry_store::{Key, Payload, PutMode, PutOutcome, S3Store, Store};
    let outcome = block_on(async {
        let store = S3Store::open(sw.config(prefix)).await.unwrap();
        let body = Payload::Bytes(bytes::Bytes::copy_from_slice(bytes));
        store
            .put(&Key::new(key).unwrap(), body, PutMode::Create)
            .await
            .unwrap()
    });
    assert_eq!(outcome, PutOutcome::Created, "{key} was already there");
}

/// `text` without ANSI colour sequences (`ESC [ … m`), as a log file written by a replica has
/// them around levels and field names.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `modferry_immutable_conflicts_total` of a replica's `/metrics`.
fn conflicts(url: &str) -> u64 {
    let text = String::from_utf8(get(url, "/metrics").body).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("modferry_immutable_conflicts_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no conflict counter in {text}"))
}

/// Another writer stores different content at a module file's key while a replica fetches it
/// from the upstream: the replica's create-only write finds it, raises the alarm (an `error`
/// log line with `alarm=true`, the `/metrics` counter) and never overwrites it. A different
/// `.mod` or a different valid zip is kept and served (the go command's go.sum and checksum
/// database check reject it); an object that is not a zip at all is never served as one.
#[test]
fn immutable_conflicts_raise_the_alarm_and_never_overwrite() {
    let sw = seaweed::shared();
    let (rival, junk, modc) = (
        "example.com/conflict/rival",
        "example.com/conflict/junk",
        "example.com/conflict/mod",
    );
    let world = build_world(&[
        small_module(rival, "rival"),
        small_module(junk, "junk"),
        small_module(modc, "modc"),
    ]);
    // A valid zip of the same module version with other content.
    let other = build_world(&[Module {
        files: vec![
            (
                "go.mod",
                format!("module {rival}\n\ngo 1.21\n").into_bytes(),
            ),
            (
                "lib.go",
                b"package rival\n\nconst Rewritten = true\n".to_vec(),
            ),
        ],
        ..small_module(rival, "rival")
    }]);
    let upstream = Upstream::start(&world, 1.5, 0.0);
    let prefix = "replicas-conflict";
    let r = replica(world.dir.path(), &sw.endpoint(), prefix, &upstream.proc.url);
    assert_eq!(conflicts(&r.url), 0);
    let key_of = |path: &str| path.trim_start_matches('/').to_owned();

    // 1. A different .mod stored before the replica fetches .info and .mod.
    let mod_path = World::url_path(modc, "v1.0.0", "mod");
    let planted_mod = format!("module {modc}\n\ngo 1.22\n").into_bytes();
    bucket_create(sw, prefix, &key_of(&mod_path), &planted_mod);
    let info = get(&r.url, &World::url_path(modc, "v1.0.0", "info"));
    assert_eq!(info.status, 200, "{}", r.log_text());
    assert_eq!(info.body, world.file(modc, "v1.0.0", "info"));
    assert_eq!(conflicts(&r.url), 1, "{}", r.log_text());
    let served = get(&r.url, &mod_path);
    assert_eq!(served.status, 200);
    assert_eq!(served.body, planted_mod, "the stored .mod is served");
    assert_eq!(
        bucket_get(sw, prefix, &key_of(&mod_path)),
        Some(planted_mod)
    );

    // The upstream holds each zip 1.5 s: another writer stores first meanwhile.
    let fetch_with_rival_write = |module: &str, planted: &[u8]| -> Resp {
        let path = World::url_path(module, "v1.0.0", "zip");
        let client = {
            let (url, path) = (r.url.clone(), path.clone());
            std::thread::spawn(move || get(&url, &path))
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while upstream.count(&path) == 0 {
            assert!(Instant::now() < deadline, "no zip fetch: {}", r.log_text());
            std::thread::sleep(Duration::from_millis(20));
        }
        bucket_create(sw, prefix, &key_of(&path), planted);
        client.join().unwrap()
    };

    // 2. A different valid zip: kept, .ziphash describes it, served.
    let rival_zip = other.file(rival, "v1.0.0", "zip");
    assert_ne!(rival_zip, world.file(rival, "v1.0.0", "zip"));
    let resp = fetch_with_rival_write(rival, &rival_zip);
    assert_eq!(resp.status, 200, "{}", r.log_text());
    assert!(resp.body == rival_zip, "the stored zip is served");
    assert_eq!(conflicts(&r.url), 2, "{}", r.log_text());
    let zip_key = key_of(&World::url_path(rival, "v1.0.0", "zip"));
    assert!(bucket_get(sw, prefix, &zip_key) == Some(rival_zip));
    let hash_key = key_of(&World::url_path(rival, "v1.0.0", "ziphash"));
    assert_eq!(
        bucket_get(sw, prefix, &hash_key),
        Some(other.sums[0].2.clone().into_bytes())
    );
    let log = strip_ansi(&r.log_text());
    let alarm = log
        .lines()
        .find(|l| l.contains("immutable file conflict") && l.contains(&zip_key))
        .unwrap_or_else(|| panic!("no alarm for {zip_key}: {log}"));
    assert!(
        alarm.contains("ERROR") && alarm.contains("alarm=true"),
        "{alarm}"
    );

    // 3. Not a zip at all: refused with a one-line reason (and the alarm), now and later,
    //    and left as it is.
    let junk_bytes = b"not a zip, written by someone else\n".to_vec();
    let junk_path = World::url_path(junk, "v1.0.0", "zip");
    let first = fetch_with_rival_write(junk, &junk_bytes);
    let again = get(&r.url, &junk_path);
    for resp in [&first, &again] {
        let body = String::from_utf8_lossy(&resp.body);
        assert_eq!(resp.status, 500, "{body}\n{}", r.log_text());
        assert_eq!(body.lines().count(), 1, "{body}");
        assert!(body.contains("not a module zip"), "{body}");
    }
    assert_eq!(conflicts(&r.url), 3, "{}", r.log_text());
    assert_eq!(
        bucket_get(sw, prefix, &key_of(&junk_path)),
        Some(junk_bytes)
    );
    let junk_hash = key_of(&World::url_path(junk, "v1.0.0", "ziphash"));
    assert_eq!(bucket_get(sw, prefix, &junk_hash), None);
    assert_eq!(upstream.count(&junk_path), 1);
}

/// Replica A takes the fetch lease on a zip and is killed (SIGKILL) while its upstream holds
/// the answer, so its lease stays in the bucket. Replica B, asked for the same zip, waits while
/// that lease is live, takes it over once it has expired, fetches the zip from the upstream
/// exactly once and serves the right bytes; no lease is left behind.
#[test]
fn a_killed_replicas_lease_is_taken_over_once_it_expires() {
    let sw = seaweed::shared();
    let m = "example.com/takeover";
    let world = build_world(&[small_module(m, "takeover")]);
    // Same files; A's upstream holds every zip for 10 minutes, B's answers at once.
    let hanging = Upstream::start(&world, 600.0, 0.0);
    let prompt = Upstream::start(&world, 0.0, 0.0);
    let prefix = "replicas-takeover";
    let ttl = [("MODFERRY_LEASE_TTL", "3s")];
    let dir = world.dir.path();
    let mut a = replica_with_env(dir, &sw.endpoint(), prefix, &hanging.proc.url, &ttl);
    let b = replica_with_env(dir, &sw.endpoint(), prefix, &prompt.proc.url, &ttl);
    let zip_path = World::url_path(m, "v1.0.0", "zip");
    let want = world.file(m, "v1.0.0", "zip");

    // A stores .info and .mod, takes the zip's lease and waits for its upstream.
    let a_client = {
        let addr = a.url.trim_start_matches("http://").to_owned();
        let path = zip_path.clone();
        std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(&addr).unwrap();
            write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf);
            buf
        })
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while hanging.count(&zip_path) == 0 {
        assert!(Instant::now() < deadline, "A never asked: {}", a.log_text());
        std::thread::sleep(Duration::from_millis(20));
    }
    let lease_key = format!(".modferry/meta/lease/{}", zip_path.trim_start_matches('/'));
    let lease = bucket_get(sw, prefix, &lease_key).expect("A's lease in the bucket");
    let lease = String::from_utf8(lease).unwrap();
    let expires_ms: u64 = lease
        .lines()
        .find_map(|l| l.strip_prefix("expires "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("lease body {lease:?}"));
    let expires = std::time::UNIX_EPOCH + Duration::from_millis(expires_ms);
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    let cut = a_client.join().unwrap();
    assert!(
        !cut.starts_with(b"HTTP/1.1 200"),
        "A answered before it died"
    );

    // B, asked while A's lease is live, waits for it to expire, then fetches.
    let asked = std::time::SystemTime::now();
    assert!(asked < expires, "B was asked only after A's lease expired");
    let resp = get_within(&b.url, &zip_path, Duration::from_secs(20), || b.log_text());
    let answered = std::time::SystemTime::now();
    assert_eq!(resp.status, 200, "{}", b.log_text());
    assert!(resp.body == want, "B served other bytes");
    assert!(
        answered >= expires,
        "B fetched while A's lease was live: {}",
        b.log_text()
    );
    let late = answered.duration_since(expires).unwrap();
    assert!(
        late < Duration::from_secs(5),
        "B answered {late:?} after expiry"
    );
    assert!(
        strip_ansi(&b.log_text()).contains("taking over an expired lease"),
        "{}",
        b.log_text()
    );
    assert_eq!(hanging.count(&zip_path), 1, "A's fetches");
    assert_eq!(prompt.count(&zip_path), 1, "B's fetches");
    // What A stored before it died is reused.
    assert_eq!(prompt.count(&World::url_path(m, "v1.0.0", "info")), 0);
    let zip_key = zip_path.trim_start_matches('/');
    assert!(bucket_get(sw, prefix, zip_key) == Some(want));
    assert_eq!(
        bucket_get(sw, prefix, &lease_key),
        None,
        "lease left behind"
    );
}

/// Runs `modferry store copy` with the AWS_* variables of the shared SeaweedFS.
fn store_copy(endpoint: &str, from: &str, to: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_modferry"))
        .args(["store", "copy", "--from", from, "--to", to])
        .envs(aws_env(endpoint))
        .output()
        .expect("run modferry store copy")
}

/// Every file under `root` (relative path → bytes), skipping `.modferry/`.
fn tree(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if rel.starts_with(".modferry") {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(root, root, &mut out);
    out
}

#[test]
fn store_copy_round_trips_through_a_bucket_and_refuses_a_corrupt_zip() {
    let sw = seaweed::shared();
    let world = build_world(&[
        small_module("example.com/Upper/Hello", "hello"),
        small_module("example.com/other", "other"),
    ]);
    // The upstream directory is a store layout (without .ziphash files).
    let src = world.upstream();
    let bucket = format!("s3://{}/replicas-copy", seaweed::BUCKET);
    let back = world.dir.path().join("back");
    let show = |o: &std::process::Output| {
        format!(
            "stdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    let out = store_copy(&sw.endpoint(), src.to_str().unwrap(), &bucket);
    assert!(out.status.success(), "{}", show(&out));
    let out = store_copy(&sw.endpoint(), &bucket, back.to_str().unwrap());
    assert!(out.status.success(), "{}", show(&out));
    let (want, got) = (tree(&src), tree(&back));
    for (name, bytes) in &want {
        assert_eq!(got.get(name), Some(bytes), "{name}");
    }
    for (p, v, h1, _) in &world.sums {
        let name = World::url_path(p, v, "ziphash");
        let name = name.trim_start_matches('/');
        assert_eq!(
            got.get(name).map(|b| b.as_slice()),
            Some(h1.as_bytes()),
            "{name}"
        );
    }
    // `verify --store s3://…` recomputes every hash through the Store trait.
    let out = Command::new(env!("CARGO_BIN_EXE_modferry"))
        .args(["verify", "--store", &bucket])
        .envs(aws_env(&sw.endpoint()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("verified 2 module versions: 0 mismatches"),
        "{}",
        show(&out)
    );
    // Again: everything is present, nothing copied, exit 0.
    let out = store_copy(&sw.endpoint(), back.to_str().unwrap(), &bucket);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(": 0 copied"),
        "{}",
        show(&out)
    );

    // A corrupt zip is refused by name, the rest is copied, exit 1.
    let bad = world.dir.path().join("bad");
    let good_zip = World::url_path("example.com/other", "v1.0.0", "zip");
    for (name, bytes) in &want {
        let p = bad.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let mut bytes = bytes.clone();
        if format!("/{name}") == good_zip {
            // Cut short: the central directory is gone.
            bytes.truncate(bytes.len() - 30);
        }
        std::fs::write(p, bytes).unwrap();
    }
    let target = world.dir.path().join("target");
    let out = store_copy(
        &sw.endpoint(),
        bad.to_str().unwrap(),
        target.to_str().unwrap(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let text = show(&out);
    assert!(
        text.contains(&format!("refused: {}", good_zip.trim_start_matches('/'))),
        "{text}"
    );
    assert!(!target.join(good_zip.trim_start_matches('/')).exists());
    let hello_zip = World::url_path("example.com/Upper/Hello", "v1.0.0", "zip");
    assert!(target.join(hello_zip.trim_start_matches('/')).exists());
}

#[test]
fn wrong_credentials_fail_at_startup_naming_endpoint_and_bucket() {
    let sw = seaweed::shared();
    let dir = tempfile::tempdir().unwrap();
    let mut env = aws_env(&sw.endpoint());
    env.retain(|(k, _)| *k != "AWS_SECRET_ACCESS_KEY");
    env.push(("AWS_SECRET_ACCESS_KEY", "wrong-secret".to_owned()));
    let out = Command::new(env!("CARGO_BIN_EXE_modferry"))
        .args(["serve", "--listen", "127.0.0.1:0", "--upstream", "off"])
        .args(["--store", &format!("s3://{}/creds", seaweed::BUCKET)])
        .args(["--git-cache", dir.path().to_str().unwrap()])
        .env_remove("MODFERRY_CONFIG")
        .envs(env)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&sw.endpoint()), "{err}");
    assert!(err.contains(seaweed::BUCKET), "{err}");
}

/// The own checksum database on a bucket with several writers (separate store clients, as
/// separate replicas have): leases decide who appends, the head's `If-Match` swap fences the
/// rest (one writer runs without a lease, so only the swap protects it). Every record ends up
/// committed exactly once and the log audits clean.
#[test]
fn own_sumdb_on_a_bucket_has_one_writer_at_a_time() {
    use modferry_formats::note::{self, Signer};
    use modferry_service::sumdb::own::{Appended, GoSumRecord, Log, audit};
    use modferry_store::{DynStore, S3Store};
    use std::sync::Arc;

    const WRITERS: usize = 3;
    const RECORDS: usize = 8;
    let sw = seaweed::shared();
    let signer = || {
        let (skey, _) = note::generate_key("sumdb.example.internal", [9; 32]).unwrap();
        Signer::parse(&skey).unwrap()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let open_store = || async {
            let s: DynStore = Arc::new(S3Store::open(sw.config("sumdb-writers")).await.unwrap());
            s
        };
        let mut logs = Vec::new();
        for w in 0..WRITERS {
            let lease = (w > 0).then_some(Duration::from_secs(10));
            let log = Log::open_with_lease(open_store().await, signer(), lease)
                .await
                .unwrap();
            logs.push(Arc::new(log));
        }
        let mut tasks = Vec::new();
        for (w, log) in logs.iter().enumerate() {
            let log = Arc::clone(log);
            tasks.push(tokio::spawn(async move {
                let mut ids = Vec::new();
                for i in 0..RECORDS {
                    let n = (i * (w + 1) + w) % RECORDS;
                    let rec = GoSumRecord {
                        module: format!("example.com/s3/m{n}"),
                        version: "v1.0.0".to_owned(),
                        zip_h1: format!("h1:zip{n}="),
                        mod_h1: format!("h1:mod{n}="),
                    };
                    let id = match log.append(&rec).await.unwrap() {
                        Appended::New(id) | Appended::Existing(id) => id,
                    };
                    ids.push((rec.module, id));
                }
                ids
            }));
        }
        let mut ids = std::collections::HashMap::new();
        for t in tasks {
            for (module, id) in t.await.unwrap() {
                let prev = ids.insert(module.clone(), id);
                assert!(prev.is_none_or(|p| p == id), "{module} got two ids");
            }
        }
        assert_eq!(ids.len(), RECORDS);
        let store = open_store().await;
        let report = audit(&store, &signer().verifier(), false).await.unwrap();
        assert!(report.ok(), "{:?}", report.problems);
        assert_eq!(report.size, RECORDS as i64, "each record exactly once");
        // A replica that only reads picks up the others' appends from the head object.
        let reader = Log::open(open_store().await, signer()).await.unwrap();
        for log in logs.iter().map(|l| l.as_ref()).chain([&reader]) {
            log.refresh().await.unwrap();
            assert_eq!(log.tree().n, RECORDS as i64);
            for (module, id) in &ids {
                assert_eq!(log.lookup(module, "v1.0.0").map(|(i, _)| i), Some(*id));
            }
        }
    });
}
