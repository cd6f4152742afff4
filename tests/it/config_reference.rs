//! docs/configuration.md documents every key of the config file, and only those. The keys of
//! each table come from the parser itself: every config struct denies unknown fields, so a
//! bogus key makes serde list the keys it expects. A key added, renamed or removed in the code
//! fails here until the reference follows; so does a new table, a default in backticks that
//! is not the code's, and an example that no longer parses.
//!
//! The page's format: a `## ` heading whose first backtick span is a table (`[jobs]`,
//! `[forge.<name>]`; further spans name harness kinds), then a Markdown table whose rows start
//! with the key in backticks, its default in the second column. `## Example` holds one TOML
//! block that sets every documented key.

use std::collections::BTreeSet;

use threadwork::config::Config;

const BOGUS: &str = "zz_not_a_key";

struct Section {
    /// The heading's table without brackets, placeholders kept: `harness.<name>`.
    path: String,
    /// The harness kinds the section is about (empty for other tables).
    kinds: Vec<String>,
    rows: Vec<Row>,
}

struct Row {
    key: String,
    default: String,
}

struct Doc {
    sections: Vec<Section>,
    example: String,
}

fn doc() -> Doc {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/configuration.md"
    ))
    .expect("docs/configuration.md exists");
    let mut sections: Vec<Section> = vec![];
    let mut in_section = false;
    let mut in_code = false;
    let mut in_example = false;
    let mut example = String::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            if in_example {
                example.push_str(line);
                example.push('\n');
            }
            continue;
        }
        if let Some(heading) = line.strip_prefix("## ") {
            in_example = heading.trim() == "Example";
            let spans = spans(heading);
            in_section = spans.first().is_some_and(|s| s.starts_with('['));
            if in_section {
                sections.push(Section {
                    path: spans[0]
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .to_string(),
                    kinds: spans[1..].iter().map(|s| s.to_string()).collect(),
                    rows: vec![],
                });
            }
            continue;
        }
        if in_section && line.starts_with("| `") {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let section = sections.last_mut().expect("a section");
            section.rows.push(Row {
                key: spans(cells[1])[0].to_string(),
                default: cells.get(2).unwrap_or(&"").to_string(),
            });
        }
    }
    assert!(!sections.is_empty(), "no `## \\`[table]\\`` sections found");
    Doc { sections, example }
}

/// The text between backticks.
fn spans(s: &str) -> Vec<&str> {
    s.split('`').skip(1).step_by(2).collect()
}

/// `harness.<name>` → `harness.x`, `model.prices."<model>"` → `model.prices."x"`.
fn sample(path: &str) -> String {
    let mut out = String::new();
    let mut in_placeholder = false;
    for c in path.chars() {
        match c {
            '<' => {
                in_placeholder = true;
                out.push('x');
            }
            '>' => in_placeholder = false,
            _ if in_placeholder => {}
            _ => out.push(c),
        }
    }
    out
}

fn is_placeholder(segment: &str) -> bool {
    segment.trim_matches('"').starts_with('<')
}

/// A config text opening `path` (a sample entry for a placeholder), with `kind` set.
fn opening(path: &str, kind: Option<&str>) -> String {
    let mut text = String::new();
    if !path.is_empty() {
        text.push_str(&format!("[{}]\n", sample(path)));
    }
    if let Some(kind) = kind {
        text.push_str(&format!("kind = \"{kind}\"\n"));
    }
    text
}

/// What the parser says of `text`, which should fail.
fn error_of(text: &str) -> Option<String> {
    Config::parse("probe.toml", text)
        .err()
        .map(|e| e.to_string())
}

/// The names serde expected instead of `BOGUS` (as a field or as a variant), from the error of
/// `text`; `None` when the error is another one.
fn expected_instead_of_bogus(text: &str) -> Option<BTreeSet<String>> {
    let error = error_of(text)?;
    ["unknown field", "unknown variant"]
        .iter()
        .find_map(|what| {
            let marker = format!("{what} `{BOGUS}`");
            let rest = &error[error.find(&marker)? + marker.len()..];
            let line = rest.lines().next().unwrap_or("");
            Some(spans(line).into_iter().map(String::from).collect())
        })
}

