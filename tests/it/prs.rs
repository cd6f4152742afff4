//! Pull requests end to end: a job on a repository clones it over HTTP (real git against
//! `git http-backend`), the harness edits the checkout, the bot commits, pushes
//! `threadwork/<job>` and opens a draft PR (GitHub) or MR (GitLab) through a forge test server
//! that checks the documented request shapes; follow-ups push to the same branch; ✅/❌ mark
//! ready, merge or close; refusals reach the thread; the token stays out of the sandbox, the
//! files, Slack and the logs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::common::forge::{Forge, Kind};
use crate::common::logs;
use crate::common::*;
use secrecy::SecretString;
use serde_json::json;
use threadwork::emulator::state::{Message, BOT_USER_ID};
use threadwork::emulator::EmulatorConfig;
use threadwork::forge::{ForgeKind, HostConfig};
use threadwork::harness::command::{CommandHarness, CommandSpec, OutputMode};
use threadwork::harness::Harness;
use threadwork::runtime::docker::DockerRuntime;
use threadwork::runtime::process::ProcessRuntime;
use threadwork::runtime::{Runtime, SandboxPolicy};

const SECS: fn(u64) -> Duration = Duration::from_secs;
const ALICE: &str = "U0ALICE001";
const BOB: &str = "U0BOB00001";
const TOKEN: &str = "forge-canary-9f8e7d6c5b4a";

/// A harness that edits README.md with the task (or changes nothing when the task says
/// "nothing", or prints its environment when it says "env").
fn editor(runtime: Arc<dyn Runtime>) -> HashMap<String, Arc<dyn Harness>> {
    let script = r#"case "$1" in
  *nothing*) echo "looked around, nothing to change" ;;
  *container*) printf '%s\n' "$1" >> README.md; echo "uid=$(id -u)"; git status --short 2>&1;
    git log -1 --format=%s 2>&1; env | sort ;;
  *env*) env | sort ;;
  *) printf '%s\n' "$1" >> README.md; echo "edited README.md" ;;
esac"#;
    let spec = CommandSpec {
        program: "/bin/sh".into(),
        args: vec!["-c".into(), script.into(), "sh".into(), "{task}".into()],
        mode: OutputMode::Text,
        env: Default::default(),
    };
    HashMap::from([(
        "edit".to_string(),
        Arc::new(CommandHarness::with_runtime(spec, runtime)) as Arc<dyn Harness>,
    )])
}

struct Setup {
    w: World,
    forge: Forge,
    _root: tempfile::TempDir,
}

async fn setup(kind: Kind, merge_on_approve: bool) -> Setup {
    setup_in(kind, merge_on_approve, None, &[]).await
}

/// `setup` with the harness in `docker` (a runtime and its policy) instead of a local child.
async fn setup_in(
    kind: Kind,
    merge_on_approve: bool,
    docker: Option<(Arc<dyn Runtime>, SandboxPolicy)>,
    more_agents: &[(&str, &str)],
) -> Setup {
    let root = tempfile::tempdir().unwrap();
    let forge = Forge::start(kind, TOKEN, root.path()).await;
    forge.create_repo("acme/web", &[("README.md", "# web\n")]);
    forge.create_repo("acme/api", &[("README.md", "# api\n")]);
    let mut w = World::new(EmulatorConfig::default()).await;
    let agents = w.dir.path().join("agents");
    std::fs::create_dir_all(&agents).unwrap();
    std::fs::write(
        agents.join("coder.md"),
        format!(
            "---\nname: coder\ndescription: Edits code\nharness: edit\nrepo: acme/web\nrepos: [acme/api, acme/gone]\napprovers: [{BOB}]\nmerge_on_approve: {merge_on_approve}\n---\nYou edit code.\n"
        ),
    )
    .unwrap();
    for (file, text) in more_agents {
        std::fs::write(agents.join(file), text).unwrap();
    }
    w.config.agents.dir = agents;
    w.config.agents.default = "coder".into();
    w.config
        .forge
        .insert("main".into(), host_config(&forge, Some(TOKEN)));
    w.config
        .git
        .identities
        .insert(ALICE.into(), "Alice Example <alice@example.com>".into());
    match docker {
        Some((runtime, policy)) => {
            w.config.sandbox = policy;
            w.start_bot_in(editor(runtime.clone()), Some(runtime)).await;
        }
        None => w.start_bot(editor(Arc::new(ProcessRuntime::new()))).await,
    }
    Setup {
        w,
        forge,
        _root: root,
    }
}

