//! ProxySource against scripted upstreams on 127.0.0.1: what is requested, and how every kind of
//! answer (good, 404/410 with reasons, 5xx, slow, truncated, oversized, redirected) comes back.

mod common;

use std::time::Duration;

use common::{Reply, Upstream, closed_port};
use modferry_sources::{HttpConfig, MAX_INFO_SIZE, ProxySource, Source, SourceError};

const INFO: &str = r#"{"Version":"v1.0.0","Time":"2024-01-02T03:04:05Z"}"#;

fn cfg() -> HttpConfig {
    HttpConfig {
        connect_timeout: Duration::from_secs(2),
        request_timeout_small: Duration::from_millis(800),
        idle_read_timeout: Duration::from_millis(800),
        ..HttpConfig::default()
    }
}

fn source(up: &Upstream, path: &str) -> ProxySource {
    ProxySource::new(&up.url(path), &cfg()).expect("valid base URL")
}

/// Serves a small fixed module at any prefix.
fn good(target: &str) -> Reply {
    let path = target.split('?').next().unwrap_or(target);
    if path.ends_with("/@v/list") {
        Reply::status("200 OK", Some("text/plain"), "v1.0.0\nv1.1.0\n")
    } else if path.ends_with("/@latest") || path.ends_with(".info") {
        Reply::status("200 OK", Some("application/json"), INFO)
    } else if path.ends_with(".mod") {
        Reply::ok("module example.com/m\n")
    } else if path.ends_with(".zip") {
        Reply::ok(vec![7u8; 5000])
    } else {
        Reply::not_found("not found")
    }
}

#[tokio::test]
async fn good_responses_are_returned_unchanged() {
    let up = Upstream::start(good).await;
    let s = source(&up, "");
    assert_eq!(
        s.list("example.com/m").await.expect("list"),
        "v1.0.0\nv1.1.0\n"
    );
    assert_eq!(
        &s.latest("example.com/m").await.expect("latest")[..],
        INFO.as_bytes()
    );
    assert_eq!(
        &s.info("example.com/m", "v1.0.0").await.expect("info")[..],
        INFO.as_bytes()
    );
    assert_eq!(
        &s.go_mod("example.com/m", "v1.0.0").await.expect("mod")[..],
        b"module example.com/m\n"
    );
    let mut zip = Vec::new();
    let n = s
        .zip("example.com/m", "v1.0.0", &mut zip, 1 << 20)
        .await
        .expect("zip");
    assert_eq!(n, 5000);
    assert_eq!(zip, vec![7u8; 5000]);
    assert_eq!(
        up.targets(),
        [
            "/example.com/m/@v/list",
            "/example.com/m/@latest",
            "/example.com/m/@v/v1.0.0.info",
            "/example.com/m/@v/v1.0.0.mod",
            "/example.com/m/@v/v1.0.0.zip",
        ]
    );
}

#[tokio::test]
async fn case_encoded_paths_reach_upstream_as_go_sends_them() {
    let up = Upstream::start(good).await;
    for prefix in ["", "/", "/prefix", "/prefix/"] {
        let s = source(&up, prefix);
        s.info("example.com/Upper/Mod", "v1.0.0-Pre")
            .await
            .expect("info");
        s.go_mod("example.com/m", "v2.0.0+incompatible")
            .await
            .expect("mod");
        let mut zip = Vec::new();
        s.zip("example.com/m", "v2.0.0+incompatible", &mut zip, 1 << 20)
            .await
            .expect("zip");
        s.info("example.com/m", "a,b").await.expect("query");
    }
    let comma = |p: &str| {
        if p.starts_with("/prefix") {
            "a,b"
        } else {
            "a%2Cb"
        }
    };
    let mut want = Vec::new();
    for p in ["", "", "/prefix", "/prefix"] {
        want.push(format!(
            "{p}/example.com/%21upper/%21mod/@v/v1.0.0-%21pre.info"
        ));
        want.push(format!("{p}/example.com/m/@v/v2.0.0+incompatible.mod"));
        want.push(format!("{p}/example.com/m/@v/v2.0.0+incompatible.zip"));
        want.push(format!("{p}/example.com/m/@v/{}.info", comma(p)));
    }
    assert_eq!(up.targets(), want);
}

