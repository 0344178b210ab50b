//! The HTTP transport under the S3 client: a `hyper-util` connection pool (HTTP/1.1, rustls with
//! ring and the platform's trust store for `https`) handed to `object_store` through
//! `AmazonS3Builder::with_http_connector`.
//!
//! No Go rule lives here. The reason for the transport is memory: hyper's HTTP/1 read buffer
//! grows adaptively to about 408 KiB per connection, every body chunk the client passes on is a
//! slice of that buffer (so it keeps the whole allocation alive), and a slow download holds two
//! or three of them. object_store's default transport (reqwest) cannot bound the buffer. Here it
//! is bounded to [`MAX_READ_BUF`]: 200 concurrent downloads of a 100 MiB object went from 213 MiB
//! of peak RSS to 45 MiB in a standalone measurement (docs/benchmarks.md, "S3 backend").
//!
//! Everything else matches what object_store's reqwest transport did with the options
//! `S3Store::open` gave it: HTTP/1.1 only; a connect timeout covering the TCP connection, any
//! proxy tunnel and the TLS handshake; no whole-request timeout (the store bounds each call
//! itself); plain `http://` only when allowed; no response decompression; the proxies of the
//! standard environment variables (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, as curl
//! reads them; `http://` and `https://` proxies, a `CONNECT` tunnel for `https` destinations);
//! an idle pool of unbounded size with a 90 s idle timeout; `TCP_NODELAY`, TCP keep-alive probes
//! and a TCP user timeout; and errors sorted into [`HttpErrorKind`]s the same way (that sorting
//! decides what object_store retries and what the store reports as an outage).

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use http::Uri;
use http_body_util::BodyExt;
use hyper_rustls::{ConfigBuilderExt, HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector as TcpConnector};
pub(crate) use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use object_store::ClientOptions;
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpRequestBody,
    HttpResponse, HttpResponseBody, HttpService,
};
use tower_service::Service;

type BoxError = Box<dyn StdError + Send + Sync>;

/// The largest HTTP/1 read buffer of one connection, and so the largest body chunk: what a
/// download from S3 holds per buffer alive. 64 KiB still reads a loopback stream in few
/// system calls.
pub(crate) const MAX_READ_BUF: usize = 64 * 1024;

/// How long an idle pooled connection is kept (reqwest's default, which the store used before).
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// TCP keep-alive: first probe after this much idle time, then one every this often.
const TCP_KEEPALIVE: Duration = Duration::from_secs(15);

/// Unanswered keep-alive probes before the connection is dropped.
const TCP_KEEPALIVE_RETRIES: u32 = 3;

/// Sent data unacknowledged this long fails the connection (Linux `TCP_USER_TIMEOUT`).
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(30);

/// The `User-Agent` of requests to the store.
const USER_AGENT: &str = concat!("modferry/", env!("CARGO_PKG_VERSION"));

/// What the transport needs to know, from the store's configuration.
#[derive(Debug)]
pub(crate) struct TransportConfig {
    /// Whether plain `http://` URLs are allowed (else only `https://`).
    pub(crate) allow_http: bool,
    /// Bound on establishing a connection: TCP, any proxy tunnel, and TLS.
    pub(crate) connect_timeout: Duration,
    /// Which destinations go through which proxy ([`Matcher::from_env`] in production).
    pub(crate) proxies: Matcher,
}

/// An [`HttpConnector`] that always hands out the same pool of connections.
#[derive(Debug, Clone)]
pub(crate) struct Connector {
    service: Transport,
}