async fn ask(s: &Setup, text: &str, thread: Option<&str>) -> String {
    s.w.emu
        .post_as(ALICE, CHANNEL, &format!("<@{BOT_USER_ID}> {text}"), thread)
        .await
        .unwrap()
}

/// The job's final message (the one after the card that says what became of the changes).
async fn final_message(s: &Setup, thread: &str, after: usize) -> Message {
    eventually(SECS(30), "the job's final message", || async {
        let replies = s.w.bot_replies(thread).await;
        replies.into_iter().skip(after).find(|m| {
            !m.text.starts_with("*Job ")
                && (m.text.contains(":link:")
                    || m.text.contains("No changes")
                    || m.text.contains("No new changes")
                    || m.text.contains(":warning:")
                    || m.text.contains("failed"))
        })
    })
    .await
}

/// Waits until job `id`'s final message is posted and recorded (reactions on it count only
/// from then on).
async fn posted(s: &Setup, id: u64) {
    eventually(SECS(10), "the job's final message recorded", || async {
        let job = s.w.bot().bot.store().job(id).ok().flatten()?;
        job.terminal_posted.then_some(())
    })
    .await;
}

fn all_text(messages: &[Message]) -> String {
    messages
        .iter()
        .map(|m| m.text.clone())
        .collect::<Vec<_>>()
        .join("\n")
}

// Guards: a PR is merged only on the ✅ of an approver of the agent that opened it. Another
// agent named in a follow-up — here one that merges on approval — cannot merge the thread's
// PR, and an agent whose `repos:` lack the thread's repository cannot run in it at all.
#[test]
fn only_the_opening_agents_approvers_merge_its_pr() {
    logs::captured(logs::Writer::Raw, async {
        const YOU: &str = "U0YOU00001";
        let merger = format!(
            "---\nname: merger\ndescription: Merges\nharness: edit\nrepo: acme/web\napprovers: [{YOU}]\nmerge_on_approve: true\n---\nYou merge.\n"
        );
        let elsewhere = "---\nname: elsewhere\ndescription: Other repo\nharness: edit\nrepo: acme/api\n---\nYou edit the api.\n";
        let s = setup_in(
            Kind::Github,
            false,
            None,
            &[("merger.md", &merger), ("elsewhere.md", elsewhere)],
        )
        .await;
        let ts = ask(&s, "fix the readme", None).await;
        let done = final_message(&s, &ts, 0).await;
        assert!(done.text.contains("draft PR #1"), "{}", done.text);
        posted(&s, 1).await;

        // The requester may name another agent, but not one without leave for acme/web.
        ask(&s, "agent=elsewhere touch it", Some(&ts)).await;
        let why = wait_reply(&s.w, &ts, SECS(10), |m| {
            m.text.contains("may not work on `acme/web`")
        })
        .await;
        assert!(why.text.contains("No job was started"), "{}", why.text);

        // A follow-up by `merger`, whose approvers merge on ✅ — but the PR is coder's.
        ask(&s, "agent=merger polish it", Some(&ts)).await;
        let store = s.w.bot().bot.store();
        let follow_up = eventually(SECS(20), "the follow-up's result", || async {
            store
                .jobs()
                .unwrap()
                .into_iter()
                .find(|j| j.agent == "merger" && j.terminal_posted && j.result_ts.is_some())
        })
        .await;
        s.w.emu
            .react_as(
                "you",
                CHANNEL,
                follow_up.result_ts.as_deref().unwrap(),
                "white_check_mark",
                true,
            )
            .await
            .unwrap();
        wait_reply(&s.w, &ts, SECS(10), |m| m.text.contains("ready for review")).await;
        assert!(
            s.forge.requests("PUT", "/merge").is_empty() && s.forge.prs()[0].state != "merged",
            "merged by an approver of another agent: {:?}",
            s.forge.log()
        );
    });
}

