//! Moving a job's workspace into its pod and back, streamed through the API server: in, a
//! tar.gz written straight into the init container's stdin (`pods/attach`); back, `tar` run
//! in the finished harness container (`pods/exec`) into a file next to the workspace, then
//! unpacked from there. Neither direction holds the workspace in memory, and the only bound
//! is the run's own disk limit. The checkout's history (`.git`) never leaves the bot, and
//! nothing comes back into it.

use std::io::Write;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Pod;
use kube::api::AttachParams;
use kube::Api;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::super::RuntimeError;

/// The init container that receives the workspace, and the file the wrapper waits for.
pub const INIT_CONTAINER: &str = "workspace";
pub const COLLECTED_FLAG: &str = "/tmp/.threadwork-collected";

/// Bytes in flight between the packing thread and the pod: the bot's memory for a transfer.
const CHUNK: usize = 64 * 1024;
const CHUNKS_IN_FLIGHT: usize = 8;

/// The most bytes a workspace may come back as (packed; unpacked, counting 512 bytes per
/// entry): the run's own disk limit, with room for tar's headers. Past either, or past
/// `MAX_ENTRIES` entries, the job fails and its workspace stays as it was: a small gzip bomb,
/// sparse files or millions of empty ones cannot fill the bot's disk or its inodes.
pub fn returned_limits(disk_mb: u64) -> (u64, u64) {
    let mib = 1024 * 1024;
    (disk_mb * mib + 64 * mib, disk_mb * mib + 64 * mib)
}

pub const MAX_ENTRIES: u64 = 1_000_000;

/// The most a transfer may take, each way.
pub const TRANSFER_TIMEOUT: std::time::Duration =
    std::time::Duration::from_secs(super::TRANSFER_WINDOW_SECS);

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> RuntimeError + '_ {
    move |source| RuntimeError::Workspace {
        path: path.to_path_buf(),
        source,
    }
}

/// A `Write` that hands full chunks to an async receiver (and waits while it is behind).
struct ChunkWriter {
    buf: Vec<u8>,
    tx: tokio::sync::mpsc::Sender<Vec<u8>>,
}

impl ChunkWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx
            .blocking_send(chunk)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the pod went away"))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// Writes the workspace as tar.gz into `out` (everything but `.git`; links kept as links).
pub fn pack(workspace: &Path, out: impl Write) -> Result<(), RuntimeError> {
    let io = io_error(workspace);
    let gz = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    tar.follow_symlinks(false);
    if workspace.exists() {
        for entry in std::fs::read_dir(workspace).map_err(&io)? {
            let entry = entry.map_err(&io)?;
            let name = entry.file_name();
            if name == ".git" {
                continue;
            }
            let path = entry.path();
            if path.is_dir() && !path.is_symlink() {
                tar.append_dir_all(&name, &path).map_err(&io)?;
            } else {
                tar.append_path_with_name(&path, &name).map_err(&io)?;
            }
        }
    }
    let mut gz = tar.into_inner().map_err(&io)?;
    gz.flush().map_err(&io)?;
    gz.finish().map_err(&io)?.flush().map_err(&io)?;
    Ok(())
}

/// Whether a path inside an archive is (under) the top-level `.git` (however written).
fn in_git_dir(path: &Path) -> bool {
    path.components()
        .find_map(|c| match c {
            std::path::Component::Normal(n) => Some(n),
            _ => None,
        })
        .is_some_and(|c| c.to_string_lossy().eq_ignore_ascii_case(".git"))
}

/// `path` inside the archive as a relative path (what `unpack_in` writes to).
fn relative(path: &Path) -> PathBuf {
    path.components()
        .filter_map(|c| match c {
            std::path::Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect()
}

/// Reads the archive's headers through: refused past the limits or unreadable.
fn measure(archive: &Path, max_unpacked: u64) -> Result<(), RuntimeError> {
    let unreadable = |e: std::io::Error| {
        RuntimeError::Refused(format!("the workspace came back unreadable: {e}"))
    };
    let file = std::fs::File::open(archive).map_err(unreadable)?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)));
    let (mut bytes, mut entries) = (0u64, 0u64);
    for entry in tar.entries().map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        entries += 1;
        bytes = bytes
            .saturating_add(entry.header().entry_size().unwrap_or(u64::MAX))
            .saturating_add(512);
        if bytes > max_unpacked {
            return Err(RuntimeError::Refused(format!(
                "the workspace came back larger than {} MB unpacked; it was not restored",
                max_unpacked / (1024 * 1024)
            )));
        }
        if entries > MAX_ENTRIES {
            return Err(RuntimeError::Refused(format!(
                "the workspace came back with more than {MAX_ENTRIES} files; it was not restored"
            )));
        }
    }
    Ok(())
}

