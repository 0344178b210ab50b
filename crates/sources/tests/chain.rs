//! ChainSource over scripted upstreams: Go's TryProxies fall-through rules, the order of
//! attempts, the error reported, and zip restarts.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use common::{Reply, Upstream, closed_port};
use modferry_sources::{
    ChainSource, ConfigError, DynSource, GOPROXY_OFF_REASON, HttpConfig, ProxySource, Source,
    SourceError, ZipSink,
};

const INFO: &str = r#"{"Version":"v1.0.0"}"#;

fn cfg() -> HttpConfig {
    HttpConfig {
        connect_timeout: Duration::from_secs(2),
        request_timeout_small: Duration::from_millis(500),
        idle_read_timeout: Duration::from_millis(500),
        ..HttpConfig::default()
    }
}

async fn serving(reply: Reply) -> Upstream {
    Upstream::start(move |_: &str| reply.clone()).await
}

fn ok_info() -> Reply {
    Reply::status("200 OK", Some("application/json"), INFO)
}

fn server_error() -> Reply {
    Reply::status("500 Internal Server Error", Some("text/plain"), "boom")
}

fn chain(list: &str) -> ChainSource {
    ChainSource::from_proxy_list(list, &cfg(), None).expect("valid GOPROXY")
}

#[tokio::test]
async fn comma_falls_through_on_404_and_410_only() {
    let a = serving(Reply::not_found("no such module")).await;
    let b = serving(Reply::status("410 Gone", Some("text/plain"), "gone")).await;
    let c = serving(ok_info()).await;
    let list = format!("{},{},{}", a.url(""), b.url(""), c.url(""));
    let body = chain(&list)
        .info("example.com/m", "v1.0.0")
        .await
        .expect("c answers");
    assert_eq!(&body[..], INFO.as_bytes());
    assert_eq!((a.count(), b.count(), c.count()), (1, 1, 1));

    let a = serving(server_error()).await;
    let b = serving(ok_info()).await;
    let list = format!("{},{}", a.url(""), b.url(""));
    let err = chain(&list)
        .info("example.com/m", "v1.0.0")
        .await
        .expect_err("500 stops");
    assert!(
        matches!(err, SourceError::Status { status: 500, .. }),
        "{err:?}"
    );
    assert_eq!((a.count(), b.count()), (1, 0));
}

#[tokio::test]
async fn pipe_falls_through_on_any_error() {
    let a = serving(server_error()).await;
    let dead = closed_port().await;
    let slow = serving(ok_info().after(Duration::from_secs(3))).await;
    let d = serving(ok_info()).await;
    let list = format!("{}|http://{dead}|{}|{}", a.url(""), slow.url(""), d.url(""));
    let body = chain(&list)
        .latest("example.com/m")
        .await
        .expect("d answers");
    assert_eq!(&body[..], INFO.as_bytes());
    assert_eq!((a.count(), slow.count(), d.count()), (1, 1, 1));
}

#[tokio::test]
async fn separator_belongs_to_the_entry_before_it() {
    // a|b,c: a falls through on anything, b only on 404.
    let a = serving(server_error()).await;
    let b = serving(server_error()).await;
    let c = serving(ok_info()).await;
    let list = format!("{}|{},{}", a.url(""), b.url(""), c.url(""));
    let err = chain(&list)
        .info("example.com/m", "v1.0.0")
        .await
        .expect_err("b stops");
    assert!(
        matches!(err, SourceError::Status { status: 500, .. }),
        "{err:?}"
    );
    assert_eq!((a.count(), b.count(), c.count()), (1, 1, 0));
}

#[tokio::test]
async fn off_stops_the_list_and_reports_goproxy_off_after_not_found() {
    let a = serving(Reply::not_found("nope")).await;
    let err = chain(&format!("{},off", a.url("")))
        .list("example.com/m")
        .await
        .expect_err("off");
    assert!(matches!(&err, SourceError::Disabled { reason } if reason == GOPROXY_OFF_REASON));
    assert!(err.is_not_found());

    // A proxy error beats off's "not found" (Go's error ranking).
    let a = serving(server_error()).await;
    let err = chain(&format!("{}|off", a.url("")))
        .list("example.com/m")
        .await
        .expect_err("500");
    assert!(
        matches!(err, SourceError::Status { status: 500, .. }),
        "{err:?}"
    );

    // Entries after off are never asked (parse_proxy_list drops them).
    let a = serving(Reply::not_found("nope")).await;
    let b = serving(ok_info()).await;
    let c = chain(&format!("{},off,{}", a.url(""), b.url("")));
    assert_eq!(c.entries().len(), 2);
    c.info("example.com/m", "v1.0.0").await.expect_err("off");
    assert_eq!(b.count(), 0);

    let err = chain("off")
        .info("example.com/m", "v1.0.0")
        .await
        .expect_err("off");
    assert!(matches!(err, SourceError::Disabled { .. }));
}

#[tokio::test]
async fn best_error_is_last_proxy_error_else_last_not_found() {
    let a = serving(server_error()).await;
    let b = serving(Reply::not_found("b does not have it")).await;
    let err = chain(&format!("{}|{}", a.url(""), b.url("")))
        .info("example.com/m", "v1.0.0")
        .await
        .expect_err("all fail");
    assert!(
        matches!(err, SourceError::Status { status: 500, .. }),
        "{err:?}"
    );

    let a = serving(Reply::not_found("a does not have it")).await;
    let b = serving(Reply::not_found("b does not have it")).await;
    let err = chain(&format!("{},{}", a.url(""), b.url("")))
        .info("example.com/m", "v1.0.0")
        .await
        .expect_err("all 404");
    assert!(
        matches!(&err, SourceError::NotFound { reason, .. } if reason == "b does not have it"),
        "{err:?}"
    );

    let a = serving(Reply::status("502 Bad Gateway", None, "")).await;
    let b = serving(server_error()).await;
    let err = chain(&format!("{}|{}", a.url(""), b.url("")))
        .info("example.com/m", "v1.0.0")
        .await
        .expect_err("all fail");
    assert!(
        matches!(err, SourceError::Status { status: 500, .. }),
        "{err:?}"
    );
}

