//! Rebuilds kbpub when the files it embeds change: the built-in templates (`templates/`) and the
//! `kbpub init` scaffold (`scaffold/`) are compiled in with include_dir, which cargo cannot track
//! by itself.

fn main() {
    println!("cargo:rerun-if-changed=templates");
    println!("cargo:rerun-if-changed=scaffold");
}