/// Replaces the workspace (but its `.git`) with the tar.gz at `archive`. It is measured
/// first and unpacked beside the workspace, which is swapped in only when all of it is there:
/// a refused or broken archive changes nothing. Entries under `.git` (and hard links into it)
/// are skipped; what comes back is readable and writable by the bot.
pub fn unpack(workspace: &Path, archive: &Path, max_unpacked: u64) -> Result<(), RuntimeError> {
    let io = io_error(workspace);
    measure(archive, max_unpacked)?;
    let parent = workspace.parent().unwrap_or(Path::new("."));
    let name = workspace
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let stage = parent.join(format!(".threadwork-returning-{name}"));
    let trash = parent.join(format!(".threadwork-replaced-{name}"));
    for old in [&stage, &trash] {
        if old.exists() {
            std::fs::remove_dir_all(old).map_err(&io)?;
        }
    }
    std::fs::create_dir_all(&stage).map_err(&io)?;
    if let Err(e) = unpack_into(&stage, archive) {
        let _ = std::fs::remove_dir_all(&stage);
        return Err(e);
    }
    if let Ok(meta) = std::fs::metadata(workspace) {
        let _ = std::fs::set_permissions(&stage, meta.permissions());
    }
    // Swap: the old tree aside, its history into the new one, the new one in place.
    let swap = || -> std::io::Result<()> {
        if workspace.exists() {
            std::fs::rename(workspace, &trash)?;
            if trash.join(".git").exists() {
                std::fs::rename(trash.join(".git"), stage.join(".git"))?;
            }
        }
        std::fs::rename(&stage, workspace)
    };
    if let Err(e) = swap() {
        // Back as it was, as far as it goes.
        if trash.exists() && !workspace.exists() {
            if stage.join(".git").exists() && !trash.join(".git").exists() {
                let _ = std::fs::rename(stage.join(".git"), trash.join(".git"));
            }
            let _ = std::fs::rename(&trash, workspace);
        }
        let _ = std::fs::remove_dir_all(&stage);
        return Err(io(e));
    }
    if trash.exists() {
        std::fs::remove_dir_all(&trash).map_err(&io)?;
    }
    Ok(())
}

fn unpack_into(dir: &Path, archive: &Path) -> Result<(), RuntimeError> {
    use std::os::unix::fs::PermissionsExt;
    let io = io_error(dir);
    let file = std::fs::File::open(archive).map_err(&io)?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)));
    tar.set_preserve_permissions(true);
    // No setuid, setgid or sticky bit from the pod lands on a file of the bot's host.
    tar.set_mask(0o7000);
    for entry in tar.entries().map_err(&io)? {
        let mut entry = entry.map_err(&io)?;
        let path = entry.path().map_err(&io)?.into_owned();
        let kind = entry.header().entry_type();
        let into_git = kind.is_hard_link()
            && entry
                .link_name()
                .ok()
                .flatten()
                .is_some_and(|target| in_git_dir(&target));
        if in_git_dir(&path) || into_git {
            continue;
        }
        // `unpack_in` refuses `..`, absolute paths and writing through a link out of `dir`.
        if !entry.unpack_in(dir).map_err(&io)? {
            continue;
        }
        // The bot must be able to read, change and remove what came back (a directory
        // without write permission would stop its own files, and the next run's clearing).
        let owner = if kind.is_dir() {
            0o700
        } else if kind.is_file() {
            0o600
        } else {
            continue;
        };
        let dest = dir.join(relative(&path));
        if let Ok(meta) = std::fs::symlink_metadata(&dest) {
            if !meta.file_type().is_symlink() {
                let mode = meta.permissions().mode() | owner;
                std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(mode))
                    .map_err(&io)?;
            }
        }
    }
    Ok(())
}

