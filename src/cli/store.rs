//! `threadwork store backup FILE` / `restore FILE`: a whole, checked copy of the store, taken
//! from the store itself or, while a bot holds it, from that bot's ops server; restored only
//! into a new store, and only from a backup that is whole and unchanged.
//!
//! `threadwork store verify`: every record of every tree read (decoded, or checked for its
//! shape) and the audit chain checked; nothing is moved (sled itself may tidy its log on open: for a strictly
//! read-only check, verify a copy). The store must not be held by a running bot (sled
//! takes a lock on open), and must exist: a mistyped path is an error, not a new store.

use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use crate::config::Config;
use crate::store::{SledStore, Store, Verified};

/// Opens the store at `path` and prints what `verify` found; `Ok(false)` when a record does
/// not decode or the audit chain is broken.
pub fn verify(path: &Path) -> anyhow::Result<bool> {
    if !path.join("conf").exists() {
        anyhow::bail!("there is no store at {}", path.display());
    }
    let store = SledStore::open(path).map_err(|e| {
        anyhow::anyhow!(
            "cannot open the store at {}: {e} (a running bot holds it: stop the bot, or verify a copy)",
            path.display()
        )
    })?;
    let found = store.verify()?;
    let (text, ok) = render(&found);
    println!("{text}");
    Ok(ok)
}

/// Writes a backup of the store `config` names to `file` (new, 0600: it holds job content
/// and the live tokens of running jobs), read back and checked before it is named `file`.
/// Returns the record count.
pub async fn backup(config: &Config, file: &Path) -> anyhow::Result<u64> {
    let store_path = &config.store.path;
    if !store_path.join("conf").exists() {
        anyhow::bail!("there is no store at {}", store_path.display());
    }
    // `symlink_metadata`: a dangling link counts as taken too.
    if file.symlink_metadata().is_ok() {
        anyhow::bail!(
            "{} exists; a backup never overwrites a file: name a new one",
            file.display()
        );
    }
    let mut partial = file.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let mut out = new_private_file(&partial).map_err(|e| {
        anyhow::anyhow!(
            "cannot create {}: {e} (a backup left half-written by an earlier attempt? remove it)",
            partial.display()
        )
    })?;
    let taken = async {
        match SledStore::open(store_path) {
            Ok(store) => {
                let mut w = std::io::BufWriter::new(&mut out);
                store.backup(&mut w)?;
                w.flush()?;
            }
            Err(e) => match ops_url(config) {
                Some(url) => {
                    let token = config.ops.bearer(&|k| std::env::var(k).ok());
                    fetch_backup(&url, token.as_ref(), &mut out).await?
                }
                None => anyhow::bail!(
                    "cannot open the store at {} ({e}) and no `[ops] listen` is configured to ask the running bot",
                    store_path.display()
                ),
            },
        }
        out.sync_all()?;
        let n = crate::backup::check(BufReader::new(std::fs::File::open(&partial)?))?;
        // A hard link fails if `file` appeared meanwhile: nothing is ever replaced.
        std::fs::hard_link(&partial, file)?;
        Ok(n)
    }
    .await;
    let _ = std::fs::remove_file(&partial);
    taken
}

/// Makes the store `config` names from `file`: the whole file is checked first, then written
/// into a new store beside it, verified, and moved into place — so a restore that fails
/// leaves nothing half-filled. Refuses when a store is already there (move it aside first).
pub fn restore(config: &Config, file: &Path) -> anyhow::Result<bool> {
    let open = || std::fs::File::open(file).map(BufReader::new);
    let count = crate::backup::check(open()?)
        .map_err(|e| anyhow::anyhow!("{}: {e}; nothing was restored", file.display()))?;
    let path = &config.store.path;
    if path.symlink_metadata().is_ok() {
        anyhow::bail!(
            "{0} exists: restore only into a new store (stop the bot and move it aside first, e.g. `mv {0} {0}.old`)",
            path.display()
        );
    }
    let mut building = path.as_os_str().to_owned();
    building.push(".restoring");
    let building = PathBuf::from(building);
    if building.symlink_metadata().is_ok() {
        anyhow::bail!(
            "{} exists: an earlier restore did not finish; remove it and try again",
            building.display()
        );
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let filled = (|| -> anyhow::Result<bool> {
        {
            use std::os::unix::fs::DirBuilderExt;
            // The store holds what the backup held: its owner's alone.
            std::fs::DirBuilder::new().mode(0o700).create(&building)?;
            let store = SledStore::open(&building)?;
            let mut failed = None;
            crate::backup::scan(open()?, |r| {
                if failed.is_none() {
                    failed = store.restore_record(&r).err();
                }
            })?;
            if let Some(e) = failed {
                return Err(e.into());
            }
            store.flush()?;
        }
        println!("restored {count} records");
        verify(&building)
    })();
    match filled {
        Ok(true) => {
            std::fs::rename(&building, path)?;
            println!("the store is in place at {}", path.display());
            Ok(true)
        }
        Ok(false) => {
            println!(
                "not put in place: the restored store is left at {} for a look",
                building.display()
            );
            Ok(false)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&building);
            Err(e)
        }
    }
}

