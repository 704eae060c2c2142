//! The files `kbpub serve` answers with: the last render without errors, in memory, by
//! root-relative path, with a generation number that grows with every change. The preview thread
//! writes it; request handlers read it. A file and the generation it belongs to are read together,
//! so a page always names the build it came from.

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use axum::body::Bytes;

#[derive(Default)]
pub struct Store {
    inner: RwLock<Files>,
}

#[derive(Default)]
struct Files {
    generation: u64,
    files: HashMap<String, Bytes>,
}

impl Store {
    /// The file at `path` and the generation it belongs to.
    pub fn get(&self, path: &str) -> (Option<Bytes>, u64) {
        let inner = self.inner.read().expect("store lock");
        (inner.files.get(path).cloned(), inner.generation)
    }

    pub fn contains(&self, path: &str) -> bool {
        self.inner
            .read()
            .expect("store lock")
            .files
            .contains_key(path)
    }

    pub fn generation(&self) -> u64 {
        self.inner.read().expect("store lock").generation
    }

    /// Publishes a render: `files` replace all files (`replace_all`, for a whole-site render, so
    /// that files of deleted pages disappear) or only those of the same path. Returns the new
    /// generation.
    pub fn publish(&self, files: BTreeMap<String, Vec<u8>>, replace_all: bool) -> u64 {
        let files = files
            .into_iter()
            .map(|(path, bytes)| (path, Bytes::from(bytes)));
        let mut inner = self.inner.write().expect("store lock");
        if replace_all {
            inner.files = files.collect();
        } else {
            inner.files.extend(files);
        }
        inner.generation += 1;
        inner.generation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishing_bumps_the_generation_and_replaces_or_merges() {
        let store = Store::default();
        let files = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(p, b)| (p.to_string(), b.as_bytes().to_vec()))
                .collect()
        };
        assert_eq!(
            store.publish(files(&[("a.html", "a"), ("b.html", "b")]), true),
            1
        );
        assert_eq!(store.publish(files(&[("a.html", "a2")]), false), 2);
        assert_eq!(store.get("a.html"), (Some(Bytes::from("a2")), 2));
        assert!(store.contains("b.html"));
        store.publish(files(&[("c.html", "c")]), true);
        assert!(
            !store.contains("b.html"),
            "a whole render drops files that are gone"
        );
        assert_eq!(store.generation(), 3);
    }
}