/// Waits for the end of a stream session: its status (a failure in words), then its end.
async fn finish(mut proc: kube::api::AttachedProcess, what: &str) -> Result<(), RuntimeError> {
    // The status must be taken before `join`, which drops what would receive it.
    let status = proc.take_status();
    let status = match status {
        Some(s) => s.await,
        None => None,
    };
    let joined = proc.join().await;
    if let Some(s) = status {
        if s.status.as_deref() == Some("Failure") {
            return Err(RuntimeError::Refused(format!(
                "{what} failed in the pod: {}",
                s.message.unwrap_or_default()
            )));
        }
    }
    joined.map_err(|e| RuntimeError::Refused(format!("{what} failed: {e}")))
}

/// Streams the workspace into the pod's init container, whose `tar -x` ends at end of input;
/// within `TRANSFER_TIMEOUT`.
pub async fn send(pods: &Api<Pod>, pod: &str, workspace: &Path) -> Result<(), RuntimeError> {
    tokio::time::timeout(TRANSFER_TIMEOUT, send_now(pods, pod, workspace))
        .await
        .unwrap_or_else(|_| {
            Err(RuntimeError::Refused(format!(
                "sending the workspace to the pod took more than {} minutes",
                TRANSFER_TIMEOUT.as_secs() / 60
            )))
        })
}

async fn send_now(pods: &Api<Pod>, pod: &str, workspace: &Path) -> Result<(), RuntimeError> {
    let params = AttachParams::default()
        .container(INIT_CONTAINER)
        .stdin(true)
        .stdout(false)
        .stderr(false)
        .max_stdin_buf_size(CHUNK);
    let mut attached = pods.attach(pod, &params).await.map_err(super::refused)?;
    let status = attached.take_status();
    let mut stdin = attached
        .stdin()
        .ok_or_else(|| RuntimeError::Refused("the pod's init container took no input".into()))?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(CHUNKS_IN_FLIGHT);
    let dir = workspace.to_path_buf();
    let packing = tokio::task::spawn_blocking(move || {
        let mut out = ChunkWriter {
            buf: Vec::with_capacity(CHUNK),
            tx,
        };
        pack(&dir, &mut out)?;
        out.flush().map_err(io_error(&dir))
    });
    let mut sent = Ok(());
    while let Some(chunk) = rx.recv().await {
        if let Err(e) = stdin.write_all(&chunk).await {
            sent = Err(RuntimeError::Refused(format!(
                "sending the workspace to the pod failed: {e}"
            )));
            break;
        }
    }
    drop(rx);
    let packed = packing.await.unwrap_or_else(|e| {
        Err(RuntimeError::Refused(format!(
            "packing the workspace failed: {e}"
        )))
    });
    // End of input: the init container's `tar` finishes and the harness starts.
    let _ = stdin.shutdown().await;
    drop(stdin);
    // Attach reports no exit status of its own: the init container's end says how it went.
    let _ = match status {
        Some(s) => s.await,
        None => None,
    };
    let joined = attached.join().await;
    packed?;
    sent?;
    joined
        .map_err(|e| RuntimeError::Refused(format!("sending the workspace to the pod failed: {e}")))
}

/// Copies `/workspace` out of the harness container into a file beside `workspace`, unpacks
/// it over `workspace`, and tells the container it may end. Ok(false): nothing came back.
pub async fn collect(
    pods: &Api<Pod>,
    pod: &str,
    workspace: &Path,
    disk_mb: u64,
) -> Result<bool, RuntimeError> {
    let (max_packed, max_unpacked) = returned_limits(disk_mb);
    let fetched = tokio::time::timeout(TRANSFER_TIMEOUT, fetch(pods, pod, workspace, max_packed))
        .await
        .unwrap_or_else(|_| {
            Err(RuntimeError::Refused(format!(
                "copying the workspace back took more than {} minutes",
                TRANSFER_TIMEOUT.as_secs() / 60
            )))
        });
    // Whatever came of it, the container may end now (else it waits out its window).
    let flagged = async {
        // (A stream session needs one stream; `touch` prints nothing on it.)
        let params = AttachParams::default().stderr(false).container("harness");
        let touched = pods
            .exec(pod, ["touch", COLLECTED_FLAG], &params)
            .await
            .map_err(super::refused)?;
        finish(touched, "ending the pod").await
    }
    .await;
    let file = fetched?;
    if let Err(e) = flagged {
        // The copy is whole; the container ends with its Job instead.
        tracing::warn!(pod, error = %e, "cannot tell the pod its workspace was copied");
    }
    let dir = workspace.to_path_buf();
    tokio::task::spawn_blocking(move || unpack(&dir, file.path(), max_unpacked).map(|_| true))
        .await
        .unwrap_or_else(|e| {
            Err(RuntimeError::Refused(format!(
                "restoring the workspace failed: {e}"
            )))
        })
}

