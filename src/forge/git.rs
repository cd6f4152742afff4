//! The git work outside the sandbox, with the git CLI: clone a repository for a job, commit
//! what the agent changed, push the branch.
//!
//! The bot's repository (`job-N.git`, bare) never enters the sandbox; the workspace gets a
//! local clone of it for the agent's own `git` use. The bot always runs git with
//! `--git-dir=<its repository> --work-tree=<workspace>`, hooks and fsmonitor off, so nothing
//! the agent wrote into the workspace (a `.git/config`, hooks) is ever run or read as config.
//! The token travels as an HTTP header in git's environment (`GIT_CONFIG_*`): never in a URL,
//! an argument or a file.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

/// Where the agent's CLIs keep their state in the workspace: never committed.
pub const STATE_DIR: &str = ".threadwork/";

/// The most one git command may take (a large clone included).
const GIT_TIMEOUT: Duration = Duration::from_secs(600);

/// The largest file an agent's change may commit (forges refuse or warn well before 100 MB).
pub const MAX_FILE_BYTES: u64 = 50 * 1024 * 1024;
/// The most an agent's change may commit in all.
pub const MAX_CHANGE_BYTES: u64 = 200 * 1024 * 1024;
/// The most files an agent's change may commit.
pub const MAX_CHANGE_FILES: usize = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("git is not installed where the bot runs ({0}); install git")]
    Missing(String),
    #[error("`git {command}` failed: {message}")]
    Failed { command: String, message: String },
    #[error("`git {command}` took longer than {} s", GIT_TIMEOUT.as_secs())]
    TimedOut { command: String },
    #[error("`{path}` is {} MB, more than the {} MB one file may be; nothing was committed (delete it, or list it in .gitignore)", mb(*bytes), mb(MAX_FILE_BYTES))]
    FileTooLarge { path: String, bytes: u64 },
    #[error("the change is {} MB, more than the {} MB one commit may be (its largest file is `{largest}`); nothing was committed", mb(*bytes), mb(MAX_CHANGE_BYTES))]
    ChangeTooLarge { bytes: u64, largest: String },
    #[error("the change has more than {MAX_CHANGE_FILES} files ({files} counted); nothing was committed")]
    TooManyFiles { files: usize },
    #[error("cannot prepare {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A job's repository: the bot's bare repository and the workspace it checks out into.
#[derive(Debug, Clone)]
pub struct Checkout {
    pub git_dir: PathBuf,
    pub work_tree: PathBuf,
}

/// What a commit holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub sha: String,
    pub files: usize,
}

impl Checkout {
    /// The repository of the workspace at `work_tree`, kept beside it.
    pub fn beside(work_tree: &Path) -> Self {
        let mut name = work_tree
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        name.push(".git");
        Self {
            git_dir: work_tree.with_file_name(name),
            work_tree: work_tree.to_path_buf(),
        }
    }

    /// True once `prepare` has completed for this checkout.
    pub async fn is_prepared(&self, branch: &str) -> bool {
        self.git_dir.join("HEAD").exists()
            && self
                .bot(&[
                    "rev-parse",
                    "--verify",
                    "--quiet",
                    &format!("refs/heads/{branch}"),
                ])
                .await
                .is_ok()
    }

    /// The base branch the job's branch started from.
    pub async fn base(&self) -> Option<String> {
        self.bot(&["config", "threadwork.base"]).await.ok()
    }

    /// Clones `url` (at `base`, or its default branch) and starts `branch` there; the
    /// workspace gets a copy the sandbox user may edit. Returns the base branch.
    pub async fn prepare(
        &self,
        url: &str,
        base: Option<&str>,
        branch: &str,
        auth: &SecretString,
    ) -> Result<String, GitError> {
        self.prepare_at(url, base, None, branch, auth).await
    }