/// The keys the table at `path` accepts, from the parser.
fn accepted_keys(path: &str, kind: Option<&str>) -> Result<BTreeSet<String>, String> {
    let text = format!("{}{BOGUS} = 1\n", opening(path, kind));
    let mut keys = expected_instead_of_bogus(&text).ok_or_else(|| {
        format!(
            "cannot list its keys; the parser says of\n{text}\n{}",
            error_of(&text).unwrap_or_else(|| "nothing: it parses".into())
        )
    })?;
    if kind.is_some() {
        // `kind` is the tag of the internally tagged `HarnessConfig`: serde takes it out
        // before the variant sees the table, so no error lists it. Its values are checked in
        // `every_harness_kind_is_documented`.
        keys.insert("kind".into());
    }
    Ok(keys)
}

/// What the value of `key` in the table at `path` is: a table with fixed keys, a map of
/// tables (entries named by the user), or anything else.
#[derive(Debug, PartialEq)]
enum Shape {
    Table,
    MapOfTables,
    Value,
}

fn shape(path: &str, kind: Option<&str>, key: &str) -> Shape {
    let text = format!("{}{key} = {{ {BOGUS} = 1 }}\n", opening(path, kind));
    match error_of(&text) {
        // An enum reads a one-key table as a variant: "unknown variant" is a value.
        Some(e) if e.contains(&format!("unknown field `{BOGUS}`")) => Shape::Table,
        Some(e)
            if e.contains("expected struct")
                || e.contains("expected a map")
                || e.contains("expected internally tagged enum") =>
        {
            Shape::MapOfTables
        }
        _ => Shape::Value,
    }
}

fn name(path: &str, kind: Option<&str>) -> String {
    match kind {
        Some(kind) => format!("[{path}] with kind `{kind}`"),
        None if path.is_empty() => "the top level".into(),
        None => format!("[{path}]"),
    }
}

/// Each section, once per harness kind it covers.
fn probes(doc: &Doc) -> Vec<(&Section, Option<&str>)> {
    let mut out = vec![];
    for s in &doc.sections {
        if s.kinds.is_empty() {
            out.push((s, None));
        }
        for k in &s.kinds {
            out.push((s, Some(k.as_str())));
        }
    }
    out
}

