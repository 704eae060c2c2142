//! `kbpub serve`: the live preview for writers and reviewers. The site is rendered into memory by
//! the same code as `kbpub build` (a preview is exactly what gets built) and served on loopback;
//! a watcher feeds edits to the preview, which re-renders only what they affect; every open page
//! reloads after each rebuild, or shows the errors of a broken edit, through server-sent events.
//! Reviewers switch between what each audience gets (`?view=partner`, `?view=confluence`) in a
//! panel on each page.
//!
//! Threads: the HTTP server runs on tokio ([`server`]); the [`preview::Preview`] owns the loaded
//! site on its own thread and takes edits from the [`watch`]er and render requests from the
//! server over one channel; the served files are in a [`store::Store`].

mod incremental;
mod preview;
mod reload;
mod review;
mod server;
mod store;
mod watch;

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use preview::Preview;
use store::Store;

pub use review::{ReviewInfo, ReviewView};
pub use server::site_path;

/// How `kbpub serve` was asked to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub bind: IpAddr,
    /// 0 picks a free port.
    pub port: u16,
    /// Answer requests addressed to any host (needed to serve other machines).
    pub allow_remote: bool,
    /// Open the site in the default browser once it is served.
    pub open: bool,
    pub quiet: bool,
}

#[derive(Debug)]
pub enum ServeError {
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    Watch(notify::Error),
    Server(std::io::Error),
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Bind { addr, source } if source.kind() == std::io::ErrorKind::AddrInUse => {
                write!(
                    f,
                    "cannot listen on {addr}: the port is in use; pass --port N, or --port 0 for a free one"
                )
            }
            ServeError::Bind { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            ServeError::Watch(e) => write!(f, "cannot watch the knowledge base for changes: {e}"),
            ServeError::Server(e) => write!(f, "the server stopped: {e}"),
        }
    }
}

impl std::error::Error for ServeError {}

/// Serves the knowledge base at `root` until interrupted (Ctrl-C).
pub fn serve(root: PathBuf, options: Options) -> Result<(), ServeError> {
    let addr = SocketAddr::new(options.bind, options.port);
    let listener =
        std::net::TcpListener::bind(addr).map_err(|source| ServeError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| ServeError::Bind { addr, source })?;

    // Watching starts before the first load, so that no edit made during it is missed.
    let (jobs, job_queue) = std::sync::mpsc::channel();
    let watcher = watch::Watcher::start(&root, jobs.clone()).map_err(ServeError::Watch)?;
    let store = Arc::new(Store::default());
    let (status_sender, status) = tokio::sync::watch::channel(Arc::from(""));
    let preview = Preview::start(root, options.quiet, watcher, store.clone(), status_sender);
    std::thread::Builder::new()
        .name("kbpub preview".into())
        .spawn(move || preview.run(job_queue))
        .map_err(ServeError::Server)?;

    let app = server::App {
        store,
        status,
        jobs,
        allow_remote: options.allow_remote,
    };
    let url = format!("http://{addr}/");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(ServeError::Server)?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener).map_err(ServeError::Server)?;
        // Listening for Ctrl-C before saying "Serving": from then on it stops the server cleanly.
        let interrupted = interrupted().map_err(ServeError::Server)?;
        println!("Serving on {url}");
        let _ = std::io::stdout().flush();
        if !options.quiet {
            eprintln!("Watching content/, templates/, data/, .kb/ and kbpub.toml; press Ctrl-C to stop.");
            if options.allow_remote && !options.bind.is_loopback() {
                eprintln!("warning: the preview is reachable from other machines on {}", options.bind);
            }
        }
        if options.open {
            let url = url.clone();
            // A text-mode browser runs in the foreground: keep it off the server's threads.
            std::thread::spawn(move || {
                if let Err(e) = webbrowser::open(&url) {
                    eprintln!("warning: cannot open a browser ({e}); open {url} yourself");
                }
            });
        }
        tokio::select! {
            served = axum::serve(listener, server::router(app)) => served.map_err(ServeError::Server),
            () = interrupted => Ok(()),
        }
    })
}

/// Resolves on Ctrl-C; the handler is in place when this returns.
#[cfg(unix)]
fn interrupted() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        interrupt.recv().await;
    })
}

#[cfg(not(unix))]
fn interrupted() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
