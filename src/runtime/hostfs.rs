//! The bot's own writes into a job's workspace, which the agent also writes: never through a
//! link. A repository can commit `.threadwork -> /some/host/dir`, and a sandbox can plant one
//! before a follow-up; following it would let the agent aim the bot's writes and `chmod`s at
//! any host path. Here every component below the workspace is checked with `lstat`, a link or
//! file where a directory belongs is removed (the state tree is the bot's), and files are
//! opened with `O_NOFOLLOW`. No sandbox runs on the workspace while the bot writes (one job per
//! thread at a time), so nothing can swap a component in between.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// `root/rel` as a real directory chain, created as needed; a link (or a file) found where a
/// directory belongs is removed first. `rel` must be relative and stay below `root`.
pub fn ensure_dir(root: &Path, rel: &Path) -> std::io::Result<PathBuf> {
    let mut path = root.to_path_buf();
    for part in rel.components() {
        match part {
            Component::Normal(name) => path.push(name),
            Component::CurDir => continue,
            _ => return Err(outside(rel)),
        }
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_dir() => {}
            Ok(_) => {
                std::fs::remove_file(&path)?;
                std::fs::create_dir(&path)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir(&path)?,
            Err(e) => return Err(e),
        }
    }
    Ok(path)
}

/// Writes `content` to `root/rel` without following a link at any component: the file itself
/// is opened `O_NOFOLLOW` after a link in its place is removed.
pub fn write(root: &Path, rel: &Path, content: &[u8]) -> std::io::Result<()> {
    let name = rel.file_name().ok_or_else(|| outside(rel))?;
    let dir = ensure_dir(root, rel.parent().unwrap_or(Path::new("")))?;
    let path = dir.join(name);
    if let Ok(meta) = std::fs::symlink_metadata(&path) {
        if !meta.file_type().is_file() {
            remove_any(&path)?;
        }
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)?;
    file.write_all(content)
}

/// Sets `dir` and everything below it to `dir_mode` / `file_mode` (special bits cleared),
/// skipping links; `dir` itself must be a real directory.
pub fn set_modes(dir: &Path, dir_mode: u32, file_mode: u32) -> std::io::Result<()> {
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.file_type().is_dir() {
        return Ok(());
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        chmod(&d, dir_mode)?;
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                chmod(&entry.path(), file_mode)?;
            }
        }
    }
    Ok(())
}

/// Clears setuid, setgid and sticky bits below `dir` (links skipped): nothing a run left can
/// raise another local user to the sandbox's uid. Called once the run has ended (nothing can
/// swap an entry meanwhile). An entry the bot cannot read or change (another uid's) is
/// skipped; the jobs directory above (0700) keeps other users out regardless. Returns how
/// many entries had a bit cleared.
pub fn strip_special_bits(dir: &Path) -> usize {
    use std::os::unix::fs::MetadataExt;
    let mut cleared = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue }; // lstat: links are not followed
            let kind = meta.file_type();
            if !(kind.is_dir() || kind.is_file()) {
                continue;
            }
            if kind.is_dir() {
                stack.push(entry.path());
            }
            if meta.mode() & 0o7000 != 0 && chmod(&entry.path(), meta.mode() & 0o777).is_ok() {
                cleared += 1;
            }
        }
    }
    cleared
}

/// What one entry costs at least, however small: a million empty files is not free.
const MIN_ENTRY_BYTES: u64 = 512;

/// The disk space in use below `dir` (allocated blocks, at least `MIN_ENTRY_BYTES` an entry,
/// links not followed), counted until it passes `cap`: the walk stops there, so a huge tree
/// costs no more than the cap's worth. A directory that cannot be read is an error: the tree
/// cannot be measured.
pub fn disk_usage(dir: &Path, cap: u64) -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut used = 0u64;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let Ok(entry) = entry else { continue };
            let Ok(meta) = entry.metadata() else { continue };
            used += (meta.blocks() * 512).max(MIN_ENTRY_BYTES);
            if used > cap {
                return Ok(used);
            }
            if meta.file_type().is_dir() {
                stack.push(entry.path());
            }
        }
    }
    Ok(used)
}

