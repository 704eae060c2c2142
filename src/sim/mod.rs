//! `kbpub sim`: the project's simulators on one loopback port, for demos and tests. It serves
//! the Confluence test server (Cloud under `/wiki`, Data Center under `/confluence`).

pub mod confluence;

use std::net::SocketAddr;

/// Serves every simulator on `127.0.0.1:port` (0: any free port) until the process ends.
/// `ready` gets the bound address once the socket listens.
pub fn serve(
    port: u16,
    confluence_latency_ms: u64,
    ready: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        ready(listener.local_addr()?);
        axum::serve(listener, confluence::router(confluence_latency_ms)).await
    })
}
