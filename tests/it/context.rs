//! The context library through the emulator: `@threadwork context <query>` shows the passages
//! an agent would receive, a job's task carries them (and the job and its audit record name
//! them), scopes keep other folders out, and an edited file changes the next job's passages
//! without a restart.

use std::time::Duration;

use crate::common::*;
use threadwork::emulator::EmulatorConfig;

const SECS: fn(u64) -> Duration = Duration::from_secs;

const DEPLOYS: &str = "# Deploys\nShip from main with `make ship`.\n\n## Rollbacks\nRoll back a bad release with `make rollback VERSION=<tag>`, then tell the on-call.\n\n## Freeze\nNo deploys on Fridays after 15:00.\n";
const REVIEWS: &str =
    "# Reviews\nEvery pull request needs one approval from a code owner before merge.\n";
const SECRET_PLANS: &str = "# Rollbacks of the payroll system\nOnly finance may roll back payroll; rollback keys live in the vault.\n";

async fn world() -> World {
    let mut w = World::new(EmulatorConfig::default()).await;
    let root = w.dir.path();
    std::fs::create_dir_all(root.join("agents")).unwrap();
    std::fs::write(
        root.join("agents/ops.md"),
        "---\nname: ops\ndescription: Runs the release train\nharness: echo\ncontext: [eng/, ops/deploys.md]\n---\nYou run releases.\n",
    )
    .unwrap();
    std::fs::write(
        root.join("agents/plain.md"),
        "---\nname: plain\ndescription: Reads nothing\nharness: echo\n---\nYou help.\n",
    )
    .unwrap();
    let lib = root.join("context");
    for (file, text) in [
        ("ops/deploys.md", DEPLOYS),
        ("eng/reviews.md", REVIEWS),
        ("finance/payroll.md", SECRET_PLANS),
    ] {
        let path = lib.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    w.config.agents.dir = root.join("agents");
    w.config.agents.default = "ops".into();
    w.config.agents.context_dir = lib;
    w.config.agents.context_passages = 2;
    w.start_bot(echo_harness("echo", "TASK", "THREADWORK_TASK"))
        .await;
    w
}

/// The bot's first reply in a new thread started by `text` (commands post no card).
async fn command_reply(w: &World, text: &str) -> String {
    let ts = w.mention(text).await;
    eventually(SECS(10), "a reply to the command", || async {
        w.bot_replies(&ts).await.first().map(|m| m.text.clone())
    })
    .await
}

/// Runs a job and returns (thread ts, the task the harness received).
async fn run(w: &World, text: &str) -> (String, String) {
    let ts = w.mention(text).await;
    let answer = wait_reply(w, &ts, SECS(15), |m| m.text.starts_with("TASK<<")).await;
    (ts, answer.text)
}

#[tokio::test]
async fn the_context_command_shows_the_passages_in_scope() {
    let w = world().await;
    let reply = command_reply(&w, "context how do I roll back a release?").await;
    assert!(
        reply.contains("a job of `ops` would receive 1 passage"),
        "{reply}"
    );
    assert!(
        reply.contains("`ops/deploys.md:4` › Deploys › Rollbacks"),
        "{reply}"
    );
    assert!(reply.contains("make rollback"), "{reply}");
    // The payroll file matches better but is outside the agent's scopes.
    assert!(!reply.contains("payroll"), "{reply}");

    let none = command_reply(&w, "context agent=ops kubernetes autoscaling").await;
    assert!(none.contains("No passage in `ops`'s scopes"), "{none}");
    let plain = command_reply(&w, "context agent=plain roll back").await;
    assert!(plain.contains("`plain` reads no part"), "{plain}");
    let unknown = command_reply(&w, "context agent=nobody roll back").await;
    assert!(unknown.contains("unknown agent `nobody`"), "{unknown}");
    let empty = command_reply(&w, "context").await;
    assert!(empty.contains("nothing to look up"), "{empty}");
}

#[tokio::test]
async fn a_job_gets_its_passages_and_records_them_and_edits_apply_without_restart() {
    let w = world().await;
    let (_, task) = run(&w, "roll back the bad release of the web app").await;
    assert!(
        task.contains("--- ops/deploys.md › Deploys › Rollbacks"),
        "{task}"
    );
    assert!(!task.contains("payroll"), "{task}");

    let store = w.bot().bot.store();
    let job = store.job(1).unwrap().unwrap();
    assert_eq!(job.context_passages[0].file, "ops/deploys.md");
    assert_eq!(job.context_passages[0].heading, "Deploys › Rollbacks");
    let chain = eventually(SECS(5), "the job's audit record", || async {
        store
            .audit()
            .unwrap()
            .into_iter()
            .find(|r| r.action == "job_finished" && r.job == Some(1))
            .and_then(|r| r.chain)
    })
    .await;
    assert_eq!(chain.context_passages, job.context_passages);

    // An admin rewrites the rollback section; the next job reads the new text.
    std::fs::write(
        w.dir.path().join("context/ops/deploys.md"),
        DEPLOYS.replace(
            "Roll back a bad release with `make rollback VERSION=<tag>`",
            "Roll back a bad release by re-running the previous pipeline",
        ),
    )
    .unwrap();
    let (_, task) = run(&w, "roll back the bad release of the api").await;
    assert!(task.contains("re-running the previous pipeline"), "{task}");
    assert!(!task.contains("make rollback"), "{task}");

    // A request with no matching words gets no library block.
    let (_, task) = run(&w, "rename the css classes").await;
    assert!(!task.contains("Context from the team's library"), "{task}");
    assert!(store.job(3).unwrap().unwrap().context_passages.is_empty());
}

#[tokio::test]
async fn the_directory_shows_context_scopes() {
    let w = world().await;
    let reply = command_reply(&w, "agents").await;
    assert!(
        reply.contains("context `eng/`, `ops/deploys.md`"),
        "{reply}"
    );
    assert!(reply.contains("context none · MCP none"), "{reply}");
}