/// The container's `/workspace` as tar.gz in a temporary file beside `workspace`.
async fn fetch(
    pods: &Api<Pod>,
    pod: &str,
    workspace: &Path,
    max_packed: u64,
) -> Result<tempfile::NamedTempFile, RuntimeError> {
    let parent: PathBuf = workspace
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    let io = io_error(workspace);
    let file = tempfile::Builder::new()
        .prefix(".threadwork-returned-")
        .suffix(".tar.gz")
        .tempfile_in(&parent)
        .map_err(&io)?;
    let params = AttachParams::default()
        .container("harness")
        .stdout(true)
        .stderr(false)
        .max_stdout_buf_size(CHUNK);
    let mut proc = pods
        .exec(pod, ["tar", "-czf", "-", "-C", "/workspace", "."], &params)
        .await
        .map_err(super::refused)?;
    let stdout = proc
        .stdout()
        .ok_or_else(|| RuntimeError::Refused("the pod gave no output".into()))?;
    let mut out = tokio::fs::File::from_std(file.reopen().map_err(&io)?);
    let copied = tokio::io::copy(&mut stdout.take(max_packed + 1), &mut out)
        .await
        .map_err(|e| RuntimeError::Refused(format!("copying the workspace back failed: {e}")))?;
    out.flush().await.map_err(&io)?;
    if copied > max_packed {
        proc.abort();
        return Err(RuntimeError::Refused(format!(
            "the workspace came back larger than {} MB packed; it was not restored",
            max_packed / (1024 * 1024)
        )));
    }
    finish(proc, "copying the workspace back").await?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packed(dir: &Path) -> Vec<u8> {
        let mut out = Vec::new();
        pack(dir, &mut out).unwrap();
        out
    }

    #[test]
    fn a_workspace_goes_and_comes_back_without_its_history() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join("src/a.rs"), "fn a() {}").unwrap();
        std::fs::write(dir.path().join(".git/HEAD"), "ref").unwrap();
        let sent = packed(dir.path());
        // The pod's side: unpack, change, pack again (a `.git` of its own included).
        let pod = tempfile::tempdir().unwrap();
        tar::Archive::new(flate2::read::GzDecoder::new(&sent[..]))
            .unpack(pod.path())
            .unwrap();
        assert!(
            !pod.path().join(".git").exists(),
            "history stays with the bot"
        );
        std::fs::write(pod.path().join("src/b.rs"), "fn b() {}").unwrap();
        std::fs::remove_file(pod.path().join("src/a.rs")).unwrap();
        std::fs::create_dir_all(pod.path().join(".git/hooks")).unwrap();
        std::fs::write(pod.path().join(".git/hooks/pre-commit"), "evil").unwrap();
        std::fs::write(pod.path().join(".git/HEAD"), "planted").unwrap();
        let back = tempfile::NamedTempFile::new().unwrap();
        pack_all(pod.path(), back.path());
        unpack(dir.path(), back.path(), 1 << 20).unwrap();
        assert!(dir.path().join("src/b.rs").exists());
        assert!(!dir.path().join("src/a.rs").exists());
        assert_eq!(
            std::fs::read_to_string(dir.path().join(".git/HEAD")).unwrap(),
            "ref",
            "nothing comes back into the history"
        );
        assert!(!dir.path().join(".git/hooks").exists());
    }

    /// As the pod's `tar -czf - -C /workspace .` does: everything, `./` prefixed.
    fn pack_all(dir: &Path, to: &Path) {
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(to).unwrap(),
            flate2::Compression::fast(),
        );
        let mut tar = tar::Builder::new(gz);
        tar.append_dir_all(".", dir).unwrap();
        tar.into_inner().unwrap().finish().unwrap();
    }

    // Guards: a workspace coming back is bounded. A small gzip bomb (a few hundred KB whose
    // one file claims more than the limit) fails the restore — the job, not the bot — and
    // leaves the workspace as it was; so does an archive cut short.
    #[test]
    fn a_gzip_bomb_or_a_broken_archive_coming_back_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("job-1");
        std::fs::create_dir_all(&ws).unwrap();
        std::fs::write(ws.join("kept.txt"), "still here").unwrap();
        let (_, max_unpacked) = returned_limits(4);
        let bomb = tempfile::NamedTempFile::new().unwrap();
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(bomb.path()).unwrap(),
            flate2::Compression::best(),
        );
        let mut tar = tar::Builder::new(gz);
        let mut header = tar::Header::new_gnu();
        header.set_size(max_unpacked + 1);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(
            &mut header,
            "zeros.bin",
            std::io::Read::take(std::io::repeat(0), max_unpacked + 1),
        )
        .unwrap();
        tar.into_inner().unwrap().finish().unwrap();
        assert!(std::fs::metadata(bomb.path()).unwrap().len() < 1024 * 1024);
        let err = unpack(&ws, bomb.path(), max_unpacked).unwrap_err();
        assert!(err.to_string().contains("larger than"), "{err}");

        let good = tempfile::NamedTempFile::new().unwrap();
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("new.txt"), "x".repeat(100_000)).unwrap();
        pack_all(src.path(), good.path());
        let bytes = std::fs::read(good.path()).unwrap();
        let cut = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(cut.path(), &bytes[..bytes.len() / 2]).unwrap();
        let err = unpack(&ws, cut.path(), max_unpacked).unwrap_err();
        assert!(err.to_string().contains("unreadable"), "{err}");

        assert_eq!(
            std::fs::read_to_string(ws.join("kept.txt")).unwrap(),
            "still here"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "nothing staged is left beside the workspace");
    }

    #[test]
    fn what_comes_back_stays_out_of_the_history_and_stays_writable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("job-1");
        std::fs::create_dir_all(ws.join(".git")).unwrap();
        std::fs::write(ws.join(".git/config"), "[core]\n").unwrap();
        let archive = tempfile::NamedTempFile::new().unwrap();
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(archive.path()).unwrap(),
            flate2::Compression::fast(),
        );
        let mut tar = tar::Builder::new(gz);
        let mut add =
            |path: &str, kind: tar::EntryType, mode: u32, link: Option<&str>, data: &[u8]| {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(kind);
                h.set_mode(mode);
                h.set_size(data.len() as u64);
                if let Some(l) = link {
                    h.set_link_name(l).unwrap();
                }
                h.set_path(path).unwrap();
                h.set_cksum();
                tar.append(&h, data).unwrap();
            };
        add(
            "./.GIT/hooks/pre-commit",
            tar::EntryType::Regular,
            0o755,
            None,
            b"evil",
        );
        add(
            "./.git/config",
            tar::EntryType::Regular,
            0o644,
            None,
            b"evil",
        );
        add("./src", tar::EntryType::Directory, 0o500, None, b"");
        add(
            "./src/a.rs",
            tar::EntryType::Regular,
            0o400,
            None,
            b"fn a() {}",
        );
        add(
            "./peek",
            tar::EntryType::Link,
            0o644,
            Some("./.git/config"),
            b"",
        );
        tar.into_inner().unwrap().finish().unwrap();
        unpack(&ws, archive.path(), 1 << 20).unwrap();
        assert_eq!(
            std::fs::read_to_string(ws.join(".git/config")).unwrap(),
            "[core]\n"
        );
        assert!(!ws.join(".git/hooks").exists() && !ws.join(".GIT").exists());
        assert!(!ws.join("peek").exists(), "no hard link into the history");
        assert_eq!(
            std::fs::read_to_string(ws.join("src/a.rs")).unwrap(),
            "fn a() {}"
        );
        let mode = |p: &str| std::fs::metadata(ws.join(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("src"), 0o700, "the bot may write in it");
        assert_eq!(mode("src/a.rs"), 0o600);
        // The next copy back replaces it all again.
        let again = tempfile::NamedTempFile::new().unwrap();
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("b.rs"), "fn b() {}").unwrap();
        pack_all(src.path(), again.path());
        unpack(&ws, again.path(), 1 << 20).unwrap();
        assert!(!ws.join("src").exists() && ws.join("b.rs").exists());
        assert!(ws.join(".git/config").exists());
    }

    #[test]
    fn a_git_dir_is_recognised_however_it_is_written() {
        for p in [
            ".git",
            "./.git/config",
            ".git/hooks/x",
            "/.git/x",
            ".//.git",
            "./.GIT/x",
        ] {
            assert!(in_git_dir(Path::new(p)), "{p}");
        }
        for p in ["src/.git", "./src/a.rs", ".github/workflows/ci.yml", "."] {
            assert!(!in_git_dir(Path::new(p)), "{p}");
        }
    }
}