#[test]
fn github_change_follow_up_and_approval() {
    logs::captured(logs::Writer::Raw, async {
        let s = setup(Kind::Github, false).await;
        let ts = ask(&s, "fix the readme title", None).await;
        let done = final_message(&s, &ts, 0).await;
        assert!(
            done.text.contains("edited README.md") && done.text.contains("draft PR #1"),
            "{}",
            done.text
        );
        assert!(done.text.contains("`threadwork/1`"), "{}", done.text);

        // The branch holds one commit by the bot with the requester as co-author.
        let branch = "threadwork/1";
        let log = s
            .forge
            .git_in("acme/web", &["log", "--format=%an|%B", "-1", branch]);
        assert!(log.starts_with("threadwork|fix the readme title"), "{log}");
        assert!(
            log.contains("Co-authored-by: Alice Example <alice@example.com>"),
            "{log}"
        );
        let readme = s
            .forge
            .git_in("acme/web", &["show", &format!("{branch}:README.md")]);
        assert_eq!(readme, "# web\nfix the readme title");
        assert_eq!(
            s.forge.git_in("acme/web", &["rev-list", "--count", branch]),
            "2"
        );

        // The PR request: draft, from the branch to main, the permalink and prompt version in it.
        let create = s.forge.requests("POST", "/api/v3/repos/acme/web/pulls");
        assert_eq!(create.len(), 1);
        let body = &create[0].body;
        assert_eq!(body["draft"], json!(true));
        assert_eq!(body["head"], json!(branch));
        assert_eq!(body["base"], json!("main"));
        assert_eq!(body["title"], json!("fix the readme title"));
        let job = s.w.bot().bot.store().job(1).unwrap().unwrap();
        let version = job.prompt_version.clone().unwrap();
        let text = body["body"].as_str().unwrap();
        assert!(text.contains(&version), "{text}");
        assert!(
            text.contains(&format!(
                "https://emulated.slack.local/archives/{CHANNEL}/p"
            )),
            "{text}"
        );
        let pr = job.pr.clone().expect("the PR is on the job");
        assert_eq!(pr.number, 1);
        // The card links the PR and shows the head.
        let head = job.head.clone().unwrap();
        eventually(SECS(5), "the card links the PR and its head", || async {
            let card = s.w.bot_replies(&ts).await.remove(0);
            (card.text.contains("draft PR #1") && card.text.contains(&head[..7])).then_some(())
        })
        .await;

        // A follow-up pushes a second commit to the same branch and comments on the same PR.
        let before = s.w.bot_replies(&ts).await.len();
        ask(&s, "also mention the license", Some(&ts)).await;
        let second = final_message(&s, &ts, before).await;
        assert!(second.text.contains("Pushed"), "{}", second.text);
        assert!(second.text.contains("PR #1"), "{}", second.text);
        assert_eq!(
            s.forge.git_in("acme/web", &["rev-list", "--count", branch]),
            "3"
        );
        assert_eq!(
            s.forge
                .git_in("acme/web", &["rev-parse", &format!("{branch}~1")]),
            head
        );
        assert_eq!(s.forge.requests("POST", "/pulls").len(), 1, "no second PR");
        let prs = s.forge.prs();
        assert_eq!(prs.len(), 1);
        assert!(prs[0].comments[0].contains("also mention the license"));

        posted(&s, 2).await;
        // ✅ by an approver on the latest result marks the draft ready (no merge: the agent
        // does not say merge_on_approve).
        s.w.emu
            .react_as("bob", CHANNEL, &second.ts, "white_check_mark", true)
            .await
            .unwrap();
        let ready = wait_reply(&s.w, &ts, SECS(10), |m| m.text.contains("ready for review")).await;
        assert!(ready.text.contains("PR #1"), "{}", ready.text);
        let gql = s.forge.requests("POST", "/api/graphql");
        assert_eq!(gql.len(), 1);
        assert_eq!(gql[0].body["variables"]["id"], json!("PR_node1"));
        assert!(!s.forge.prs()[0].draft);
        assert!(s.forge.requests("PUT", "/merge").is_empty());
        let audit = s.w.bot().bot.store().audit().unwrap();
        let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
        for a in ["pr_opened", "pr_updated", "pr_ready"] {
            assert!(actions.contains(&a), "{actions:?}");
        }

        // The token went to the forge in headers only: never to Slack, the sandbox's files, the
        // bot's repository files or a log line.
        assert_token_nowhere(&s, &ts).await;
    });
}

async fn assert_token_nowhere(s: &Setup, ts: &str) {
    let slack = all_text(&s.w.thread(ts).await);
    assert!(!slack.contains(TOKEN), "token in Slack");
    let jobs = s.w.dir.path().join("jobs");
    let holding = files_holding(&jobs, &[TOKEN]);
    assert!(holding.is_empty(), "token in {holding:?}");
    let logs = crate::common::logs::text();
    assert!(!logs.is_empty(), "logs were captured");
    assert!(!logs.contains(TOKEN), "token in a log line");
    // The git requests carried it, as Basic auth; the API ones as the forge wants it.
    assert!(s.forge.log().iter().any(
        |l| l.path.starts_with("/git/") && l.headers.iter().any(|(k, _)| k == "authorization")
    ));
}