#[test]
fn every_key_is_documented_and_every_documented_key_exists() {
    let doc = doc();
    let mut failures = vec![];
    let mut seen = BTreeSet::new();
    for (section, kind) in probes(&doc) {
        let table = name(&section.path, kind);
        if !seen.insert(table.clone()) {
            failures.push(format!("{table}: documented twice"));
        }
        let mut documented = BTreeSet::new();
        for row in &section.rows {
            if !documented.insert(row.key.clone()) {
                failures.push(format!("{table}: `{}` is documented twice", row.key));
            }
        }
        let accepted = match accepted_keys(&section.path, kind) {
            Ok(keys) => keys,
            Err(e) => {
                failures.push(format!("{table}: {e}"));
                continue;
            }
        };
        for key in accepted.difference(&documented) {
            failures.push(format!(
                "{table}: `{key}` is read by the config but not documented"
            ));
        }
        for key in documented.difference(&accepted) {
            failures.push(format!(
                "{table}: `{key}` is documented but the config has no such key"
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_table_is_documented() {
    let doc = doc();
    let documented = |path: &str| doc.sections.iter().any(|s| s.path == path);
    // A map of tables is documented as `[<path>.<placeholder>]`.
    let documented_map = |path: &str| {
        doc.sections.iter().any(|s| {
            s.path
                .strip_prefix(path)
                .and_then(|rest| rest.strip_prefix('.'))
                .is_some_and(|rest| is_placeholder(rest) && !rest.contains('.'))
        })
    };
    let mut failures = vec![];
    let mut tables: Vec<(String, Option<String>)> = vec![(String::new(), None)];
    for (section, kind) in probes(&doc) {
        tables.push((section.path.clone(), kind.map(String::from)));
    }
    for (path, kind) in &tables {
        let kind = kind.as_deref();
        let Ok(keys) = accepted_keys(path, kind) else {
            continue; // reported by `every_key_is_documented_and_every_documented_key_exists`
        };
        for key in keys.iter().filter(|k| !(kind.is_some() && *k == "kind")) {
            let child = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            match shape(path, kind, key) {
                Shape::Table if !documented(&child) => failures.push(format!(
                    "{}: `{key}` is a table; document it as `[{child}]`",
                    name(path, kind)
                )),
                Shape::MapOfTables if !documented_map(&child) => failures.push(format!(
                    "{}: `{key}` holds tables; document them as `[{child}.<name>]`",
                    name(path, kind)
                )),
                Shape::Value if path.is_empty() => failures.push(format!(
                    "the top level: `{key}` is not a table; give it a section in the reference"
                )),
                _ => {}
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_harness_kind_is_documented() {
    let doc = doc();
    let paths: BTreeSet<&str> = doc
        .sections
        .iter()
        .filter(|s| !s.kinds.is_empty())
        .map(|s| s.path.as_str())
        .collect();
    assert!(paths.contains("harness.<name>"), "no harness sections");
    for path in paths {
        let documented: BTreeSet<String> = doc
            .sections
            .iter()
            .filter(|s| s.path == path)
            .flat_map(|s| s.kinds.iter().cloned())
            .collect();
        let accepted = expected_instead_of_bogus(&opening(path, Some(BOGUS)))
            .unwrap_or_else(|| panic!("[{path}]: cannot list the kinds"));
        assert_eq!(
            documented, accepted,
            "[{path}]: the documented kinds (left) are not the config's (right)"
        );
    }
}

#[test]
fn documented_defaults_are_the_code_defaults() {
    // A default that starts with a backtick span is the value the key has when absent: the
    // config with those values written out must equal the config without them. Plain-text
    // defaults (computed later, or "none") and map entries (`<name>`) are not checked.
    let doc = doc();
    let mut failures = vec![];
    for section in doc.sections.iter().filter(|s| !s.path.contains('<')) {
        let mut text = format!("[{}]\n", section.path);
        let mut any = false;
        for row in &section.rows {
            if row.default.starts_with('`') {
                text.push_str(&format!("{} = {}\n", row.key, spans(&row.default)[0]));
                any = true;
            }
        }
        if !any {
            continue;
        }
        // The bare parent table is the baseline: `[model]` alone already starts the proxy.
        let top = section.path.split('.').next().unwrap_or_default();
        let baseline = format!("[{top}]\n");
        let base = Config::parse("baseline.toml", &baseline).expect("the baseline parses");
        let with = match Config::parse("defaults.toml", &text) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!(
                    "[{}]: the documented defaults do not parse: {e}",
                    section.path
                ));
                continue;
            }
        };
        let (base, with) = (format!("{base:#?}"), format!("{with:#?}"));
        if base != with {
            let base_lines: BTreeSet<&str> = base.lines().collect();
            let differ: Vec<&str> = with.lines().filter(|l| !base_lines.contains(l)).collect();
            failures.push(format!(
                "[{}]: a documented default is not the code's; with them written out the config has\n{}",
                section.path,
                differ.join("\n")
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn the_example_parses_and_sets_every_documented_key() {
    let doc = doc();
    assert!(!doc.example.is_empty(), "no TOML block under `## Example`");
    if let Err(e) = Config::parse("the example", &doc.example) {
        panic!("the example in docs/configuration.md does not parse: {e}");
    }
    let example: toml::Table = toml::from_str(&doc.example).expect("the example is TOML");
    let mut failures = vec![];
    for section in &doc.sections {
        // The tables of the example that the section is about.
        let mut tables = vec![&example];
        for segment in section.path.split('.') {
            tables = tables
                .into_iter()
                .flat_map(|t| -> Vec<&toml::Table> {
                    if is_placeholder(segment) {
                        t.values().filter_map(|v| v.as_table()).collect()
                    } else {
                        t.get(segment)
                            .and_then(|v| v.as_table())
                            .into_iter()
                            .collect()
                    }
                })
                .collect();
        }
        let kind_of = |t: &toml::Table| t.get("kind").and_then(|k| k.as_str()).map(String::from);
        if !section.kinds.is_empty() {
            tables.retain(|t| kind_of(t).is_some_and(|k| section.kinds.contains(&k)));
        }
        let table = name(&section.path, None);
        for kind in &section.kinds {
            if !tables.iter().any(|t| kind_of(t).as_ref() == Some(kind)) {
                failures.push(format!("{table}: the example has no kind `{kind}`"));
            }
        }
        if tables.is_empty() {
            failures.push(format!("{table}: not in the example"));
            continue;
        }
        // Harness kinds documented together share their keys: one of them may show each.
        let set: BTreeSet<&str> = tables
            .iter()
            .flat_map(|t| t.keys().map(String::as_str))
            .collect();
        for row in section
            .rows
            .iter()
            .filter(|r| !set.contains(r.key.as_str()))
        {
            failures.push(format!("{table}: the example does not set `{}`", row.key));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
