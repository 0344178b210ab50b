//! The caching relay, tested against a fault-injecting upstream on 127.0.0.1. Each test is
//! named after the rule it checks. Fault tests show the store byte-identical after the failure
//! and the same module arriving intact once the upstream heals.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use bytes::Bytes;
use common::*;

fn body_text(b: &Bytes) -> String {
    String::from_utf8_lossy(b).into_owned()
}

async fn setup() -> (Upstream, Harness, Module) {
    let up = Upstream::start().await;
    let h = Harness::new(Some(&up.url), false);
    let m = Module::new(
        "example.com/hello",
        "v1.0.0",
        &[("hello.go", b"package hello\n")],
    );
    (up, h, m)
}

/// A zip fault must leave the store as it was (after .info/.mod were stored), and the same
/// request must succeed once the upstream serves the right bytes.
async fn zip_fault_then_heal(fault: Reply, want_status: StatusCode, want_reason: &str) {
    let (up, h, m) = setup().await;
    up.serve_module(&m);
    let (st, _, _) = h.get(&m.url("mod")).await;
    assert_eq!(st, StatusCode::OK);
    let before = h.snapshot();

    up.set(&m.url("zip"), fault);
    let (st, hd, body) = h.get(&m.url("zip")).await;
    assert_eq!(st, want_status, "body: {}", body_text(&body));
    assert!(
        body_text(&body).contains(want_reason),
        "reason {:?} not in {:?}",
        want_reason,
        body_text(&body)
    );
    assert!(
        hd["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(body_text(&body).lines().count(), 1, "one-line reason");
    assert_eq!(h.snapshot(), before, "store changed by a failed fetch");

    up.set(&m.url("zip"), Reply::Ok(m.zip.clone()));
    let (st, _, body) = h.get(&m.url("zip")).await;
    assert_eq!(st, StatusCode::OK, "{}", body_text(&body));
    assert_eq!(body, m.zip, "the healed zip arrives intact");
}

#[tokio::test]
async fn relay_rejects_truncated_zip_body() {
    let (_, _, m) = setup().await;
    let half = m.zip.slice(..m.zip.len() / 2);
    zip_fault_then_heal(
        Reply::Truncated {
            body: half,
            declared: m.zip.len() as u64,
        },
        StatusCode::BAD_GATEWAY,
        "example.com/hello@v1.0.0",
    )
    .await;
}

#[tokio::test]
async fn relay_maps_upstream_5xx_to_502() {
    zip_fault_then_heal(
        Reply::Status(500, "internal trouble"),
        StatusCode::BAD_GATEWAY,
        "500",
    )
    .await;
}

#[tokio::test]
async fn relay_rejects_zip_with_corrupted_bytes_crc() {
    let path = "example.com/hello";
    let prefix = format!("{path}@v1.0.0/");
    let go_mod = format!("module {path}\n\ngo 1.21\n");
    let files = vec![
        ("go.mod".to_string(), go_mod.clone().into_bytes()),
        (
            "hello.go".to_string(),
            b"package hello\n// some text to corrupt\n".to_vec(),
        ),
    ];
    let mut zip = zip_of(&prefix, &files, true);
    let pos = zip
        .windows(b"corrupt".len())
        .position(|w| w == b"corrupt")
        .expect("stored content is visible");
    zip[pos] ^= 0x20;
    zip_fault_then_heal(Reply::Ok(Bytes::from(zip)), StatusCode::BAD_GATEWAY, "zip").await;
}

#[tokio::test]
async fn relay_rejects_zip_with_wrong_prefix() {
    let go_mod = "module example.com/hello\n\ngo 1.21\n".to_string();
    let files = vec![("go.mod".to_string(), go_mod.into_bytes())];
    let zip = zip_of("example.com/other@v1.0.0/", &files, false);
    zip_fault_then_heal(
        Reply::Ok(Bytes::from(zip)),
        StatusCode::BAD_GATEWAY,
        "example.com/other@v1.0.0/",
    )
    .await;
}

#[tokio::test]
async fn relay_rejects_zip_whose_go_mod_differs_from_mod() {
    let files = vec![(
        "go.mod".to_string(),
        b"module example.com/hello\n\ngo 1.22\n".to_vec(),
    )];
    let zip = zip_of("example.com/hello@v1.0.0/", &files, false);
    zip_fault_then_heal(
        Reply::Ok(Bytes::from(zip)),
        StatusCode::BAD_GATEWAY,
        "go.mod differs",
    )
    .await;
}

#[tokio::test]
async fn relay_rejects_zip_over_500_mib_uncompressed() {
    // 501 MiB of zeros deflate to about half a megabyte: a small download that would expand
    // past the go command's limit (x/mod zip MaxZipFile).
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1))
        .large_file(false);
    use std::io::Write;
    w.start_file("example.com/hello@v1.0.0/go.mod", opts)
        .unwrap();
    w.write_all(b"module example.com/hello\n\ngo 1.21\n")
        .unwrap();
    w.start_file("example.com/hello@v1.0.0/big.dat", opts)
        .unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..501 {
        w.write_all(&chunk).unwrap();
    }
    let zip = w.finish().unwrap().into_inner();
    assert!(zip.len() < 8 << 20);
    zip_fault_then_heal(
        Reply::Ok(Bytes::from(zip)),
        StatusCode::BAD_GATEWAY,
        "too large",
    )
    .await;
}