/// A stand-in for the future version-control source.
struct FakeDirect {
    calls: AtomicUsize,
}

impl FakeDirect {
    fn err(&self) -> SourceError {
        self.calls.fetch_add(1, Ordering::SeqCst);
        SourceError::NotFound {
            url: "git".into(),
            status: 404,
            reason: "unknown revision v1.0.0".into(),
        }
    }
}

#[async_trait::async_trait]
impl Source for FakeDirect {
    fn describe(&self) -> String {
        "direct".into()
    }
    fn is_direct(&self) -> bool {
        true
    }
    async fn list(&self, _: &str) -> Result<String, SourceError> {
        Err(self.err())
    }
    async fn latest(&self, _: &str) -> Result<Bytes, SourceError> {
        Err(self.err())
    }
    async fn info(&self, _: &str, _: &str) -> Result<Bytes, SourceError> {
        Err(self.err())
    }
    async fn go_mod(&self, _: &str, _: &str) -> Result<Bytes, SourceError> {
        Err(self.err())
    }
    async fn zip(&self, _: &str, _: &str, _: &mut dyn ZipSink, _: u64) -> Result<u64, SourceError> {
        Err(self.err())
    }
}

#[tokio::test]
async fn direct_error_is_reported_over_proxy_errors() {
    let direct = Arc::new(FakeDirect {
        calls: AtomicUsize::new(0),
    });
    let a = serving(server_error()).await;
    let list = format!("{}|direct", a.url(""));
    let c = ChainSource::from_proxy_list(&list, &cfg(), Some(direct.clone() as DynSource))
        .expect("valid");
    assert_eq!(c.describe(), format!("{}|direct", a.url("")));
    let err = c
        .info("example.com/m", "v1.0.0")
        .await
        .expect_err("all fail");
    assert!(
        matches!(&err, SourceError::NotFound { reason, .. } if reason == "unknown revision v1.0.0"),
        "{err:?}"
    );
    assert_eq!(direct.calls.load(Ordering::SeqCst), 1);
}

#[test]
fn direct_without_a_direct_source_is_a_config_error() {
    let err = ChainSource::from_proxy_list("https://proxy.golang.org,direct", &cfg(), None)
        .expect_err("no direct");
    assert_eq!(err, ConfigError::DirectUnavailable);
    let err = ChainSource::from_proxy_list(" , ", &cfg(), None).expect_err("empty");
    assert!(matches!(err, ConfigError::EmptyList { .. }));
}

#[tokio::test]
async fn zip_fall_through_after_partial_write_restarts_from_zero() {
    let a = serving(Reply::truncated(10_000, vec![0xAAu8; 3000])).await;
    let b = serving(Reply::ok(b"the real zip".to_vec())).await;
    let list = format!("{}|{}", a.url(""), b.url(""));
    let c = chain(&list);

    // On its own, a leaves a partial download behind.
    let alone = ProxySource::new(&a.url(""), &cfg()).expect("a");
    let mut partial = Vec::new();
    alone
        .zip("example.com/m", "v1.0.0", &mut partial, 1 << 20)
        .await
        .expect_err("truncated");
    assert_eq!(partial.len(), 3000);

    let mut mem = Vec::new();
    let n = c
        .zip("example.com/m", "v1.0.0", &mut mem, 1 << 20)
        .await
        .expect("b");
    assert_eq!(n, 12);
    assert_eq!(mem, b"the real zip");

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dl.zip");
    let mut file = tokio::fs::File::create(&path).await.expect("create");
    c.zip("example.com/m", "v1.0.0", &mut file, 1 << 20)
        .await
        .expect("b");
    drop(file);
    assert_eq!(tokio::fs::read(&path).await.expect("read"), b"the real zip");
    assert_eq!((a.count(), b.count()), (3, 2));
}

#[tokio::test]
async fn local_errors_stop_even_after_pipe() {
    let a = serving(ok_info()).await;
    let b = serving(ok_info()).await;
    let c = chain(&format!("{}|{}", a.url(""), b.url("")));
    let err = c.list("Example.com/../x").await.expect_err("bad path");
    assert!(matches!(err, SourceError::InvalidPath { .. }), "{err:?}");
    assert_eq!((a.count(), b.count()), (0, 0));
}

#[tokio::test]
async fn chain_of_explicit_sources_tries_in_order() {
    let a = serving(Reply::not_found("a")).await;
    let b = serving(ok_info()).await;
    let sa: DynSource = Arc::new(ProxySource::new(&a.url("/x/"), &cfg()).expect("a"));
    let sb: DynSource = Arc::new(ProxySource::new(&b.url(""), &cfg()).expect("b"));
    let c = ChainSource::new(vec![(sa, false), (sb, false)]);
    for _ in 0..3 {
        c.info("example.com/m", "v1.0.0").await.expect("b answers");
    }
    assert_eq!(a.targets(), vec!["/x/example.com/m/@v/v1.0.0.info"; 3]);
    assert_eq!(b.count(), 3);

    let empty = ChainSource::new(Vec::new());
    let err = empty
        .list("example.com/m")
        .await
        .expect_err("nothing configured");
    assert!(matches!(err, SourceError::Disabled { .. }));
}
