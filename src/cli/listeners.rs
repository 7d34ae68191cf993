//! The HTTP listeners of `yanxiu serve`: plain HTTP (serving the app,
//! redirecting to HTTPS, or off, per `[tls] plain_http`) and HTTPS (with
//! `Strict-Transport-Security` on every answer), both over the same router
//! and stopped together, finishing in-flight requests.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::app::security_headers;
use crate::app::web::SetupGate;
use crate::config::{PlainHttp, ServeConfig};
use crate::live::RtmpAddrs;
use crate::tls::{self, CertStore, TlsListener};

/// Bound listeners, not serving yet.
#[derive(Debug)]
pub struct Listeners {
    http: Option<(TcpListener, Router, PlainHttp)>,
    https: Option<(TlsListener, Router)>,
}

impl Listeners {
    /// Binds plain HTTP (unless turned off) and HTTPS (when `certs` is given).
    pub async fn bind(
        config: &ServeConfig,
        certs: Option<&Arc<CertStore>>,
        router: Router,
    ) -> anyhow::Result<Listeners> {
        let https = match certs {
            Some(store) => {
                let acceptor = store.acceptor(&[b"http/1.1"])?;
                let timeout = Duration::from_secs(config.tls.handshake_timeout_seconds.max(1));
                let listener = TlsListener::bind(&config.tls.https_addr, acceptor, timeout)
                    .await
                    .with_context(|| format!("HTTPS server on {}", config.tls.https_addr))?;
                let mut https_router = router.clone();
                let hsts = security_headers::hsts(
                    config.tls.hsts_max_age_seconds,
                    config.tls.hsts_include_subdomains,
                );
                if let Some(value) = hsts {
                    https_router = https_router.layer(axum::middleware::from_fn_with_state(
                        value,
                        security_headers::add_hsts,
                    ));
                }
                Some((listener, https_router))
            }
            None => None,
        };
        let mode = match https {
            Some(_) => config.tls.plain_http,
            None => PlainHttp::Serve,
        };
        let http = match mode {
            PlainHttp::Off => None,
            PlainHttp::Serve | PlainHttp::Redirect => {
                let listener = TcpListener::bind(&config.http_addr)
                    .await
                    .with_context(|| format!("HTTP server on {}", config.http_addr))?;
                let plain = match (&https, mode) {
                    (Some((tls_listener, _)), PlainHttp::Redirect) => {
                        let port = axum::serve::Listener::local_addr(tls_listener)?.port();
                        router.layer(axum::middleware::from_fn_with_state(
                            port,
                            tls::redirect_to_https,
                        ))
                    }
                    _ => router,
                };
                Some((listener, plain, mode))
            }
        };
        Ok(Listeners { http, https })
    }

    /// The base URL of this process's own listener: plain HTTP when it serves, else HTTPS.
    pub fn own_url(&self) -> Option<String> {
        if let Some((listener, _, PlainHttp::Serve)) = &self.http
            && let Ok(addr) = listener.local_addr()
        {
            return Some(format!("http://{addr}"));
        }
        let (listener, _) = self.https.as_ref()?;
        let addr = axum::serve::Listener::local_addr(listener).ok()?;
        Some(format!("https://{addr}"))
    }

    /// Prints where the process listens (the tests read these lines), then
    /// the one-time setup link if setup is open.
    pub fn announce(&self, rtmp: RtmpAddrs, setup: &SetupGate) {
        let mut base = None;
        if let Some((listener, _, mode)) = &self.http
            && let Ok(addr) = listener.local_addr()
        {
            tracing::info!(%addr, "yanxiu listening (HTTP)");
            match mode {
                PlainHttp::Redirect => println!("yanxiu: redirecting http://{addr} to HTTPS"),
                _ => {
                    println!("yanxiu: listening on http://{addr}");
                    base = Some(("http", addr));
                }
            }
        }
        if let Some(addr) = rtmp.rtmp {
            println!("yanxiu: RTMP ingest on rtmp://{addr}/live");
        }
        if let Some((listener, _)) = &self.https
            && let Ok(addr) = axum::serve::Listener::local_addr(listener)
        {
            tracing::info!(%addr, "yanxiu listening (HTTPS)");
            println!("yanxiu: listening on https://{addr}");
            base = Some(("https", addr));
        }
        if let Some(addr) = rtmp.rtmps {
            println!("yanxiu: RTMPS ingest on rtmps://{addr}/live");
        }
        if let Some((scheme, addr)) = base {
            crate::app::web::print_setup_link(setup, scheme, addr);
        }
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        let stopped = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let http = async {
            match self.http {
                Some((listener, router, _)) => axum::serve(
                    listener,
                    router.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .with_graceful_shutdown(stopped(stop_rx.clone()))
                .await
                .context("HTTP server"),
                None => Ok(()),
            }
        };
        let https = async {
            match self.https {
                // `tap_io` lends the listener's peer address as ConnectInfo.
                Some((listener, router)) => axum::serve(
                    listener.tap_io(|_| {}),
                    router.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .with_graceful_shutdown(stopped(stop_rx.clone()))
                .await
                .context("HTTPS server"),
                None => Ok(()),
            }
        };
        tokio::try_join!(http, https)?;
        Ok(())
    }
}