    /// `prepare`, with the base branch set back to `commit` (one of its commits) first: the
    /// workspace's copy is made through git's transport, so it holds what that commit reaches
    /// and nothing of the branch after it (an eval case must not find the answer in its
    /// repository's future).
    pub async fn prepare_at(
        &self,
        url: &str,
        base: Option<&str>,
        commit: Option<&str>,
        branch: &str,
        auth: &SecretString,
    ) -> Result<String, GitError> {
        // What a crash mid-way left is started again.
        for dir in [&self.git_dir, &self.work_tree] {
            if dir.exists() {
                std::fs::remove_dir_all(dir).map_err(|source| GitError::Io {
                    path: dir.clone(),
                    source,
                })?;
            }
        }
        let git_dir = path_arg(&self.git_dir);
        let mut clone = vec!["clone", "--bare", "--quiet", "--single-branch", "--no-tags"];
        if let Some(b) = base {
            clone.extend(["--branch", b]);
        }
        clone.extend(["--", url, &git_dir]);
        run(&clone, Some(auth)).await?;
        let base = self.bot(&["symbolic-ref", "--short", "HEAD"]).await?;
        self.bot(&["config", "threadwork.base", &base]).await?;
        // The agent's copy: its own objects (no hard links into ours), no remote.
        let work_tree = path_arg(&self.work_tree);
        let mut copy = vec!["clone", "--quiet", "--no-hardlinks"];
        if let Some(commit) = commit {
            let sha = self
                .bot(&["rev-parse", "--verify", &format!("{commit}^{{commit}}")])
                .await?;
            self.bot(&["update-ref", &format!("refs/heads/{base}"), &sha])
                .await?;
            // Through the transport: only what the refs reach now comes across.
            copy.push("--no-local");
        }
        copy.extend(["--", &git_dir, &work_tree]);
        run(&copy, None).await?;
        run(&["-C", &work_tree, "remote", "remove", "origin"], None).await?;
        self.bot(&["update-ref", &format!("refs/heads/{branch}"), "HEAD"])
            .await?;
        self.bot(&["symbolic-ref", "HEAD", &format!("refs/heads/{branch}")])
            .await?;
        self.tree(&["reset", "--quiet"]).await?;
        let info = self.git_dir.join("info");
        std::fs::create_dir_all(&info)
            .and_then(|_| std::fs::write(info.join("exclude"), format!("{STATE_DIR}\n")))
            .map_err(|source| GitError::Io {
                path: info.clone(),
                source,
            })?;
        open_up(&self.work_tree).map_err(|source| GitError::Io {
            path: self.work_tree.clone(),
            source,
        })?;
        Ok(base)
    }

    /// Commits everything the agent changed; `None` when nothing changed since the last commit.
    /// A change over the size caps is refused before git reads any of it.
    pub async fn commit(
        &self,
        message: &str,
        name: &str,
        email: &str,
    ) -> Result<Option<Commit>, GitError> {
        let git_dir = format!("--git-dir={}", path_arg(&self.git_dir));
        let work_tree = format!("--work-tree={}", path_arg(&self.work_tree));
        let changed = run_raw(
            &[
                &git_dir,
                &work_tree,
                "ls-files",
                "-z",
                "--others",
                "--modified",
                "--exclude-standard",
            ],
            None,
            None,
        )
        .await?;
        check_sizes(&self.work_tree, changed.split(|b| *b == 0))?;
        self.tree(&["add", "--all"]).await?;
        let staged = self
            .tree(&["diff", "--cached", "--name-only", "-z"])
            .await?;
        let files = staged.split('\0').filter(|f| !f.is_empty()).count();
        if files == 0 {
            return Ok(None);
        }
        let name_cfg = format!("user.name={name}");
        let email_cfg = format!("user.email={email}");
        let git_dir = format!("--git-dir={}", path_arg(&self.git_dir));
        let work_tree = format!("--work-tree={}", path_arg(&self.work_tree));
        run_with_input(
            &[
                &git_dir,
                &work_tree,
                "-c",
                &name_cfg,
                "-c",
                &email_cfg,
                "commit",
                "--quiet",
                "--no-verify",
                "--file=-",
            ],
            None,
            Some(message),
        )
        .await?;
        let sha = self.bot(&["rev-parse", "HEAD"]).await?;
        Ok(Some(Commit { sha, files }))
    }

    /// The commit the job's branch started from: the base branch as it was cloned.
    pub async fn base_commit(&self) -> Result<String, GitError> {
        let base = self.bot(&["config", "threadwork.base"]).await?;
        self.bot(&["rev-parse", "--verify", &format!("refs/heads/{base}")])
            .await
    }

    /// The branch's last commit.
    pub async fn head(&self) -> Result<String, GitError> {
        self.bot(&["rev-parse", "HEAD"]).await
    }

    /// Pushes `branch` to `url` (fast-forward only).
    pub async fn push(&self, url: &str, branch: &str, auth: &SecretString) -> Result<(), GitError> {
        let refspec = format!("refs/heads/{branch}:refs/heads/{branch}");
        let git_dir = format!("--git-dir={}", path_arg(&self.git_dir));
        run(
            &[&git_dir, "push", "--quiet", "--", url, &refspec],
            Some(auth),
        )
        .await?;
        Ok(())
    }

    async fn bot(&self, args: &[&str]) -> Result<String, GitError> {
        let git_dir = format!("--git-dir={}", path_arg(&self.git_dir));
        let mut all = vec![git_dir.as_str()];
        all.extend(args);
        run(&all, None).await
    }