impl Connector {
    /// Builds the pool. Fails only when the platform's certificate verifier cannot be set up.
    pub(crate) fn new(cfg: TransportConfig) -> io::Result<Connector> {
        let mut tcp = TcpConnector::new();
        // The TLS layer in front of it handles `https`; the scheme check is done there.
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_keepalive(Some(TCP_KEEPALIVE));
        tcp.set_keepalive_interval(Some(TCP_KEEPALIVE));
        tcp.set_keepalive_retries(Some(TCP_KEEPALIVE_RETRIES));
        #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
        tcp.set_tcp_user_timeout(Some(TCP_USER_TIMEOUT));

        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .and_then(|b| b.try_with_platform_verifier())
        .map_err(io::Error::other)?
        .with_no_client_auth();
        let to_destination = HttpsConnectorBuilder::new().with_tls_config(tls.clone());
        let to_destination = if cfg.allow_http {
            to_destination.https_or_http()
        } else {
            to_destination.https_only()
        };
        let proxies = Arc::new(cfg.proxies);
        let connect = Connect {
            direct: to_destination.enable_http1().wrap_connector(tcp.clone()),
            to_proxy: HttpsConnectorBuilder::new()
                .with_tls_config(tls.clone())
                .https_or_http()
                .enable_http1()
                .wrap_connector(tcp),
            tls,
            proxies: Arc::clone(&proxies),
            timeout: cfg.connect_timeout,
        };

        let client = Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(usize::MAX)
            .http1_max_buf_size(MAX_READ_BUF)
            .build(connect);
        Ok(Connector {
            service: Transport {
                client,
                allow_http: cfg.allow_http,
                proxies,
            },
        })
    }
}

impl HttpConnector for Connector {
    fn connect(&self, _options: &ClientOptions) -> object_store::Result<HttpClient> {
        Ok(HttpClient::new(self.service.clone()))
    }
}

/// The pool as object_store's [`HttpService`].
#[derive(Clone)]
struct Transport {
    client: Client<Connect, HttpRequestBody>,
    allow_http: bool,
    proxies: Arc<Matcher>,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("allow_http", &self.allow_http)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl HttpService for Transport {
    async fn call(&self, mut req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let https = req.uri().scheme_str() == Some("https");
        if !self.allow_http && !https {
            return Err(HttpError::new(
                HttpErrorKind::Unknown,
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{}: only https:// is allowed", req.uri()),
                ),
            ));
        }
        let headers = req.headers_mut();
        headers
            .entry(http::header::USER_AGENT)
            .or_insert(http::HeaderValue::from_static(USER_AGENT));
        // A plain-http request through a proxy goes to the proxy itself, which wants the
        // credentials on every request (an https one has them on its CONNECT instead).
        if !https
            && let Some(proxy) = self.proxies.intercept(req.uri())
            && let Some(auth) = proxy.basic_auth()
        {
            req.headers_mut()
                .entry(http::header::PROXY_AUTHORIZATION)
                .or_insert(auth.clone());
        }
        let res = self.client.request(req).await.map_err(|e| {
            let kind = if e.is_connect() {
                HttpErrorKind::Connect
            } else {
                kind_of(&e)
            };
            HttpError::new(kind, Chain::of(e))
        })?;
        let (parts, body) = res.into_parts();
        let body = body.map_err(|e| HttpError::new(kind_of(&e), Chain::of(e)));
        Ok(HttpResponse::from_parts(parts, HttpResponseBody::new(body)))
    }
}

/// Opens connections for the pool: to the destination, or through the proxy the environment
/// names for it, all within the connect timeout.
#[derive(Clone)]
struct Connect {
    /// To the destination itself (`https`, and `http` when allowed).
    direct: HttpsConnector<TcpConnector>,
    /// To a proxy, over TLS when its URL is `https`.
    to_proxy: HttpsConnector<TcpConnector>,
    /// For TLS to a destination through a proxy's tunnel.
    tls: rustls::ClientConfig,
    proxies: Arc<Matcher>,
    timeout: Duration,
}

impl Service<Uri> for Connect {
    type Response = Conn;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Conn, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let timeout = self.timeout;
        let connecting = self.route(dst);
        Box::pin(async move {
            match tokio::time::timeout(timeout, connecting).await {
                Ok(conn) => conn,
                Err(_) => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no connection within {timeout:?}"),
                )
                .into()),
            }
        })
    }
}

impl Connect {
    fn route(&mut self, dst: Uri) -> Pin<Box<dyn Future<Output = Result<Conn, BoxError>> + Send>> {
        let Some(proxy) = self.proxies.intercept(&dst) else {
            let mut direct = self.direct.clone();
            return Box::pin(async move { Ok(Conn::new(direct.call(dst).await?, false)) });
        };
        let proxy_uri = proxy.uri().clone();
        if !matches!(proxy_uri.scheme_str(), Some("http" | "https")) {
            return Box::pin(async move {
                Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("proxy {proxy_uri}: only http:// and https:// proxies are supported"),
                )
                .into())
            });
        }
        if dst.scheme_str() == Some("https") {
            let mut tunnel = Tunnel::new(proxy_uri, self.to_proxy.clone());
            if let Some(auth) = proxy.basic_auth() {
                tunnel = tunnel.with_auth(auth.clone());
            }
            let mut tls = HttpsConnectorBuilder::new()
                .with_tls_config(self.tls.clone())
                .https_only()
                .enable_http1()
                .wrap_connector(tunnel);
            Box::pin(async move { Ok(Conn::new(tls.call(dst).await?, false)) })
        } else {
            let mut to_proxy = self.to_proxy.clone();
            Box::pin(async move { Ok(Conn::new(to_proxy.call(proxy_uri).await?, true)) })
        }
    }
}

