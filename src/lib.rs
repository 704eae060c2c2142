//! kbpub: a docs-as-code pipeline for trading-partner operations teams. Markdown in git is loaded
//! (`content`), rendered through Tera templates (`render`) and written as a static site (`site`);
//! `approval` gates what may be published; `check` finds every problem without writing anything,
//! and `init` scaffolds a new knowledge base. `net` is the one HTTP layer under `data pull` and
//! publishing; `text` (escaping, visible markers, display-safe strings) and `diag` are the bottom
//! every layer may use. `notify` tells webhooks and X what a publish run changed.
//! See ARCHITECTURE.md for the bird's-eye view and the invariants.

pub mod approval;
pub mod audit;
pub mod check;
pub mod cli;
pub mod config;
pub mod content;
pub mod data;
pub mod diag;
pub mod init;
pub mod net;
pub mod notify;
pub mod publish;
pub mod render;
pub mod serve;
pub mod sim;
pub mod site;
pub mod text;