    async fn tree(&self, args: &[&str]) -> Result<String, GitError> {
        let git_dir = format!("--git-dir={}", path_arg(&self.git_dir));
        let work_tree = format!("--work-tree={}", path_arg(&self.work_tree));
        let mut all = vec![git_dir.as_str(), work_tree.as_str()];
        all.extend(args);
        run(&all, None).await
    }
}

fn mb(bytes: u64) -> u64 {
    bytes.div_ceil(1024 * 1024)
}

/// Refuses a change with a file over `MAX_FILE_BYTES`, a total over `MAX_CHANGE_BYTES` or more
/// than `MAX_CHANGE_FILES` files. `paths` are git's raw bytes (any name is measured as it is
/// on disk); links are measured, never followed; only a file that is gone (deleted) counts
/// nothing — any other failure to measure refuses the change.
fn check_sizes<'a>(
    work_tree: &Path,
    paths: impl Iterator<Item = &'a [u8]>,
) -> Result<(), GitError> {
    use std::os::unix::ffi::OsStrExt;
    let mut total = 0u64;
    let mut files = 0usize;
    let mut largest = (0u64, String::new());
    for raw in paths.filter(|p| !p.is_empty()) {
        let path = std::ffi::OsStr::from_bytes(raw);
        let shown = || String::from_utf8_lossy(raw).into_owned();
        let bytes = match std::fs::symlink_metadata(work_tree.join(path)) {
            Ok(meta) => meta.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(GitError::Io {
                    path: work_tree.join(path),
                    source,
                })
            }
        };
        files += 1;
        if files > MAX_CHANGE_FILES {
            return Err(GitError::TooManyFiles { files });
        }
        if bytes > MAX_FILE_BYTES {
            return Err(GitError::FileTooLarge {
                path: shown(),
                bytes,
            });
        }
        total += bytes;
        if bytes > largest.0 {
            largest = (bytes, shown());
        }
    }
    if total > MAX_CHANGE_BYTES {
        return Err(GitError::ChangeTooLarge {
            bytes: total,
            largest: largest.1,
        });
    }
    Ok(())
}

fn path_arg(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Runs git with the bot's safety settings; `auth` is added as an HTTP header through the
/// environment. Returns trimmed stdout.
async fn run(args: &[&str], auth: Option<&SecretString>) -> Result<String, GitError> {
    run_with_input(args, auth, None).await
}

async fn run_with_input(
    args: &[&str],
    auth: Option<&SecretString>,
    input: Option<&str>,
) -> Result<String, GitError> {
    let out = run_raw(args, auth, input).await?;
    Ok(String::from_utf8_lossy(&out).trim().to_string())
}

/// Runs git as `run` does and returns its stdout as it came (for `-z` lists of paths, which
/// may hold any byte but NUL).
async fn run_raw(
    args: &[&str],
    auth: Option<&SecretString>,
    input: Option<&str>,
) -> Result<Vec<u8>, GitError> {
    use tokio::io::AsyncWriteExt;
    let command = command_label(args);
    let mut cmd = tokio::process::Command::new("git");
    cmd.args([
        "-c",
        "core.hooksPath=/dev/null",
        "-c",
        "core.fsmonitor=false",
        "-c",
        "safe.directory=*",
        "-c",
        "credential.helper=",
    ])
    .args(args)
    .env("GIT_TERMINAL_PROMPT", "0")
    .env("GIT_CONFIG_NOSYSTEM", "1")
    // Neither the bot user's own git config nor config from the bot's environment applies
    // to agent repositories: only what is given here.
    .env("GIT_CONFIG_GLOBAL", "/dev/null")
    .env_remove("GIT_CONFIG_PARAMETERS")
    .env_remove("GIT_CONFIG_COUNT")
    .env_remove("GIT_DIR")
    .env_remove("GIT_WORK_TREE")
    // The bot's certificate files and proxy, as its other clients use them (`net`).
    .envs(crate::net::outbound().git_env())
    .stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    if let Some(auth) = auth {
        cmd.env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "http.extraHeader")
            .env("GIT_CONFIG_VALUE_0", auth.expose_secret());
    }
    let mut child = cmd.spawn().map_err(|e| GitError::Missing(e.to_string()))?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        let _ = stdin.write_all(text.as_bytes()).await;
    }
    let out = match tokio::time::timeout(GIT_TIMEOUT, child.wait_with_output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => return Err(GitError::Missing(e.to_string())),
        Err(_) => return Err(GitError::TimedOut { command }),
    };
    if out.status.success() {
        return Ok(out.stdout);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let message = lines[lines.len().saturating_sub(4)..].join(" / ");
    Err(GitError::Failed {
        command,
        message: if message.is_empty() {
            format!("exit status {}", out.status.code().unwrap_or(-1))
        } else {
            message
        },
    })
}