fn chmod(path: &Path, mode: u32) -> std::io::Result<()> {
    match std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

fn remove_any(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(_) => Ok(()),
    }
}

fn outside(rel: &Path) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("{} does not stay inside the workspace", rel.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    // Guards: the bot's writes into a workspace never follow a link the agent planted.
    #[test]
    fn planted_links_are_replaced_not_followed() {
        let host = tempfile::tempdir().unwrap();
        let outside = host.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::write(outside.join("secret"), "host file").unwrap();
        let ws = host.path().join("workspace");
        std::fs::create_dir(&ws).unwrap();

        // The state directory itself is a link out.
        symlink(&outside, ws.join(".threadwork")).unwrap();
        write(&ws, Path::new(".threadwork/home/.codex/config.toml"), b"x").unwrap();
        // A file link inside a real state directory.
        symlink(
            outside.join("secret"),
            ws.join(".threadwork/home/.codex/auth.json"),
        )
        .unwrap();
        write(
            &ws,
            Path::new(".threadwork/home/.codex/auth.json"),
            b"token",
        )
        .unwrap();
        // A link in the tree when modes are opened up.
        symlink(&outside, ws.join(".threadwork/home/escape")).unwrap();
        set_modes(&ws.join(".threadwork"), 0o777, 0o666).unwrap();

        assert!(std::fs::symlink_metadata(ws.join(".threadwork"))
            .unwrap()
            .is_dir());
        assert_eq!(
            std::fs::read_to_string(outside.join("secret")).unwrap(),
            "host file"
        );
        assert_eq!(
            std::fs::read_dir(&outside).unwrap().count(),
            1,
            "nothing written outside"
        );
        let mode = std::fs::metadata(&outside).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "the host directory's mode is untouched");
        let secret_mode = std::fs::metadata(outside.join("secret"))
            .unwrap()
            .permissions()
            .mode();
        assert_ne!(secret_mode & 0o777, 0o666);
        assert_eq!(
            std::fs::read_to_string(ws.join(".threadwork/home/.codex/auth.json")).unwrap(),
            "token"
        );
        assert!(ensure_dir(&ws, Path::new("../x")).is_err());
        assert!(write(&ws, Path::new("/etc/passwd"), b"x").is_err());
    }

    // Guards: a run cannot hide its disk use. Empty files cost something, a link to a large
    // host tree is not followed, and the walk stops at the cap.
    #[test]
    fn disk_use_counts_every_entry_and_follows_no_link() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        std::fs::create_dir(&ws).unwrap();
        for i in 0..100 {
            std::fs::write(ws.join(format!("empty-{i}")), b"").unwrap();
        }
        let used = disk_usage(&ws, u64::MAX).unwrap();
        assert!(used >= 100 * MIN_ENTRY_BYTES, "{used}");
        assert!(disk_usage(&ws, 10 * MIN_ENTRY_BYTES).unwrap() > 10 * MIN_ENTRY_BYTES);
        let big = dir.path().join("big");
        std::fs::write(&big, vec![1u8; 4 << 20]).unwrap();
        symlink(&big, ws.join("link")).unwrap();
        assert!(
            disk_usage(&ws, u64::MAX).unwrap() < 1 << 20,
            "the link's target is not counted"
        );
    }

    #[test]
    fn special_bits_are_cleared_below_links_are_not_followed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        std::fs::create_dir_all(ws.join("d")).unwrap();
        let outside = dir.path().join("outside");
        std::fs::write(&outside, b"x").unwrap();
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o4755)).unwrap();
        symlink(&outside, ws.join("d/link")).unwrap();
        std::fs::write(ws.join("d/tool"), b"x").unwrap();
        std::fs::set_permissions(ws.join("d/tool"), std::fs::Permissions::from_mode(0o6755))
            .unwrap();
        assert_eq!(strip_special_bits(&ws), 1);
        let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&ws.join("d/tool")), 0o755);
        assert_eq!(
            mode(&outside),
            0o4755,
            "a link's target outside is left alone"
        );
    }
}
