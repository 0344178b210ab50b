//! HTTP_PROXY / NO_PROXY handling, in its own test binary because it changes the process
//! environment (one test, so nothing else in this process reads it concurrently).

mod common;

use std::time::Duration;

use common::{Reply, Upstream};
use modferry_sources::{HttpConfig, ProxySource, Source};

#[tokio::test]
async fn env_proxies_are_used_except_for_loopback_and_no_proxy() {
    let forward = Upstream::start(|_: &str| Reply::status("200 OK", None, "v1.0.0\n")).await;
    let upstream = Upstream::start(|_: &str| Reply::status("200 OK", None, "v2.0.0\n")).await;
    // SAFETY: this binary holds this single test; no other thread reads the environment while
    // it is changed (reqwest reads it when a client is built, below).
    unsafe {
        std::env::set_var("HTTP_PROXY", forward.url(""));
        std::env::remove_var("http_proxy");
        std::env::remove_var("ALL_PROXY");
        std::env::remove_var("all_proxy");
        std::env::set_var("NO_PROXY", "no-proxy.example");
        std::env::remove_var("no_proxy");
    }
    let cfg = HttpConfig {
        connect_timeout: Duration::from_millis(300),
        request_timeout_small: Duration::from_secs(2),
        ..HttpConfig::default()
    };

    // A remote host goes through the forward proxy, as an absolute-form request.
    let remote = ProxySource::new("http://goproxy.example/base", &cfg).expect("valid");
    assert_eq!(
        remote.list("example.com/m").await.expect("via proxy"),
        "v1.0.0\n"
    );
    assert_eq!(
        forward.targets(),
        ["http://goproxy.example/base/example.com/m/@v/list"]
    );

    // Loopback is always reached directly.
    let local = ProxySource::new(&upstream.url(""), &cfg).expect("valid");
    assert_eq!(
        local.list("example.com/m").await.expect("direct"),
        "v2.0.0\n"
    );
    assert_eq!(forward.count(), 1);
    assert_eq!(upstream.count(), 1);

    // NO_PROXY hosts are reached directly too (here: they fail to resolve or connect).
    let bypass = ProxySource::new("http://no-proxy.example/", &cfg).expect("valid");
    bypass
        .list("example.com/m")
        .await
        .expect_err("not via the proxy");
    assert_eq!(forward.count(), 1);
}
