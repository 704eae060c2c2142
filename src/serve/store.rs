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
    /// generation, or `None` when the files are what is served already (nothing to reload).
    pub fn publish(&self, files: BTreeMap<String, Vec<u8>>, replace_all: bool) -> Option<u64> {
        let mut inner = self.inner.write().expect("store lock");
        let same = |(path, bytes): (&String, &Vec<u8>)| {
            inner.files.get(path).is_some_and(|served| served == bytes)
        };
        let unchanged =
            (!replace_all || files.len() == inner.files.len()) && files.iter().all(same);
        if unchanged {
            return None;
        }
        let files = files
            .into_iter()
            .map(|(path, bytes)| (path, Bytes::from(bytes)));
        if replace_all {
            inner.files = files.collect();
        } else {
            inner.files.extend(files);
        }
        inner.generation += 1;
        Some(inner.generation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishing_bumps_the_generation_when_files_change_and_replaces_or_merges() {
        let store = Store::default();
        let files = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(p, b)| (p.to_string(), b.as_bytes().to_vec()))
                .collect()
        };
        let both = files(&[("a.html", "a"), ("b.html", "b")]);
        assert_eq!(store.publish(both, true), Some(1));
        assert_eq!(store.publish(files(&[("a.html", "a2")]), false), Some(2));
        assert_eq!(
            store.publish(files(&[("a.html", "a2")]), false),
            None,
            "nothing changed"
        );
        assert_eq!(store.get("a.html"), (Some(Bytes::from("a2")), 2));
        assert!(store.contains("b.html"));
        assert_eq!(
            store.publish(files(&[("a.html", "a2")]), true),
            Some(3),
            "b.html goes"
        );
        assert!(
            !store.contains("b.html"),
            "a whole render drops files that are gone"
        );
    }
}