#[test]
fn no_change_means_no_pr_and_the_harness_sees_no_token() {
    logs::captured(logs::Writer::Raw, async {
        let s = setup(Kind::Github, false).await;
        let ts = ask(&s, "check whether anything is needed: nothing", None).await;
        let done = final_message(&s, &ts, 0).await;
        assert!(
            done.text.contains("No changes in `acme/web`, so no PR."),
            "{}",
            done.text
        );
        assert!(s.forge.requests("POST", "/pulls").is_empty());
        assert!(s
            .forge
            .git_in("acme/web", &["branch", "--list", "threadwork/*"])
            .is_empty());

        // The harness's whole environment, printed into the thread, has no token.
        let ts2 = ask(&s, "print the env", None).await;
        let env = wait_reply(&s.w, &ts2, SECS(30), |m| m.text.contains("PATH=")).await;
        assert!(!env.text.contains(TOKEN), "{}", env.text);
        assert!(!env.text.contains("forge-canary"), "{}", env.text);
        assert_token_nowhere(&s, &ts).await;
    });
}

#[test]
fn repos_are_checked_and_unreachable_ones_are_named() {
    logs::captured(logs::Writer::Raw, async {
        let s = setup(Kind::Github, false).await;
        // Not among the agent's repos: refused before any job.
        let ts = ask(&s, "fix it repo=evil/web", None).await;
        let reply = eventually(SECS(10), "the refusal", || async {
            s.w.bot_replies(&ts).await.into_iter().next()
        })
        .await;
        assert!(
            reply.text.contains("may not work on `evil/web`") && reply.text.contains("`acme/web`"),
            "{}",
            reply.text
        );
        // Allowed and on the host, but the branch does not exist there: the job fails naming both.
        let ts = ask(&s, "fix it repo=acme/api branch=release", None).await;
        let failed = wait_reply(&s.w, &ts, SECS(20), |m| m.text.contains("failed")).await;
        assert!(
            failed
                .text
                .contains("cannot check out `acme/api` at `release` from GitHub `main`"),
            "{}",
            failed.text
        );
        // A repository the host does not have: named too.
        let ts = ask(&s, "fix it repo=acme/gone", None).await;
        let gone = wait_reply(&s.w, &ts, SECS(20), |m| m.text.contains("failed")).await;
        assert!(
            gone.text.contains("cannot check out `acme/gone`"),
            "{}",
            gone.text
        );
        // A follow-up cannot switch the thread's repository.
        let ts = ask(&s, "fix it repo=acme/web", None).await;
        final_message(&s, &ts, 0).await;
        let before = s.w.bot_replies(&ts).await.len();
        ask(&s, "now the api repo=acme/api", Some(&ts)).await;
        let refused = eventually(SECS(10), "the refusal", || async {
            s.w.bot_replies(&ts)
                .await
                .into_iter()
                .skip(before)
                .find(|m| m.text.contains("This thread works on `acme/web`"))
        })
        .await;
        assert!(refused.text.contains("No job was started"));
    });
}

#[test]
fn forge_refusals_are_posted() {
    logs::captured(logs::Writer::Raw, async {
        let s = setup(Kind::Github, true).await;
        s.forge.fail_once(
            "create",
            422,
            json!({"message": "Validation Failed", "errors": [{"resource": "PullRequest", "code": "custom", "message": "No commits between main and threadwork/1"}]}),
        );
        let ts = ask(&s, "fix the readme", None).await;
        let done = final_message(&s, &ts, 0).await;
        assert!(
            done.text.contains(
                "GitHub answered 422: Validation Failed — No commits between main and threadwork/1"
            ),
            "{}",
            done.text
        );
        assert!(done
            .text
            .contains("the changes are on branch `threadwork/1`"));
        // The next follow-up opens the PR (the branch is there); an approver's ✅ then asks for a
        // merge, which the forge refuses with 409.
        let before = s.w.bot_replies(&ts).await.len();
        ask(&s, "and fix the footer", Some(&ts)).await;
        let second = final_message(&s, &ts, before).await;
        assert!(second.text.contains("draft PR #1"), "{}", second.text);
        posted(&s, 2).await;
        s.forge.fail_once(
            "merge",
            409,
            json!({"message": "Head branch was modified. Review and try the merge again."}),
        );
        s.w.emu
            .react_as("bob", CHANNEL, &second.ts, "white_check_mark", true)
            .await
            .unwrap();
        let refused = wait_reply(&s.w, &ts, SECS(10), |m| m.text.contains("Could not merge")).await;
        assert!(
            refused
                .text
                .contains("GitHub answered 409: Head branch was modified"),
            "{}",
            refused.text
        );
        // It was marked ready first; the merge request carried the head we pushed.
        assert_eq!(s.forge.requests("POST", "/api/graphql").len(), 1);
        let merge = s.forge.requests("PUT", "/pulls/1/merge");
        let job = s.w.bot().bot.store().job(2).unwrap().unwrap();
        assert_eq!(merge[0].body["sha"], json!(job.head.unwrap()));
        let audit = s.w.bot().bot.store().audit().unwrap();
        assert!(audit.iter().any(|a| a.action == "pr_failed"));
        assert!(audit.iter().any(|a| a.action == "pr_action_failed"
            && a.detail.as_deref().is_some_and(|d| d.contains("409"))));
    });
}

