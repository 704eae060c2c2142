//! `kbpub sim`: local simulators of the services kbpub talks to, for demos and tests. Each
//! simulator is its own module exposing an axum router; this module mounts them on one server on
//! 127.0.0.1 and prints its address (so `--port 0` works for tests) once it accepts connections.
//! Every simulator puts its API behind the one shared [`layer`] (latency, request counts,
//! injected faults and rate-limit windows from [`traffic`], and their `/__sim/<name>/` control
//! endpoints); [`layer`]'s module comment shows how a new simulator mounts it.

pub mod amplience;
pub mod community;
pub mod confluence;
pub mod layer;
pub mod salesforce;
pub mod trading_grid;
pub mod trading_grid_data;
pub mod traffic;
pub mod webhook;
pub mod x;

use std::io::Write;
use std::net::SocketAddr;

/// `kbpub sim` options.
#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// Port on 127.0.0.1 (0 picks a free one; the address is printed on the first line)
    #[arg(long, default_value_t = 8787)]
    pub port: u16,
    #[command(flatten)]
    pub trading_grid: trading_grid::TradingGridArgs,
    #[command(flatten)]
    pub confluence: confluence::ConfluenceArgs,
    #[command(flatten)]
    pub community: community::CommunityArgs,
    /// Boxed: the Salesforce org has many flags, and `SimArgs` sits in the CLI's command enum.
    #[command(flatten)]
    pub salesforce: Box<salesforce::SalesforceArgs>,
    #[command(flatten)]
    pub amplience: Box<amplience::AmplienceArgs>,
    #[command(flatten)]
    pub webhook: Box<webhook::WebhookArgs>,
    #[command(flatten)]
    pub x: Box<x::XArgs>,
}

/// Serves every simulator until interrupted (Ctrl-C or SIGTERM).
pub fn run(options: SimArgs) -> Result<(), String> {
    let router = trading_grid::router(options.trading_grid)?
        .merge(confluence::router(&options.confluence))
        .merge(community::router(&options.community))
        .merge(salesforce::router(&options.salesforce)?)
        .merge(amplience::router(&options.amplience))
        .merge(webhook::router(&options.webhook))
        .merge(x::router(&options.x));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async move {
        let address = SocketAddr::from(([127, 0, 0, 1], options.port));
        let listener = tokio::net::TcpListener::bind(address).await.map_err(|e| format!("cannot listen on {address}: {e}"))?;
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        // Written once and never again; a reader that stopped listening is not an error.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "kbpub sim listening on http://{bound}");
        let _ = writeln!(out, "  Trading Grid contract v1: http://{bound}/v1/health, /v1/partners, /v1/metrics, /v1/incidents");
        let _ = writeln!(out, "{}", confluence::describe(&bound.to_string()));
        let _ = writeln!(out, "{}", community::describe(&bound.to_string()));
        let _ = writeln!(out, "{}", salesforce::describe(&bound.to_string()));
        let _ = writeln!(out, "{}", amplience::describe(&bound.to_string()));
        let _ = writeln!(out, "{}", webhook::describe(&bound.to_string()));
        let _ = writeln!(out, "{}", x::describe(&bound.to_string()));
        let _ = out.flush();
        drop(out);
        axum::serve(listener, router).with_graceful_shutdown(shutdown()).await.map_err(|e| format!("server error: {e}"))
    })
}

async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => return interrupt.await.unwrap_or(()),
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    interrupt.await.ok();
}