/// What a connection needs to be for the pool.
trait Io: hyper::rt::Read + hyper::rt::Write + Connection + Send + Unpin + 'static {}

impl<T: hyper::rt::Read + hyper::rt::Write + Connection + Send + Unpin + 'static> Io for T {}

/// One connection: direct, through a tunnel, or to a proxy that takes plain-http requests in
/// absolute form (`proxied`).
struct Conn {
    io: Box<dyn Io>,
    proxied: bool,
}

impl Conn {
    fn new(io: impl Io, proxied: bool) -> Conn {
        Conn {
            io: Box::new(io),
            proxied,
        }
    }
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        self.io.connected().proxy(self.proxied)
    }
}

impl hyper::rt::Read for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.get_mut().io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.get_mut().io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.get_mut().io).poll_write_vectored(cx, bufs)
    }
}

/// Sorts a transport failure the way object_store sorts reqwest's: a connection closed or cut
/// short is `Request` (retried), a timeout `Timeout`, an aborted or reset connection
/// `Interrupted` (both retried when the request is idempotent), anything else `Unknown`.
fn kind_of(e: &(dyn StdError + 'static)) -> HttpErrorKind {
    let mut source = Some(e);
    while let Some(err) = source {
        if let Some(h) = err.downcast_ref::<hyper::Error>() {
            if h.is_closed() || h.is_incomplete_message() || h.is_body_write_aborted() {
                return HttpErrorKind::Request;
            }
            if h.is_timeout() {
                return HttpErrorKind::Timeout;
            }
        }
        if let Some(io) = err.downcast_ref::<io::Error>() {
            match io.kind() {
                io::ErrorKind::TimedOut => return HttpErrorKind::Timeout,
                io::ErrorKind::ConnectionAborted
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof => return HttpErrorKind::Interrupted,
                _ => {}
            }
        }
        source = err.source();
    }
    HttpErrorKind::Unknown
}

/// An error whose message carries its whole chain of causes ("client error (Connect): tcp
/// connect error: Connection refused (os error 111)"), since the store's messages show only the
/// top error's text. The causes stay reachable through [`StdError::source`].
#[derive(Debug)]
struct Chain {
    message: String,
    source: Arc<dyn StdError + Send + Sync>,
}

impl Chain {
    fn of(e: impl StdError + Send + Sync + 'static) -> Chain {
        let mut message = e.to_string();
        let mut cause = e.source();
        while let Some(c) = cause {
            let text = c.to_string();
            // Some errors repeat their source's text in their own.
            if !message.ends_with(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            cause = c.source();
        }
        Chain {
            message,
            source: Arc::new(e),
        }
    }
}

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for Chain {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IO_KINDS: &[(io::ErrorKind, HttpErrorKind)] = &[
        (io::ErrorKind::TimedOut, HttpErrorKind::Timeout),
        (io::ErrorKind::ConnectionReset, HttpErrorKind::Interrupted),
        (io::ErrorKind::ConnectionAborted, HttpErrorKind::Interrupted),
        (io::ErrorKind::BrokenPipe, HttpErrorKind::Interrupted),
        (io::ErrorKind::UnexpectedEof, HttpErrorKind::Interrupted),
        (io::ErrorKind::PermissionDenied, HttpErrorKind::Unknown),
    ];

    #[test]
    fn kind_of_sorts_io_causes_like_object_stores_reqwest_transport() {
        for &(io_kind, want) in IO_KINDS {
            // The io error is a cause, not the top error, as in a real transport failure.
            let e = Chain::of(io::Error::new(io_kind, "x"));
            assert_eq!(kind_of(&e), want, "{io_kind:?}");
        }
    }

    #[test]
    fn chain_message_names_every_cause_once() {
        assert_eq!(Chain::of(Outer(false)).to_string(), "outer: inner");
        // An error that already shows its cause in its own text.
        assert_eq!(Chain::of(Outer(true)).to_string(), "outer: inner");
    }

    /// "outer", with `Inner` as its source; `true` also writes the source's text.
    #[derive(Debug)]
    struct Outer(bool);
    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(if self.0 { "outer: inner" } else { "outer" })
        }
    }
    impl StdError for Outer {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&Inner)
        }
    }
    #[derive(Debug)]
    struct Inner;
    impl fmt::Display for Inner {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("inner")
        }
    }
    impl StdError for Inner {}

    /// A one-connection server on loopback: reads one request head, answers `reply`, and
    /// hands back the head it read.
    async fn one_shot(reply: &'static str) -> (u16, tokio::task::JoinHandle<String>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.ends_with(b"\r\n\r\n") {
                let n = sock.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                head.extend_from_slice(&buf[..n]);
            }
            sock.write_all(reply.as_bytes()).await.unwrap();
            sock.shutdown().await.unwrap();
            String::from_utf8_lossy(&head).to_lowercase()
        });
        (port, task)
    }

    fn client(allow_http: bool, connect_timeout: Duration, proxies: Matcher) -> HttpClient {
        let cfg = TransportConfig {
            allow_http,
            connect_timeout,
            proxies,
        };
        Connector::new(cfg)
            .unwrap()
            .connect(&ClientOptions::new())
            .unwrap()
    }

    fn get(url: &str) -> HttpRequest {
        http::Request::builder()
            .uri(url)
            .body(HttpRequestBody::empty())
            .unwrap()
    }

    #[tokio::test]
    async fn plain_http_through_a_proxy_is_sent_in_absolute_form_with_its_credentials() {
        let (port, seen) = one_shot("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await;
        let proxies = Matcher::builder()
            .http(format!("http://user:pass@127.0.0.1:{port}"))
            .build();
        let client = client(true, Duration::from_secs(5), proxies);
        let res = client
            .execute(get("http://s3.invalid:9000/bucket/k%40v"))
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.into_body().bytes().await.unwrap(), "ok");
        let head = seen.await.unwrap();
        assert!(
            head.starts_with("get http://s3.invalid:9000/bucket/k%40v http/1.1\r\n"),
            "{head}"
        );
        // base64("user:pass")
        assert!(
            head.contains("proxy-authorization: basic dxnlcjpwyxnz\r\n"),
            "{head}"
        );
    }

    #[tokio::test]
    async fn https_through_a_proxy_opens_a_connect_tunnel_with_its_credentials() {
        let (port, seen) = one_shot("HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n").await;
        let proxies = Matcher::builder()
            .https(format!("http://user:pass@127.0.0.1:{port}"))
            .build();
        let client = client(false, Duration::from_secs(5), proxies);
        let err = client
            .execute(get("https://s3.invalid/bucket/key"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), HttpErrorKind::Connect, "{err}");
        let head = seen.await.unwrap();
        assert!(
            head.starts_with("connect s3.invalid:443 http/1.1\r\n"),
            "{head}"
        );
        assert!(
            head.contains("proxy-authorization: basic dxnlcjpwyxnz\r\n"),
            "{head}"
        );
    }

    #[tokio::test]
    async fn the_connect_timeout_covers_a_tls_handshake_that_never_answers() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // Accepts (the kernel completes the TCP handshake) and never says a word.
        let _hold = tokio::spawn(async move {
            let _conn = listener.accept().await;
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        let client = client(
            false,
            Duration::from_millis(300),
            Matcher::builder().build(),
        );
        let started = std::time::Instant::now();
        let err = client
            .execute(get(&format!("https://127.0.0.1:{port}/bucket")))
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5), "{err}");
        assert_eq!(err.kind(), HttpErrorKind::Connect, "{err}");
        assert!(err.to_string().contains("no connection within"), "{err}");
    }

    #[tokio::test]
    async fn a_plain_http_url_is_refused_unless_allowed() {
        let client = client(false, Duration::from_secs(1), Matcher::builder().build());
        let err = client
            .execute(get("http://127.0.0.1:9/bucket"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("only https://"), "{err}");
    }
}
