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
//! - `modferry store copy` fs → s3 → fs gives identical files; a corrupt zip is refused by name.
//!
//! The upstream is a small Python server over a GOPROXY directory (not our code) that counts
//! requests per path and delays answers. Module zips come from Go's own x/mod code (the oracle).

mod util;

#[path = "../../store/tests/common/seaweed.rs"]
mod seaweed;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
        let tree = dir.path().join("trees").join(m.path).join(m.version);
        std::fs::create_dir_all(&tree).unwrap();
        for (name, content) in &m.files {
            std::fs::write(tree.join(name), content).unwrap();
        }
        let vdir = upstream.join(escape_path(m.path).unwrap()).join("@v");
        std::fs::create_dir_all(&vdir).unwrap();
        let base = vdir.join(escape_version(m.version).unwrap());
        let zip = PathBuf::from(format!("{}.zip", base.display()));
        oracle(&[
            "create",
            m.path,
            m.version,
            tree.to_str().unwrap(),
            zip.to_str().unwrap(),
        ]);
        let mod_file = PathBuf::from(format!("{}.mod", base.display()));
        std::fs::copy(tree.join("go.mod"), &mod_file).unwrap();
        std::fs::write(
            format!("{}.info", base.display()),
            format!(
                "{{\"Version\":\"{}\",\"Time\":\"2024-01-02T03:04:05Z\"}}\n",
                m.version
            ),
        )
        .unwrap();
        std::fs::write(vdir.join("list"), format!("{}\n", m.version)).unwrap();
        let h1 = oracle(&["hashzip", zip.to_str().unwrap()]);
        let mod_h1 = oracle(&["hashmod", mod_file.to_str().unwrap()]);
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