/// A new file only its owner may read (it is created so, not narrowed after).
fn new_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// The running bot's ops server, asked on this machine's loopback when it listens on every
/// interface.
fn ops_url(config: &Config) -> Option<String> {
    let addr = config.ops.listen?;
    Some(if addr.ip().is_unspecified() {
        format!("http://127.0.0.1:{}", addr.port())
    } else {
        format!("http://{addr}")
    })
}

/// Streams `/store/backup` from the running bot into `out`.
async fn fetch_backup(
    url: &str,
    token: Option<&SecretString>,
    out: &mut std::fs::File,
) -> anyhow::Result<()> {
    let endpoint = format!("{url}/store/backup");
    // Straight to the bot (no proxy from the environment), and never waiting for ever.
    let client = crate::net::outbound()
        .direct()
        .connect_timeout(std::time::Duration::from_secs(10))
        .read_timeout(std::time::Duration::from_secs(60))
        .build()?;
    let mut req = client.get(&endpoint);
    if let Some(t) = token {
        req = req.bearer_auth(t.expose_secret());
    }
    let fail =
        |m: String| anyhow::anyhow!("the bot's ops server at {url} did not give the backup: {m}");
    let mut resp = req.send().await.map_err(|e| fail(e.to_string()))?;
    if !resp.status().is_success() {
        let status = resp.status();
        let why = resp.text().await.unwrap_or_default();
        return Err(fail(format!("{status}: {}", why.trim())));
    }
    while let Some(chunk) = resp.chunk().await.map_err(|e| fail(e.to_string()))? {
        out.write_all(&chunk)?;
    }
    Ok(())
}

/// The report and whether the store is sound. Quarantined records alone do not make it
/// unsound: they were moved aside and the bot works without them.
pub fn render(found: &Verified) -> (String, bool) {
    let mut lines: Vec<String> = found
        .records
        .iter()
        .map(|(tree, n)| format!("{tree}: {n} records"))
        .collect();
    match &found.audit_chain {
        Ok(n) => lines.push(format!("audit chain: intact, {n} linked")),
        Err(why) => lines.push(format!("audit chain: BROKEN at {why}")),
    }
    for key in &found.unreadable {
        lines.push(format!("unreadable: {key}"));
    }
    if !found.quarantined.is_empty() {
        lines.push(format!(
            "quarantined ({}): moved aside by the bot when they could not be read; see the README, \"Operating\"",
            found.quarantined.len()
        ));
        for key in &found.quarantined {
            lines.push(format!("  {key}"));
        }
    }
    let ok = found.unreadable.is_empty() && found.audit_chain.is_ok();
    lines.push(
        if ok {
            "store: sound"
        } else {
            "store: NOT sound"
        }
        .to_string(),
    );
    (lines.join("\n"), ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_records_and_a_broken_chain_are_not_sound() {
        let mut found = Verified {
            records: vec![("jobs", 3)],
            ..Verified::default()
        };
        assert!(render(&found).1);
        found.quarantined.push("jobs/0000000000000002".into());
        let (text, ok) = render(&found);
        assert!(ok && text.contains("quarantined (1)"), "{text}");
        found.unreadable.push("marks/6162".into());
        assert!(!render(&found).1);
        found.unreadable.clear();
        found.audit_chain = Err("record 4: prev does not match".into());
        let (text, ok) = render(&found);
        assert!(!ok && text.contains("BROKEN at record 4"), "{text}");
    }
}