#[tokio::test]
async fn base_url_query_and_credentials_are_sent_and_redacted() {
    let up = Upstream::start(good).await;
    let base = format!("http://user:pw@{}/p?token=1", up.addr());
    let s = ProxySource::new(&base, &cfg()).expect("valid");
    assert_eq!(
        s.describe(),
        format!("http://user:xxxxx@{}/p?token=1", up.addr())
    );
    s.list("example.com/m").await.expect("list");
    let head = &up.heads()[0];
    assert!(
        head.starts_with("GET /p/example.com/m/@v/list?token=1 HTTP/1.1\r\n"),
        "{head}"
    );
    // base64("user:pw")
    assert!(
        head.contains("authorization: Basic dXNlcjpwdw==\r\n"),
        "{head}"
    );
    assert!(head.contains("user-agent: modferry/"), "{head}");
}

#[tokio::test]
async fn not_found_404_keeps_first_line_of_plain_text_reason() {
    let up = Upstream::start(|_: &str| {
        Reply::not_found("not found: module example.com/m: no matching versions\nsecond line\n")
    })
    .await;
    let err = source(&up, "")
        .info("example.com/m", "v9.9.9")
        .await
        .expect_err("404");
    assert!(err.is_not_found());
    match &err {
        SourceError::NotFound {
            url,
            status,
            reason,
        } => {
            assert_eq!(*status, 404);
            assert_eq!(
                reason,
                "not found: module example.com/m: no matching versions"
            );
            assert!(url.ends_with("/example.com/m/@v/v9.9.9.info"), "{url}");
        }
        other => panic!("want NotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn gone_410_is_not_found_and_non_text_bodies_give_no_reason() {
    let up =
        Upstream::start(|_: &str| Reply::status("410 Gone", Some("text/html"), "<h1>gone</h1>"))
            .await;
    let err = source(&up, "")
        .go_mod("example.com/m", "v1.0.0")
        .await
        .expect_err("410");
    assert!(err.is_not_found());
    assert!(
        matches!(&err, SourceError::NotFound { status: 410, reason, .. } if reason.is_empty()),
        "{err:?}"
    );
}

#[tokio::test]
async fn other_statuses_are_status_errors_not_not_found() {
    for (status, code) in [
        ("500 Internal Server Error", 500),
        ("403 Forbidden", 403),
        ("204 No Content", 204),
    ] {
        let up = Upstream::start(move |_: &str| {
            Reply::status(status, Some("text/plain"), "upstream broke")
        })
        .await;
        let err = source(&up, "")
            .list("example.com/m")
            .await
            .expect_err("error status");
        assert!(!err.is_not_found());
        match &err {
            SourceError::Status { status, reason, .. } => {
                assert_eq!(*status, code);
                if code != 204 {
                    assert_eq!(reason, "upstream broke");
                }
            }
            other => panic!("want Status, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn slow_small_request_times_out_in_total() {
    // Headers at once, but the body drips past the total timeout of small requests.
    let up =
        Upstream::start(|_: &str| Reply::drip(INFO.as_bytes(), 10, Duration::from_millis(200)))
            .await;
    let err = source(&up, "")
        .info("example.com/m", "v1.0.0")
        .await
        .expect_err("timeout");
    assert!(
        matches!(err, SourceError::Timeout { after, .. } if after == Duration::from_millis(800)),
        "{err:?}"
    );
    let up = Upstream::start(|_: &str| Reply::ok(INFO).after(Duration::from_secs(5))).await;
    let err = source(&up, "")
        .latest("example.com/m")
        .await
        .expect_err("timeout");
    assert!(matches!(err, SourceError::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn zip_has_idle_timeout_not_total_timeout() {
    // 12 pieces, 200 ms apart: 2.4 s in total, far past the 800 ms idle timeout, but never idle
    // for that long.
    let body: Vec<u8> = (0..=255u8).cycle().take(12_000).collect();
    let expect = body.clone();
    let up =
        Upstream::start(move |_: &str| Reply::drip(&body, 12, Duration::from_millis(200))).await;
    let mut zip = Vec::new();
    let n = source(&up, "")
        .zip("example.com/m", "v1.0.0", &mut zip, 1 << 20)
        .await
        .expect("slow but steady zip");
    assert_eq!(n, 12_000);
    assert_eq!(zip, expect);

    // A pause longer than the idle timeout fails.
    let up = Upstream::start(|_: &str| Reply::drip(&[1u8; 100], 2, Duration::from_secs(3))).await;
    let err = source(&up, "")
        .zip("example.com/m", "v1.0.0", &mut Vec::new(), 1 << 20)
        .await
        .expect_err("stalled");
    assert!(matches!(err, SourceError::Timeout { .. }), "{err:?}");

    // So do late headers.
    let up = Upstream::start(|_: &str| Reply::ok("zip").after(Duration::from_secs(3))).await;
    let err = source(&up, "")
        .zip("example.com/m", "v1.0.0", &mut Vec::new(), 1 << 20)
        .await
        .expect_err("no headers");
    assert!(matches!(err, SourceError::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn body_shorter_than_content_length_is_truncated_never_ok() {
    let up = Upstream::start(|_: &str| Reply::truncated(1000, "0123456789")).await;
    let s = source(&up, "");
    let err = s
        .go_mod("example.com/m", "v1.0.0")
        .await
        .expect_err("short mod");
    assert!(
        matches!(
            err,
            SourceError::Truncated {
                expected: 1000,
                got: 10,
                ..
            }
        ),
        "{err:?}"
    );
    let mut zip = Vec::new();
    let err = s
        .zip("example.com/m", "v1.0.0", &mut zip, 1 << 20)
        .await
        .expect_err("short zip");
    assert!(
        matches!(
            err,
            SourceError::Truncated {
                expected: 1000,
                got: 10,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn broken_chunked_body_is_an_io_error() {
    let up = Upstream::start(|_: &str| Reply::broken_chunked(b"partial")).await;
    let err = source(&up, "")
        .list("example.com/m")
        .await
        .expect_err("broken");
    assert!(matches!(err, SourceError::Io { .. }), "{err:?}");
}

#[tokio::test]
async fn oversized_bodies_are_too_large() {
    let big = vec![b'x'; MAX_INFO_SIZE as usize + 1];
    // Declared too large: refused before reading.
    let body = big.clone();
    let up = Upstream::start(move |_: &str| Reply::ok(body.clone())).await;
    let err = source(&up, "")
        .info("example.com/m", "v1.0.0")
        .await
        .expect_err("big");
    assert!(
        matches!(err, SourceError::TooLarge { limit, .. } if limit == MAX_INFO_SIZE),
        "{err:?}"
    );
    // No length: fails once the body passes the limit.
    let up = Upstream::start(move |_: &str| Reply::until_close(big.clone())).await;
    let err = source(&up, "")
        .latest("example.com/m")
        .await
        .expect_err("big");
    assert!(matches!(err, SourceError::TooLarge { .. }), "{err:?}");
}

#[tokio::test]
async fn zip_limit_is_inclusive_and_enforced_with_and_without_length() {
    let up = Upstream::start(|t: &str| {
        if t.contains("v1.0.0") {
            Reply::ok(vec![1u8; 100])
        } else {
            Reply::until_close(vec![1u8; 101])
        }
    })
    .await;
    let s = source(&up, "");
    let mut zip = Vec::new();
    assert_eq!(
        s.zip("example.com/m", "v1.0.0", &mut zip, 100)
            .await
            .expect("fits"),
        100
    );
    let err = s
        .zip("example.com/m", "v1.0.0", &mut Vec::new(), 99)
        .await
        .expect_err("declared too large");
    assert!(
        matches!(err, SourceError::TooLarge { limit: 99, .. }),
        "{err:?}"
    );
    let err = s
        .zip("example.com/m", "v1.1.0", &mut Vec::new(), 100)
        .await
        .expect_err("grows too large");
    assert!(
        matches!(err, SourceError::TooLarge { limit: 100, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn zip_streams_into_a_file() {
    let up = Upstream::start(good).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dl.zip");
    let mut file = tokio::fs::File::create(&path).await.expect("create");
    let n = source(&up, "")
        .zip("example.com/m", "v1.0.0", &mut file, 1 << 20)
        .await
        .expect("zip");
    drop(file);
    assert_eq!(n, 5000);
    assert_eq!(tokio::fs::read(&path).await.expect("read"), vec![7u8; 5000]);
}

#[tokio::test]
async fn refused_connection_is_connect_error() {
    let addr = closed_port().await;
    let s = ProxySource::new(&format!("http://{addr}"), &cfg()).expect("valid");
    let err = s.list("example.com/m").await.expect_err("refused");
    assert!(matches!(err, SourceError::Connect { .. }), "{err:?}");
    assert!(!err.is_not_found());
}

#[tokio::test]
async fn redirects_are_followed() {
    let up = Upstream::start(|t: &str| {
        if t.starts_with("/old/") {
            Reply::redirect(&t.replacen("/old/", "/new/", 1))
        } else {
            good(t)
        }
    })
    .await;
    let body = source(&up, "/old")
        .list("example.com/m")
        .await
        .expect("followed");
    assert_eq!(body, "v1.0.0\nv1.1.0\n");
    assert_eq!(
        up.targets(),
        ["/old/example.com/m/@v/list", "/new/example.com/m/@v/list"]
    );
}

#[tokio::test]
async fn endless_redirects_stop_after_ten() {
    let up = Upstream::start(|t: &str| Reply::redirect(&format!("{t}x"))).await;
    let err = source(&up, "")
        .list("example.com/m")
        .await
        .expect_err("loop");
    assert!(
        matches!(err, SourceError::InvalidResponse { .. }),
        "{err:?}"
    );
    assert_eq!(up.count(), 10);
}

#[tokio::test]
async fn invalid_bodies_are_invalid_responses() {
    let up = Upstream::start(|t: &str| {
        if t.ends_with("list") {
            Reply::ok(vec![0xff, 0xfe])
        } else {
            Reply::status(
                "200 OK",
                Some("text/html"),
                "<html>sign in to the wifi</html>",
            )
        }
    })
    .await;
    let s = source(&up, "");
    let err = s.list("example.com/m").await.expect_err("not utf-8");
    assert!(
        matches!(err, SourceError::InvalidResponse { .. }),
        "{err:?}"
    );
    let err = s
        .info("example.com/m", "v1.0.0")
        .await
        .expect_err("not json");
    assert!(
        matches!(err, SourceError::InvalidResponse { .. }),
        "{err:?}"
    );
    let err = s.latest("example.com/m").await.expect_err("not json");
    assert!(
        matches!(err, SourceError::InvalidResponse { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn malformed_paths_and_versions_send_no_request() {
    let up = Upstream::start(good).await;
    let s = source(&up, "");
    let err = s.list("example.com/../m").await.expect_err("bad path");
    assert!(matches!(err, SourceError::InvalidPath { .. }), "{err:?}");
    assert!(err.is_local());
    let err = s
        .info("example.com/m", "v1.0.0/x")
        .await
        .expect_err("bad version");
    assert!(matches!(err, SourceError::InvalidVersion { .. }), "{err:?}");
    assert_eq!(up.count(), 0);
}

#[test]
fn base_urls_must_be_complete_http_urls() {
    for bad in [
        "proxy.golang.org",
        "ftp://h/",
        "file:///srv/goproxy",
        "http://h:x/",
    ] {
        assert!(
            ProxySource::new(bad, &HttpConfig::default()).is_err(),
            "{bad}"
        );
    }
    let ok = ProxySource::new("https://proxy.golang.org", &HttpConfig::default()).expect("ok");
    assert_eq!(ok.describe(), "https://proxy.golang.org");
}
