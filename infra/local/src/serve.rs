//! The listener: HTTP/1.1 with a deadline for a request's headers and one for its handling,
//! and a graceful stop that closes the listener, lets the requests in flight finish and then
//! closes their connections.
//!
//! Not `axum::serve`: it gives no access to hyper's connection builder, so a client could
//! hold a connection (and a stop) forever by sending its headers a byte at a time. The loop
//! below is what `axum::serve` does, with `header_read_timeout` set; hyper and hyper-util
//! are the ones axum already builds, with no feature added.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// From a connection's first byte (or the end of its previous request) to the end of the
    /// request's headers; past it the connection is closed.
    pub header_read: Duration,
    /// How long a handler may take; past it the caller gets 503 `temporarily_unavailable`.
    pub request: Duration,
    /// After a stop is asked for, how long the requests in flight get to finish before their
    /// connections are dropped.
    pub drain: Duration,
}

/// 30 s for a request is API Gateway's limit in AWS, so a handler that works there works
/// here; a stop waits for such a request and the writing of its response.
pub const LIMITS: Limits = Limits {
    header_read: Duration::from_secs(10),
    request: Duration::from_secs(30),
    drain: Duration::from_secs(35),
};

/// Adds the handling deadline to `routes`, inside the layer that renders error envelopes (so
/// a timeout is answered like every other error, request id included).
pub fn with_deadline<S: Clone + Send + Sync + 'static>(
    routes: Router<S>,
    limit: Duration,
) -> Router<S> {
    routes.layer(axum::middleware::from_fn_with_state(limit, deadline))
}

/// Drops the handler at the deadline, as API Gateway does; what it had committed stays, and
/// every operation is safe to retry.
async fn deadline(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => axhub_http::ApiError(axhub_domain::Error::unavailable(format!(
            "the request took longer than {} s",
            limit.as_secs_f32()
        )))
        .into_response(),
    }
}

/// Serves `app` on `listener` until `stop` completes, then drains (see `Limits::drain`).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    stop: impl Future<Output = ()>,
) {
    let (closing_tx, closing) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(stop);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        while connections.try_join_next().is_some() {}
        let service = TowerToHyperService::new(app.clone());
        let mut closing = closing.clone();
        connections.spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => return log_end(r),
                _ = closing.wait_for(|c| *c) => {}
            }
            // Finishes the request in flight, if any, then closes; an idle connection closes now.
            conn.as_mut().graceful_shutdown();
            log_end(conn.await);
        });
    }
    drop(listener);
    let _ = closing_tx.send(true);
    let drained = tokio::time::timeout(limits.drain, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    match drained {
        Ok(()) => tracing::info!("listener closed, every connection finished"),
        Err(_) => tracing::warn!(
            left = connections.len(),
            "connections still open after the drain deadline; dropping them"
        ),
    }
}

fn log_end(r: Result<(), hyper::Error>) {
    if let Err(e) = r {
        // A client that went away or was too slow with its headers: its business.
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// A connection that failed before it was accepted is the client's; anything else (out of
/// file descriptors, say) is the machine's, and retrying at once would spin.
async fn accept_error(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use std::io::{Read, Write};
    use std::time::Instant;

    const SHORT: Limits = Limits {
        header_read: Duration::from_millis(300),
        request: Duration::from_millis(300),
        drain: Duration::from_secs(5),
    };

    /// A router with a handler slower than `SHORT.request`, served until the test ends.
    async fn slow_server() -> std::net::SocketAddr {
        let routes: Router = Router::new().route(
            "/slow",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                "too late"
            }),
        );
        let app = with_deadline(routes, SHORT.request)
            .layer(axum::middleware::from_fn(axhub_http::request_id::layer));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(serve(listener, app, SHORT, std::future::pending()));
        addr
    }

    /// Writes `request` on a new connection and reads until the server closes it.
    async fn exchange(addr: std::net::SocketAddr, request: &'static str) -> (String, Duration) {
        tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s.write_all(request.as_bytes()).unwrap();
            let mut reply = Vec::new();
            s.read_to_end(&mut reply)
                .expect("the server did not close the connection");
            (
                String::from_utf8_lossy(&reply).into_owned(),
                started.elapsed(),
            )
        })
        .await
        .unwrap()
    }

    /// A client that never finishes its headers loses its connection at the deadline instead
    /// of holding it (and a graceful stop) forever.
    #[tokio::test]
    async fn unfinished_headers_lose_the_connection() {
        let addr = slow_server().await;
        let (_, took) = exchange(addr, "GET /slow HTTP/1.1\r\nHost: x\r\n").await;
        assert!(took >= SHORT.header_read, "closed after {took:?}");
    }

    /// A handler past its deadline is dropped and the caller gets the error envelope.
    #[tokio::test]
    async fn a_slow_handler_is_answered_503() {
        let addr = slow_server().await;
        let (reply, took) = exchange(
            addr,
            "GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
        assert!(
            reply.contains(r#""code":"temporarily_unavailable""#),
            "{reply}"
        );
        assert!(took < Duration::from_secs(5), "took {took:?}");
    }
}
