//! `kbpub sim`: local simulators of the services kbpub talks to, for demos and tests. Each
//! simulator is its own module exposing an axum router; this module mounts them on one server on
//! 127.0.0.1 and prints its address (so `--port 0` works for tests) once it accepts connections.

pub mod confluence;

use std::io::Write;
use std::net::SocketAddr;

/// `kbpub sim` options.
#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// Port on 127.0.0.1 (0 picks a free one; the address is printed on the first line)
    #[arg(long, default_value_t = 8787)]
    pub port: u16,
    #[command(flatten)]
    pub confluence: confluence::ConfluenceArgs,
}

/// Serves every simulator until the process ends.
pub fn run(options: SimArgs) -> Result<(), String> {
    let router = confluence::router(&options.confluence);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async move {
        let address = SocketAddr::from(([127, 0, 0, 1], options.port));
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|e| format!("cannot listen on {address}: {e}"))?;
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        // Written once and never again; a reader that stopped listening is not an error.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "kbpub sim listening on http://{bound}");
        let _ = writeln!(out, "{}", confluence::describe(&bound.to_string()));
        let _ = out.flush();
        drop(out);
        axum::serve(listener, router)
            .await
            .map_err(|e| format!("server error: {e}"))
    })
}