#[tokio::test]
async fn relay_rejects_info_naming_another_version() {
    let (up, h, m) = setup().await;
    up.serve_module(&m);
    up.set(
        &m.url("info"),
        Reply::Ok(Bytes::from_static(br#"{"Version":"v1.0.1"}"#)),
    );
    let before = h.snapshot();
    let (st, _, body) = h.get(&m.url("info")).await;
    assert_eq!(st, StatusCode::BAD_GATEWAY);
    assert!(
        body_text(&body).contains("instead of the requested version"),
        "{}",
        body_text(&body)
    );
    assert_eq!(h.snapshot(), before);
    up.set(&m.url("info"), Reply::Ok(m.info.clone()));
    let (st, _, body) = h.get(&m.url("info")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body, m.info);
}

#[tokio::test]
async fn relay_rejects_mod_declaring_another_module_path() {
    let (up, h, m) = setup().await;
    up.serve_module(&m);
    up.set(
        &m.url("mod"),
        Reply::Ok(Bytes::from_static(b"module example.com/impostor\n")),
    );
    let before = h.snapshot();
    let (st, _, body) = h.get(&m.url("mod")).await;
    assert_eq!(st, StatusCode::BAD_GATEWAY);
    assert!(
        body_text(&body).contains("example.com/impostor"),
        "{}",
        body_text(&body)
    );
    assert_eq!(h.snapshot(), before);
    up.set(&m.url("mod"), Reply::Ok(m.go_mod.clone()));
    let (st, _, body) = h.get(&m.url("mod")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body, m.go_mod);
}

#[tokio::test]
async fn relay_maps_upstream_timeout_to_504() {
    let (up, h, m) = setup().await;
    up.serve_module(&m);
    up.set(
        &m.url("info"),
        Reply::Slow(Duration::from_secs(5), m.info.clone()),
    );
    let before = h.snapshot();
    let (st, _, body) = h.get(&m.url("info")).await;
    assert_eq!(st, StatusCode::GATEWAY_TIMEOUT, "{}", body_text(&body));
    assert_eq!(h.snapshot(), before);
}

#[tokio::test]
async fn relay_single_flight_fetches_each_file_once() {
    let (up, h, m) = setup().await;
    up.serve_module(&m);
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let app = h.app.clone();
        let url = m.url("zip");
        tasks.push(tokio::spawn(async move {
            use tower::ServiceExt;
            let req = axum::http::Request::get(url)
                .body(axum::body::Body::empty())
                .unwrap();
            let resp = app.oneshot(req).await.unwrap();
            let st = resp.status();
            let body = http_body_util::BodyExt::collect(resp.into_body())
                .await
                .unwrap()
                .to_bytes();
            (st, body)
        }));
    }
    for t in tasks {
        let (st, body) = t.await.unwrap();
        assert_eq!(st, StatusCode::OK);
        assert_eq!(body, m.zip);
    }
    assert_eq!(up.hits(&m.url("zip")), 1, "zip fetched once");
    assert_eq!(up.hits(&m.url("info")), 1, "info fetched once");
    assert_eq!(up.hits(&m.url("mod")), 1, "mod fetched once");
}

#[tokio::test]
async fn relay_stores_info_mod_zip_in_go_cache_layout() {
    let up = Upstream::start().await;
    let h = Harness::new(Some(&up.url), false);
    let m = Module::new(
        "example.com/Upper/Mod",
        "v1.0.0-Pre",
        &[("a.go", b"package mod\n")],
    );
    up.serve_module(&m);
    let (st, _, body) = h
        .get("/example.com/%21upper/%21mod/@v/v1.0.0-%21pre.zip")
        .await;
    assert_eq!(st, StatusCode::OK, "{}", body_text(&body));
    let root = h.root();
    let dir = root.join("example.com/!upper/!mod/@v");
    assert_eq!(
        std::fs::read(dir.join("v1.0.0-!pre.zip")).unwrap(),
        m.zip.to_vec()
    );
    assert_eq!(
        std::fs::read(dir.join("v1.0.0-!pre.mod")).unwrap(),
        m.go_mod.to_vec()
    );
    assert_eq!(
        std::fs::read(dir.join("v1.0.0-!pre.info")).unwrap(),
        m.info.to_vec()
    );
    let ziphash = std::fs::read_to_string(dir.join("v1.0.0-!pre.ziphash")).unwrap();
    assert!(ziphash.starts_with("h1:"), "{ziphash}");
    assert_eq!(
        std::fs::read_to_string(dir.join("list")).unwrap(),
        "v1.0.0-Pre\n"
    );
}

#[tokio::test]
async fn relay_never_replaces_a_stored_version() {
    let (up, h, m) = setup().await;
    up.serve_module(&m);
    assert_eq!(h.get(&m.url("zip")).await.0, StatusCode::OK);
    let other = Module::new(
        "example.com/hello",
        "v1.0.0",
        &[("hello.go", b"package hello // retagged\n")],
    );
    up.serve_module(&other);
    let (_, _, body) = h.get(&m.url("zip")).await;
    assert_eq!(body, m.zip, "immutable once stored");
    assert_eq!(up.hits(&m.url("zip")), 1);
}

#[tokio::test]
async fn relay_go_mod_only_need_does_not_fetch_the_zip() {
    let (up, h, m) = setup().await;
    up.serve_module(&m);
    assert_eq!(h.get(&m.url("mod")).await.0, StatusCode::OK);
    assert_eq!(h.get(&m.url("info")).await.0, StatusCode::OK);
    assert_eq!(up.hits(&m.url("zip")), 0);
}

#[tokio::test]
async fn relay_passes_not_found_with_reason_as_404() {
    let (up, h, _) = setup().await;
    let (st, hd, body) = h.get("/example.com/missing/@v/v1.0.0.info").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert!(
        hd["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(
        body_text(&body).contains("not found"),
        "{}",
        body_text(&body)
    );
    up.set(
        "/example.com/gone/@v/list",
        Reply::Status(410, "gone for good"),
    );
    let (st, _, _) = h.get("/example.com/gone/@v/list").await;
    assert_eq!(st, StatusCode::GONE);
}

#[tokio::test]
async fn relay_comma_list_falls_through_on_404_only() {
    let a = Upstream::start().await;
    let b = Upstream::start().await;
    let m = Module::new(
        "example.com/hello",
        "v1.0.0",
        &[("hello.go", b"package hello\n")],
    );
    b.serve_module(&m);
    let h = Harness::new(Some(&format!("{},{}", a.url, b.url)), false);
    let (st, _, body) = h.get(&m.url("info")).await;
    assert_eq!(st, StatusCode::OK, "{}", body_text(&body));
    assert_eq!(a.hits(&m.url("info")), 1);

    // A 500 from the first entry stops a ',' list...
    let c = Upstream::start().await;
    c.set("/example.com/x/@v/list", Reply::Status(500, "boom"));
    b.set(
        "/example.com/x/@v/list",
        Reply::Ok(Bytes::from_static(b"v1.0.0\n")),
    );
    let h2 = Harness::new(Some(&format!("{},{}", c.url, b.url)), false);
    assert_eq!(
        h2.get("/example.com/x/@v/list").await.0,
        StatusCode::BAD_GATEWAY
    );
    // ...but not a '|' list.
    let h3 = Harness::new(Some(&format!("{}|{}", c.url, b.url)), false);
    let (st, _, body) = h3.get("/example.com/x/@v/list").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body_text(&body), "v1.0.0\n");
}

#[tokio::test]
async fn list_and_latest_are_cached_for_the_ttl_and_served_stale_on_failure() {
    let (up, h, _) = setup().await;
    up.set(
        "/example.com/x/@v/list",
        Reply::Ok(Bytes::from_static(
            b"v1.0.0\nv1.1.0 2020-01-01T00:00:00Z\njunk\n",
        )),
    );
    up.set(
        "/example.com/x/@latest",
        Reply::Ok(Bytes::from_static(br#"{"Version":"v1.1.0"}"#)),
    );
    for _ in 0..3 {
        let (st, hd, body) = h.get("/example.com/x/@v/list").await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(body_text(&body), "v1.0.0\nv1.1.0\n");
        assert_eq!(hd["cache-control"], "public, max-age=60");
        let (st, _, body) = h.get("/example.com/x/@latest").await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(body_text(&body), r#"{"Version":"v1.1.0"}"#);
    }
    assert_eq!(up.hits("/example.com/x/@v/list"), 1, "cached for the TTL");
    assert_eq!(up.hits("/example.com/x/@latest"), 1, "cached for the TTL");
}

#[tokio::test]
async fn offline_serves_stored_versions_and_404s_misses_without_upstream() {
    let (up, h, m) = setup().await;
    up.serve_module(&m);
    assert_eq!(h.get(&m.url("zip")).await.0, StatusCode::OK);
    let dir = h.dir;
    let off = Harness::with_dir(dir, Some(&up.url), true);
    let hits_before = up.hits(&m.url("info"));
    let (st, _, body) = off.get("/example.com/hello/@v/list").await;
    assert_eq!(
        (st, body_text(&body).as_str()),
        (StatusCode::OK, "v1.0.0\n")
    );
    let (st, _, body) = off.get("/example.com/hello/@latest").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body, m.info);
    let (st, _, body) = off.get(&m.url("zip")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body, m.zip);
    let (st, _, body) = off.get("/example.com/hello/@v/v1.0.1.info").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert!(
        body_text(&body).contains("not in the mirror"),
        "{}",
        body_text(&body)
    );
    assert_eq!(
        off.get("/example.com/other/@v/list").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        up.hits(&m.url("info")),
        hits_before,
        "offline never goes upstream"
    );
    assert_eq!(up.hits("/example.com/other/@v/list"), 0);
}

#[tokio::test]
async fn bad_requests_get_400_with_a_reason() {
    let h = Harness::new(None, true);
    for path in [
        "/example.com/a/../b/@v/list",
        "/example.com/Upper/@v/list",
        "/example.com/a/@v/v1.0.0.ziphash",
        "/example.com/a/@v/%zz",
        "/example.com/a/@v/v1.0.0%00.info",
        "/nodot/@v/list",
        "/example.com/a/@v/",
    ] {
        let (st, hd, body) = h.get(path).await;
        assert!(
            st == StatusCode::BAD_REQUEST || st == StatusCode::NOT_FOUND,
            "{path}: {st}"
        );
        assert!(!body.is_empty(), "{path}: empty reason");
        assert!(
            hd["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain"),
            "{path}"
        );
    }
    let long = format!("/example.com/{}/@v/list", "a".repeat(5000));
    assert_eq!(h.get(&long).await.0, StatusCode::BAD_REQUEST);
    let (st, _, _) = h.request("POST", "/example.com/a/@v/list", &[]).await;
    assert_eq!(st, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn zip_responses_support_range_etag_head_and_immutable_caching() {
    let (up, h, m) = setup().await;
    up.serve_module(&m);
    let (st, hd, body) = h.get(&m.url("zip")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(hd["content-length"], m.zip.len().to_string());
    assert_eq!(hd["cache-control"], "public, max-age=604800, immutable");
    assert_eq!(hd["accept-ranges"], "bytes");
    assert_eq!(body, m.zip);
    let etag = hd["etag"].to_str().unwrap().to_string();

    let (st, hd, body) = h
        .request("GET", &m.url("zip"), &[("range", "bytes=2-9")])
        .await;
    assert_eq!(st, StatusCode::PARTIAL_CONTENT);
    assert_eq!(hd["content-range"], format!("bytes 2-9/{}", m.zip.len()));
    assert_eq!(body, m.zip.slice(2..10));

    let (st, _, _) = h
        .request(
            "GET",
            &m.url("zip"),
            &[("range", &format!("bytes={}-", m.zip.len() + 10))],
        )
        .await;
    assert_eq!(st, StatusCode::RANGE_NOT_SATISFIABLE);

    let (st, _, body) = h
        .request("GET", &m.url("zip"), &[("if-none-match", &etag)])
        .await;
    assert_eq!(st, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());

    let (st, hd, body) = h.request("HEAD", &m.url("zip"), &[]).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(hd["content-length"], m.zip.len().to_string());
    assert!(body.is_empty());
}