#[test]
fn gitlab_merge_request_merge_on_approve_and_close() {
    logs::captured(logs::Writer::Raw, async {
        let s = setup(Kind::Gitlab, true).await;
        let ts = ask(&s, "fix the readme", None).await;
        let done = final_message(&s, &ts, 0).await;
        assert!(done.text.contains("draft MR !1"), "{}", done.text);
        let create = s
            .forge
            .requests("POST", "/api/v4/projects/acme%2Fweb/merge_requests");
        assert_eq!(create.len(), 1, "{:?}", s.forge.log());
        let body = &create[0].body;
        assert_eq!(body["source_branch"], json!("threadwork/1"));
        assert_eq!(body["target_branch"], json!("main"));
        assert_eq!(body["title"], json!("Draft: fix the readme"));
        assert!(body["description"]
            .as_str()
            .unwrap()
            .contains("emulated.slack.local"));
        assert!(create[0]
            .headers
            .iter()
            .any(|(k, v)| k == "private-token" && v == TOKEN));

        posted(&s, 1).await;
        // The approver's ✅ with merge_on_approve: ready (title without "Draft: "), then merge.
        s.w.emu
            .react_as("bob", CHANNEL, &done.ts, "white_check_mark", true)
            .await
            .unwrap();
        let merged = wait_reply(&s.w, &ts, SECS(10), |m| m.text.contains("merged")).await;
        assert!(merged.text.contains("MR !1"), "{}", merged.text);
        let puts = s.forge.requests("PUT", "/merge_requests/1");
        assert_eq!(puts[0].body, json!({"title": "fix the readme"}));
        assert!(puts[1].path.ends_with("/merge"));
        assert_eq!(s.forge.prs()[0].state, "merged");

        // A second thread, rejected by the requester: the MR is closed.
        let ts2 = ask(&s, "rewrite the readme", None).await;
        let done2 = final_message(&s, &ts2, 0).await;
        assert!(done2.text.contains("draft MR !2"), "{}", done2.text);
        posted(&s, 2).await;
        s.w.emu
            .react_as(ALICE, CHANNEL, &done2.ts, "x", true)
            .await
            .unwrap();
        let closed = wait_reply(&s.w, &ts2, SECS(10), |m| m.text.contains("closed")).await;
        assert!(closed.text.contains("MR !2"), "{}", closed.text);
        let close = s.forge.requests("PUT", "/merge_requests/2");
        assert_eq!(close.last().unwrap().body, json!({"state_event": "close"}));
        assert_eq!(s.forge.prs()[1].state, "closed");
        assert_token_nowhere(&s, &ts).await;
    });
}

