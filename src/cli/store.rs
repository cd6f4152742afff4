//! `threadwork store verify`: every record of the trees the bot decodes read and the audit
//! chain checked; nothing is moved (sled itself may tidy its log on open: for a strictly
//! read-only check, verify a copy). The store must not be held by a running bot (sled
//! takes a lock on open), and must exist: a mistyped path is an error, not a new store.

use std::path::Path;

use crate::store::{SledStore, Verified};

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
