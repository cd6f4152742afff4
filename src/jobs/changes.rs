//! Which files a run changed, from the workspace itself: a CLI that edits through a shell
//! command reports no file event, but the bot has the workspace. A listing of each file's
//! size and modification time before the run, compared with one after it. The walk never
//! follows a link (the tree is the agent's), skips the CLI's state and git's own folder, and
//! gives up past `MOST_ENTRIES` (then nothing is claimed from it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Entries a listing reads at most.
const MOST_ENTRIES: usize = 200_000;

/// Path (relative, `/`-separated) → (size, modification time in ns).
pub type Listing = BTreeMap<String, (u64, i128)>;

/// The files under `dir`, or `None` when it cannot be read whole or is too large.
pub fn listing(dir: &Path) -> Option<Listing> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Listing::new();
    let mut seen = 0usize;
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for entry in std::fs::read_dir(dir.join(&rel)).ok()? {
            seen += 1;
            if seen > MOST_ENTRIES {
                return None;
            }
            let entry = entry.ok()?;
            let name = entry.file_name();
            let rel = rel.join(&name);
            // `DirEntry::metadata` does not follow a link.
            let meta = entry.metadata().ok()?;
            if meta.is_dir() {
                if rel == Path::new(".threadwork") || name == ".git" {
                    continue;
                }
                stack.push(rel);
            } else if meta.is_file() || meta.file_type().is_symlink() {
                let mtime =
                    i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec());
                out.insert(rel.to_string_lossy().into_owned(), (meta.size(), mtime));
            }
        }
    }
    Some(out)
}

/// Files added, changed or removed between two listings (by metadata, or by content hash as
/// an eval's snapshots are), in order.
pub fn changed<V: PartialEq>(
    before: &BTreeMap<String, V>,
    after: &BTreeMap<String, V>,
) -> Vec<String> {
    let mut out: Vec<String> = after
        .iter()
        .filter(|(p, m)| before.get(*p) != Some(*m))
        .map(|(p, _)| p.clone())
        .chain(before.keys().filter(|p| !after.contains_key(*p)).cloned())
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_made_by_any_means_is_seen_and_state_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("kept.txt"), "same").unwrap();
        std::fs::write(d.join("gone.txt"), "bye").unwrap();
        std::fs::create_dir_all(d.join("src")).unwrap();
        std::fs::write(d.join("src/lib.rs"), "fn a() {}").unwrap();
        std::fs::create_dir_all(d.join(".threadwork/home")).unwrap();
        let before = listing(d).unwrap();
        std::fs::write(d.join("src/lib.rs"), "fn a() { b() }").unwrap();
        std::fs::write(d.join("new.txt"), "hi").unwrap();
        std::fs::remove_file(d.join("gone.txt")).unwrap();
        std::fs::write(d.join(".threadwork/home/state.json"), "{}").unwrap();
        std::os::unix::fs::symlink("/etc", d.join("etc-link")).unwrap();
        let after = listing(d).unwrap();
        assert_eq!(
            changed(&before, &after),
            ["etc-link", "gone.txt", "new.txt", "src/lib.rs"]
        );
    }
}