#[test]
fn in_a_container_the_agent_edits_the_checkout_and_never_sees_the_token() {
    logs::captured(logs::Writer::Raw, async {
        const IMAGE: &str = "threadwork/harness:dev";
        if !docker_ready("prs_in_a_container", IMAGE, "bash docker/build-images.sh").await {
            return;
        }
        let policy = SandboxPolicy {
            instance: "t-prs".into(),
            ..SandboxPolicy::default()
        };
        let runtime: Arc<dyn Runtime> = Arc::new(DockerRuntime::new(&policy));
        let s = setup_in(Kind::Github, false, Some((runtime, policy)), &[]).await;
        let ts = ask(&s, "fix it in the container", None).await;
        let done = final_message(&s, &ts, 0).await;
        // The sandbox user (not root, not the bot's uid) edited the bot's checkout, and its own
        // git sees the change on top of the cloned history.
        assert!(done.text.contains("uid=1000"), "{}", done.text);
        assert!(done.text.contains(" M README.md"), "{}", done.text);
        assert!(done.text.contains("\ninitial\n"), "{}", done.text);
        assert!(done.text.contains("draft PR #1"), "{}", done.text);
        // The container's whole environment (what `docker inspect` shows) has no token.
        assert!(done.text.contains("PATH="), "{}", done.text);
        assert!(!done.text.contains("forge-canary"), "{}", done.text);
        assert_eq!(
            s.forge
                .git_in("acme/web", &["show", "threadwork/1:README.md"]),
            "# web\nfix it in the container"
        );
        assert_token_nowhere(&s, &ts).await;
    });
}

/// `[forge.main]` for the fake forge, with `token`, serving every `acme/` repository.
fn host_config(forge: &Forge, token: Option<&str>) -> HostConfig {
    HostConfig {
        kind: match forge.kind {
            Kind::Github => ForgeKind::Github,
            Kind::Gitlab => ForgeKind::Gitlab,
        },
        api_url: forge.api_url(),
        git_url: forge.git_url(),
        graphql_url: None,
        token: token.map(SecretString::from),
        token_env: None,
        repos: vec!["acme/*".into()],
    }
}

async fn doctor_text(config: &threadwork::config::Config) -> String {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("manifest.yml");
    let text =
        threadwork::cli::doctor::render(&threadwork::cli::doctor::run(config, &manifest).await);
    assert!(!text.contains(TOKEN), "{text}");
    text
}

/// `doctor` checks each forge's token the way the bot would use it: missing, refused, good.
#[tokio::test]
async fn doctor_checks_each_forges_token() {
    for kind in [Kind::Github, Kind::Gitlab] {
        let root = tempfile::tempdir().unwrap();
        let forge = Forge::start(kind, TOKEN, root.path()).await;
        let label = match kind {
            Kind::Github => "GitHub",
            Kind::Gitlab => "GitLab",
        };
        let mut config = threadwork::config::Config::default();
        let host = |token: Option<&str>| host_config(&forge, token);
        config.forge.insert("main".into(), host(Some(TOKEN)));
        let text = doctor_text(&config).await;
        assert!(
            text.contains(&format!("ok    forge: `main`: {label} accepts the token")),
            "{text}"
        );
        config.forge.insert("main".into(), host(Some("ghp-wrong")));
        let text = doctor_text(&config).await;
        assert!(
            text.contains(&format!("FAIL  forge: `main`: {label} answered 401")),
            "{text}"
        );
        config.forge.insert("main".into(), host(None));
        let text = doctor_text(&config).await;
        assert!(
            text.contains("FAIL  forge: forge `main` has no token"),
            "{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_result_on_a_repository_is_kept_with_the_commit_it_started_from() {
    let s = setup(Kind::Github, false).await;
    let start = s.forge.git_in("acme/web", &["rev-parse", "main"]);
    let ts = ask(&s, "fix the readme", None).await;
    let done = final_message(&s, &ts, 0).await;
    posted(&s, 1).await;
    // `main` moves on meanwhile: the case keeps where the job started.
    s.forge
        .commit_to("acme/web", &[("README.md", "# web v2\n")]);
    s.w.emu
        .react_as("bob", CHANNEL, &done.ts, "white_check_mark", true)
        .await
        .unwrap();
    let store = s.w.bot().bot.store();
    let case = eventually(SECS(10), "the approved case", || async {
        store.eval_cases("coder").unwrap().into_iter().next()
    })
    .await;
    assert_eq!(case.repo.as_deref(), Some("acme/web"));
    assert_eq!(case.commit.as_deref(), Some(start.as_str()));
    assert_eq!(case.by, BOB);
    let text = threadwork::evals::export(&[case]);
    assert!(
        text.contains("repo: acme/web") && text.contains(&format!("commit: {start}")),
        "{text}"
    );
    // The verdict withdrawn: the case goes with it.
    s.w.emu
        .react_as("bob", CHANNEL, &done.ts, "white_check_mark", false)
        .await
        .unwrap();
    eventually(SECS(10), "the case dropped", || async {
        store.eval_cases("coder").unwrap().is_empty().then_some(())
    })
    .await;
}