/// The subcommand and its first argument, for messages (no `-c` values, no paths of ours).
fn command_label(args: &[&str]) -> String {
    let mut words = Vec::new();
    let mut skip = false;
    for a in args {
        if skip {
            skip = false;
        } else if *a == "-c" || *a == "-C" {
            skip = true;
        } else if !a.starts_with("--git-dir=") && !a.starts_with("--work-tree=") {
            words.push(*a);
        }
    }
    words.into_iter().take(2).collect::<Vec<_>>().join(" ")
}

/// Makes a fresh checkout writable by the sandbox's user (a different uid from the bot's).
fn open_up(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(dir)?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let mode = meta.permissions().mode();
    // Directories and executables get x for everyone; everything gets rw.
    let extra = if meta.is_dir() || mode & 0o100 != 0 {
        0o777
    } else {
        0o666
    };
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | extra))?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(dir)? {
            open_up(&entry?.path())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Guards: what an agent's change may push. A file over the cap is named and nothing is
    // committed; a link to a large host file is measured as a link, not followed.
    #[test]
    fn changes_over_the_size_caps_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let big = std::fs::File::create(dir.path().join("dump.bin")).unwrap();
        big.set_len(MAX_FILE_BYTES + 1).unwrap();
        std::fs::write(dir.path().join("small.txt"), "ok").unwrap();
        let err =
            check_sizes(dir.path(), [&b"small.txt"[..], b"dump.bin"].into_iter()).unwrap_err();
        assert!(matches!(&err, GitError::FileTooLarge { path, .. } if path == "dump.bin"));
        assert!(err.to_string().contains("nothing was committed"), "{err}");

        std::os::unix::fs::symlink(dir.path().join("dump.bin"), dir.path().join("link")).unwrap();
        check_sizes(
            dir.path(),
            [&b"small.txt"[..], b"link", b"deleted.txt"].into_iter(),
        )
        .unwrap();

        let names: Vec<String> = (0..5).map(|i| format!("part{i}")).collect();
        for name in &names {
            let f = std::fs::File::create(dir.path().join(name)).unwrap();
            f.set_len(MAX_FILE_BYTES).unwrap();
        }
        let err = check_sizes(dir.path(), names.iter().map(|n| n.as_bytes())).unwrap_err();
        assert!(matches!(err, GitError::ChangeTooLarge { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_commit_with_a_file_over_the_cap_commits_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let origin = dir.path().join("origin");
        let sh = |args: &[&str]| {
            let out = std::process::Command::new("git")
                .args(args)
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .output()
                .unwrap();
            assert!(out.status.success(), "{args:?}: {out:?}");
        };
        let o = origin.to_str().unwrap();
        sh(&["init", "--quiet", "--initial-branch=main", o]);
        std::fs::write(origin.join("README"), "hi").unwrap();
        sh(&["-C", o, "add", "README"]);
        sh(&[
            "-C",
            o,
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@e",
            "commit",
            "--quiet",
            "-m",
            "one",
        ]);
        let checkout = Checkout::beside(&dir.path().join("job-1"));
        let auth = SecretString::from("");
        checkout.prepare(o, None, "tw/job-1", &auth).await.unwrap();
        let before = checkout.head().await.unwrap();
        let big = std::fs::File::create(checkout.work_tree.join("dump.bin")).unwrap();
        big.set_len(MAX_FILE_BYTES + 1).unwrap();
        let err = checkout
            .commit("add dump", "bot", "bot@e")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, GitError::FileTooLarge { path, .. } if path == "dump.bin"),
            "{err}"
        );
        assert_eq!(
            checkout.head().await.unwrap(),
            before,
            "nothing was committed"
        );
        // Names git would quote, that are not UTF-8 or that start with a blank are measured too.
        std::fs::remove_file(checkout.work_tree.join("dump.bin")).unwrap();
        use std::os::unix::ffi::OsStrExt;
        for name in [&b"\tdump"[..], b"d\xffump", b"du\nmp"] {
            let path = checkout.work_tree.join(std::ffi::OsStr::from_bytes(name));
            let big = std::fs::File::create(&path).unwrap();
            big.set_len(MAX_FILE_BYTES + 1).unwrap();
            let err = checkout
                .commit("add dump", "bot", "bot@e")
                .await
                .unwrap_err();
            assert!(
                matches!(err, GitError::FileTooLarge { .. }),
                "{name:?}: {err}"
            );
            std::fs::remove_file(&path).unwrap();
        }
        assert_eq!(
            checkout.head().await.unwrap(),
            before,
            "nothing was committed"
        );
    }
}
