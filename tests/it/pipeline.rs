//! The walking skeleton end to end: emulated Slack over real WebSocket and HTTP, the bot, a
//! scripted harness. Assertions are on what a user sees in the thread and on the store.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use threadwork::emulator::state::BOT_USER_ID;
use threadwork::emulator::{EmulatorConfig, Faults};
use threadwork::harness::command::{CommandHarness, CommandSpec, OutputMode};
use threadwork::harness::{Harness, HarnessEvent};
use threadwork::job::JobState;

const SECS: fn(u64) -> Duration = Duration::from_secs;

/// A `command` harness, registered as `scripted`, that prints `before` (JSON events), waits
/// until the file `gate` exists, then prints `after`: the test decides when the run goes on.
fn gated(
    gate: &Path,
    before: &[HarnessEvent],
    after: &[HarnessEvent],
) -> HashMap<String, Arc<dyn Harness>> {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let print = |events: &[HarnessEvent]| -> String {
        events
            .iter()
            .map(|e| {
                format!(
                    "printf '%s\\n' {}\n",
                    quote(&serde_json::to_string(e).unwrap())
                )
            })
            .collect()
    };
    let script = format!(
        "{}while [ ! -f {} ]; do sleep 0.05; done\n{}",
        print(before),
        quote(&gate.display().to_string()),
        print(after)
    );
    let spec = CommandSpec {
        program: "/bin/sh".into(),
        args: vec!["-c".into(), script],
        mode: OutputMode::Json,
        env: Default::default(),
    };
    HashMap::from([(
        "scripted".to_string(),
        Arc::new(CommandHarness::new(spec)) as Arc<dyn Harness>,
    )])
}

/// The events of `script(answer, _)`, split before the answer.
fn events_then_answer(answer: &str) -> (Vec<HarnessEvent>, Vec<HarnessEvent>) {
    let mut events: Vec<HarnessEvent> = script(answer, 0).into_iter().map(|s| s.event).collect();
    let last = events.split_off(events.len() - 1);
    (events, last)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mention_gets_eyes_card_progress_and_the_real_answer() {
    let mut w = World::new(EmulatorConfig::default()).await;
    // The harness reports its progress, then holds its answer until the test has seen the
    // acknowledgement: 👀 and the card must come before the answer, or the wait below fails.
    let gate = w.dir.path().join("answer-now");
    let (progress, answer) =
        events_then_answer("The login test waited on a fixed sleep; it now polls.");
    w.start_bot(gated(&gate, &progress, &answer)).await;

    let ts = w
        .mention("fix the flaky login test model=claude-sonnet-4")
        .await;

    // 👀 on the request and the card in the thread, showing the run's progress.
    let card = eventually(SECS(10), "eyes and a card with progress", || async {
        let thread = w.thread(&ts).await;
        let eyes = thread[0]
            .reactions
            .iter()
            .any(|r| r.name == "eyes" && r.users.iter().any(|u| u == BOT_USER_ID));
        let card = thread.iter().find(|m| m.user == BOT_USER_ID).cloned();
        card.filter(|c| eyes && c.text.contains("edited `src/login.rs`"))
    })
    .await;
    assert_eq!(
        w.bot_replies(&ts).await.len(),
        1,
        "the card is the only reply before the answer"
    );
    assert!(
        card.text
            .contains("*Job 1* · agent `default` · harness `scripted`"),
        "{}",
        card.text
    );
    assert!(
        card.text.contains("model `claude-sonnet-4`"),
        "{}",
        card.text
    );
    assert!(card.text.contains(":gear: *running*"), "{}", card.text);
    std::fs::write(&gate, "").unwrap();

    let answer = wait_reply(&w, &ts, SECS(10), |m| m.text.contains("polls")).await;
    assert_eq!(
        answer.text, "The login test waited on a fixed sleep; it now polls.",
        "the answer is posted verbatim"
    );

    let card = eventually(SECS(10), "the card shows the outcome", || async {
        let card = w.bot_replies(&ts).await.into_iter().next()?;
        card.text.contains("succeeded").then_some(card)
    })
    .await;
    assert!(
        card.edits >= 2,
        "the card was edited as progress arrived ({} edits)",
        card.edits
    );
    assert!(card.text.contains("$0.2500"), "{}", card.text);
    assert!(
        card.text.contains("`bash` cargo test") && card.text.contains("edited `src/login.rs`"),
        "{}",
        card.text
    );
    // Card first, answer after it, nothing else.
    assert_eq!(w.bot_replies(&ts).await.len(), 2);

    let jobs = w.bot().bot.store().jobs().unwrap();
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(job.state, JobState::Succeeded);
    assert_eq!(job.requester, "U0ALICE001");
    assert_eq!(job.model.as_deref(), Some("claude-sonnet-4"));
    assert_eq!(job.session_id.as_deref(), Some("s-1"));
    assert!(job.terminal_posted);
    assert!(job.started_at.is_some() && job.finished_at.is_some());
    assert!(
        job.thread_replies.is_empty(),
        "the bot's own messages are not kept as replies"
    );
}

/// The texts that show how to mention the bot use its name in the workspace (`auth.test`),
/// not the product's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_names_the_bot_as_the_workspace_knows_it() {
    let mut w = World::new(EmulatorConfig {
        bot_name: "helper".into(),
        ..EmulatorConfig::default()
    })
    .await;
    w.start_bot(scripted(script("x", 10))).await;
    for ask in ["help", "fix it modle=gpt-5"] {
        let ts = w.mention(ask).await;
        let reply = eventually(SECS(5), "a reply", || async {
            w.bot_replies(&ts).await.into_iter().next()
        })
        .await;
        assert!(reply.text.contains("`@helper <task>"), "{}", reply.text);
        assert!(!reply.text.contains("@threadwork"), "{}", reply.text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_option_gets_a_helpful_reply_and_no_job() {
    let mut w = World::new(EmulatorConfig::default()).await;
    w.start_bot(scripted(script("x", 10))).await;
    let ts = w.mention("fix it modle=gpt-5").await;
    let reply = eventually(SECS(5), "an error reply", || async {
        w.bot_replies(&ts).await.into_iter().next()
    })
    .await;
    assert!(
        reply.text.contains("unknown option `modle`"),
        "{}",
        reply.text
    );
    assert!(
        reply.text.contains("agent, harness, repo, branch, model"),
        "{}",
        reply.text
    );
    w.settle().await;
    assert_eq!(w.bot_replies(&ts).await.len(), 1);
    assert!(
        w.thread(&ts).await[0].reactions.is_empty(),
        "no 👀 for a rejected request"
    );
    assert!(w.bot().bot.store().jobs().unwrap().is_empty());

    let ts = w.mention("fix it agent=nobody").await;
    let reply = eventually(SECS(5), "an unknown-agent reply", || async {
        w.bot_replies(&ts).await.into_iter().next()
    })
    .await;
    assert!(
        reply
            .text
            .contains("unknown agent `nobody`; available: `default`"),
        "{}",
        reply.text
    );
    assert!(w.bot().bot.store().jobs().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivered_and_duplicated_envelopes_make_one_job() {
    let mut w = World::new(EmulatorConfig {
        ack_timeout: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    w.start_bot(scripted(script("done", 20))).await;

    // Acks are lost until Slack has redelivered (retry_attempt 1, 2, …) at least once.
    w.emu
        .set_faults(Faults {
            ignore_acks_ms: 120_000,
            duplicates: 0,
            ..Default::default()
        })
        .await;
    let first = w.mention("first task").await;
    eventually(SECS(30), "a redelivery", || async {
        (w.emu.stats().await.redeliveries >= 1).then_some(())
    })
    .await;
    // Then every event is also sent twice more across both sockets.
    w.emu
        .set_faults(Faults {
            ignore_acks_ms: 0,
            duplicates: 2,
            ..Default::default()
        })
        .await;
    let second = w.mention("second task").await;

    for ts in [&first, &second] {
        wait_reply(&w, ts, SECS(10), |m| m.text == "done").await;
    }
    // Copies still on their way must not make a second job or card either.
    eventually(SECS(60), "every copy delivered", || async {
        (w.emu.deliveries_in_flight() == 0).then_some(())
    })
    .await;
    for ts in [&first, &second] {
        let cards = w
            .bot_replies(ts)
            .await
            .iter()
            .filter(|m| m.text.starts_with("*Job"))
            .count();
        assert_eq!(cards, 1, "one card in thread {ts}");
        assert_eq!(
            w.bot_replies(ts).await.len(),
            2,
            "one card and one answer in thread {ts}"
        );
    }
    assert_eq!(w.bot().bot.store().jobs().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnects_mid_job_lose_nothing() {
    let mut w = World::new(EmulatorConfig {
        ack_timeout: Duration::from_millis(500),
        ..Default::default()
    })
    .await;
    w.start_bot(scripted(script("finished despite the socket trouble", 400)))
        .await;

    let ts = w.mention("long task").await;
    eventually(SECS(10), "the card", || async {
        w.bot_replies(&ts).await.into_iter().next()
    })
    .await;
    w.emu.send_disconnect("refresh_requested").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A message sent while the sockets are being replaced is delivered after reconnect.
    let during = w.mention("asked during the reconnect").await;
    w.emu.drop_sockets().await;
    let after_drop = w.mention("asked right after a dropped socket").await;

    wait_reply(&w, &ts, SECS(15), |m| m.text.contains("socket trouble")).await;
    for t in [&during, &after_drop] {
        wait_reply(&w, t, SECS(20), |m| m.text.contains("socket trouble")).await;
    }
    assert!(
        w.emu.wait_for_connections(1, SECS(10)).await,
        "the bot reconnected"
    );
    assert!(w.emu.stats().await.connections_opened >= 3);
    assert_eq!(
        w.bot().bot.store().jobs().unwrap().len(),
        3,
        "no lost or duplicate job"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_storm_delays_but_never_drops_the_answer() {
    let mut w = World::new(EmulatorConfig::default()).await;
    // The run is held after `started` until the test has armed the 429s, so every card edit
    // and the answer after it meet them however fast the machine is: the counts are exact.
    let gate = w.dir.path().join("storm-armed");
    let (mut rest, answer) = events_then_answer("answer after the storm");
    let started = rest.remove(0);
    rest.extend(answer);
    w.start_bot(gated(&gate, &[started], &rest)).await;
    let ts = w.mention("work through a storm").await;
    eventually(SECS(10), "the card", || async {
        w.bot_replies(&ts).await.into_iter().next()
    })
    .await;
    w.emu.force_ratelimited("chat.update", 4, 1).await;
    w.emu.force_ratelimited("chat.postMessage", 3, 1).await;
    let released = Instant::now();
    std::fs::write(&gate, "").unwrap();

    wait_reply(&w, &ts, SECS(30), |m| m.text == "answer after the storm").await;
    assert!(
        released.elapsed() >= SECS(2),
        "the answer waited out Retry-After"
    );
    let card = card_showing(&w, &ts, "succeeded", SECS(20)).await;
    assert!(card.text.contains("succeeded"));
    let stats = w.emu.stats().await;
    assert_eq!(
        stats.ratelimited.get("chat.postMessage"),
        Some(&3),
        "{stats:?}"
    );
    assert_eq!(stats.ratelimited.get("chat.update"), Some(&4), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bot_stays_within_the_configured_update_rate() {
    let mut w = World::new(EmulatorConfig::default()).await;
    // A chatty harness: 60 progress events in about 1.2 s.
    let mut steps = vec![step(10, HarnessEvent::Started { session_id: None })];
    for i in 0..60 {
        steps.push(step(
            20,
            HarnessEvent::ToolStarted {
                id: None,
                name: "bash".into(),
                summary: format!("step {i}"),
            },
        ));
    }
    steps.push(step(
        10,
        HarnessEvent::Finished {
            answer: "chatty done".into(),
        },
    ));
    w.start_bot(scripted(steps)).await;
    // Every edit of the card falls between these two instants.
    let asked = Instant::now();
    let ts = w.mention("be chatty").await;
    wait_reply(&w, &ts, SECS(10), |m| m.text == "chatty done").await;
    // The final edit ends the card's updates.
    let card = card_showing(&w, &ts, "succeeded", SECS(10)).await;
    let window = asked.elapsed();
    assert!(card.text.contains("60 tool calls"), "{}", card.text);
    // What the configuration allows in that window: one edit per card interval (the first at
    // once), and within the chat.update budget (its burst, then one per refill period).
    let interval = Duration::from_millis(w.config.jobs.card_interval_ms);
    let by_interval = (window.as_millis() / interval.as_millis()) as u32 + 1;
    let limits = w.config.slack.limits;
    let refill = SECS(60) / (limits.update_per_minute - limits.update_burst).max(1);
    let by_budget = limits.update_burst + (window.as_millis() / refill.as_millis()) as u32 + 1;
    let allowed = by_interval.min(by_budget) + 1;
    eprintln!("{} card edits in {window:?}; {allowed} allowed", card.edits);
    assert!(
        card.edits <= allowed,
        "60 events were coalesced into {} edits; at most {allowed} fit in {window:?}",
        card.edits
    );
    assert!(w.emu.stats().await.ratelimited.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_20000_character_answer_is_split_cleanly() {
    let answer: String = (0..50)
        .map(|p| {
            format!(
                "Paragraph {p}. {}",
                "This sentence explains one more part of the change. "
                    .repeat(8)
                    .trim_end()
            )
        })
        .collect::<Vec<_>>()
        .join("\n\n");
    assert!(answer.chars().count() >= 20_000);
    let mut w = World::new(EmulatorConfig::default()).await;
    w.start_bot(scripted(script(&answer, 10))).await;
    let ts = w.mention("write a long report").await;
    let parts = eventually(SECS(20), "every part of the answer", || async {
        let replies = w.bot_replies(&ts).await;
        let parts: Vec<String> = replies.into_iter().skip(1).map(|m| m.text).collect();
        (parts.join("\n\n") == answer).then_some(parts)
    })
    .await;
    assert!(parts.len() >= 6);
    for p in &parts {
        assert!(p.chars().count() <= 4000);
        assert!(
            p.starts_with("Paragraph") && p.ends_with('.'),
            "cut mid-sentence: …{}",
            &p[p.len() - 30..]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harness_error_is_a_visible_failure() {
    let mut w = World::new(EmulatorConfig::default()).await;
    w.start_bot(scripted(vec![
        step(20, HarnessEvent::Started { session_id: None }),
        step(
            20,
            HarnessEvent::Error {
                message: "the model API answered 500".into(),
            },
        ),
    ]))
    .await;
    let ts = w.mention("try something").await;
    let reply = wait_reply(&w, &ts, SECS(10), |m| m.text.contains("failed")).await;
    assert_eq!(reply.text, ":x: Job 1 failed: the model API answered 500");
    eventually(SECS(5), "the card shows failure", || async {
        w.bot_replies(&ts).await.into_iter().next().filter(|c| {
            c.text.contains(":x: *failed*") && c.text.contains("the model API answered 500")
        })
    })
    .await;
    assert_eq!(
        w.bot().bot.store().jobs().unwrap()[0].state,
        JobState::Failed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_up_carries_the_thread_and_replies_are_kept() {
    let mut w = World::new(EmulatorConfig::default()).await;
    let echo = threadwork::harness::command::CommandSpec {
        program: "/bin/sh".into(),
        args: vec!["-c".into(), "printf '%s' \"$THREADWORK_TASK\"".into()],
        mode: threadwork::harness::command::OutputMode::Text,
        env: Default::default(),
    };
    let harness: std::sync::Arc<dyn threadwork::harness::Harness> =
        std::sync::Arc::new(threadwork::harness::command::CommandHarness::new(echo));
    w.start_bot(std::collections::HashMap::from([(
        "scripted".to_string(),
        harness,
    )]))
    .await;

    let ts = w
        .mention("summarise <#C0DEV00001|dev> for <@U0BOB00001> &amp; me")
        .await;
    let first = wait_reply(&w, &ts, SECS(10), |_| true).await;
    assert_eq!(
        first.text, "summarise #dev for @bob & me",
        "markup and entities become plain text"
    );

    w.emu
        .post_as(
            "bob",
            CHANNEL,
            "please include the flaky test too",
            Some(&ts),
        )
        .await
        .unwrap();
    eventually(SECS(5), "the reply kept with job 1", || async {
        let job = w.bot().bot.store().job(1).unwrap()?;
        (job.thread_replies.len() == 1).then_some(job)
    })
    .await;
    w.emu
        .post_as(
            "alice",
            CHANNEL,
            &format!("<@{BOT_USER_ID}> now do it"),
            Some(&ts),
        )
        .await
        .unwrap();
    let second = wait_reply(&w, &ts, SECS(10), |m| m.text.starts_with("now do it")).await;
    assert!(
        second.text.contains("The Slack thread so far"),
        "{}",
        second.text
    );
    // One quoted record per message, with its author's id and role.
    assert!(
        second.text.contains(
            r##"{"name":"alice","role":"requester","text":"@threadwork summarise #dev for @bob & me","trusted":true,"user":"U0ALICE001"}"##
        ),
        "{}",
        second.text
    );
    assert!(
        second.text.contains(
            r##"{"name":"bob","role":"member","text":"please include the flaky test too","trusted":false,"user":"U0BOB00001"}"##
        ),
        "{}",
        second.text
    );
    assert!(
        !second.text.contains("*Job 1*"),
        "cards are not part of the context"
    );

    let jobs = w.bot().bot.store().jobs().unwrap();
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[1].parent, Some(1));
    assert_eq!(jobs[1].thread_ts, ts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_jobs_show_their_place_and_run_in_turn() {
    let mut w = World::new(EmulatorConfig::default()).await;
    w.config.jobs.max_running = 1;
    w.config.jobs.per_channel = 1;
    // Each run waits for the gate: job 1 holds the queue until the test has seen the places.
    let gate = w.dir.path().join("next-turn");
    w.start_bot(gated(
        &gate,
        &[HarnessEvent::Started { session_id: None }],
        &[HarnessEvent::Finished {
            answer: "turn done".into(),
        }],
    ))
    .await;
    // Events on two sockets may arrive in either order: ask each after the previous is in.
    let mut asked = Vec::new();
    for text in ["first", "second", "third"] {
        let ts = w.mention(text).await;
        eventually(SECS(10), "the card", || async {
            w.bot_replies(&ts).await.into_iter().next()
        })
        .await;
        asked.push(ts);
    }
    let (a, b, c) = (asked[0].clone(), asked[1].clone(), asked[2].clone());
    for (ts, place) in [
        (&b, "position 1 in the queue"),
        (&c, "position 2 in the queue"),
    ] {
        eventually(SECS(10), &format!("a card says {place}"), || async {
            w.bot_replies(ts)
                .await
                .into_iter()
                .next()
                .filter(|m| m.text.contains(place))
        })
        .await;
    }
    std::fs::write(&gate, "").unwrap();
    for ts in [&a, &b, &c] {
        wait_reply(&w, ts, SECS(20), |m| m.text == "turn done").await;
    }
    let jobs = w.bot().bot.store().jobs().unwrap();
    assert!(
        jobs.windows(2).all(|p| p[0].finished_at <= p[1].started_at),
        "one at a time, in order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_bots_are_ignored_unless_allowed() {
    use threadwork::emulator::state::OTHER_BOT_USER_ID;
    let mut w = World::new(EmulatorConfig::default()).await;
    w.start_bot(scripted(script("done for a bot", 10))).await;
    let ts = w
        .emu
        .post_as(
            "otherbot",
            CHANNEL,
            &format!("<@{BOT_USER_ID}> do bot things"),
            None,
        )
        .await
        .unwrap();
    // Once the bot has acked the bot's events, a person's mention is sent: the bot handles
    // events in the order it acked them, so by its answer the bot's mention was handled too.
    eventually(SECS(30), "the bot's mention delivered", || async {
        (w.emu.deliveries_in_flight() == 0).then_some(())
    })
    .await;
    assert_eq!(w.emu.stats().await.undelivered, 0, "the bot got the event");
    let person = w.mention("do person things").await;
    wait_reply(&w, &person, SECS(10), |m| m.text == "done for a bot").await;
    assert!(
        w.bot_replies(&ts).await.is_empty(),
        "a bot's mention is ignored by default"
    );
    let jobs = w.bot().bot.store().jobs().unwrap();
    assert_eq!(jobs.len(), 1, "only the person's mention made a job");
    assert_eq!(jobs[0].thread_ts, person);

    let mut w = World::new(EmulatorConfig::default()).await;
    w.config.slack.allowed_bots = vec![OTHER_BOT_USER_ID.to_string()];
    w.start_bot(scripted(script("done for a bot", 10))).await;
    let ts = w
        .emu
        .post_as(
            "otherbot",
            CHANNEL,
            &format!("<@{BOT_USER_ID}> do bot things"),
            None,
        )
        .await
        .unwrap();
    wait_reply(&w, &ts, SECS(10), |m| m.text == "done for a bot").await;
}

/// The bot's connections to Slack — the Socket Mode WebSockets (slack-morphism, patched in
/// `vendor/`) and the Web API's pooled HTTP connections — run without Nagle's algorithm: an
/// ack is a small frame that would otherwise wait for the TCP ACK of the one before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_connections_run_without_nagles_algorithm() {
    let mut w = World::new(EmulatorConfig::default()).await;
    w.start_bot(scripted(script("done", 10))).await;
    let ts = w.mention("say hi").await;
    // The answer has been posted: Web API connections are open, and the job is over.
    wait_reply(&w, &ts, SECS(10), |m| m.text == "done").await;

    let clients = tcp_clients_of(w.emu.addr().port());
    let sockets = w.config.slack.socket_connections as usize;
    assert!(
        clients.len() > sockets,
        "expected {sockets} Socket Mode connections and at least one Web API connection, found {}",
        clients.len()
    );
    let with_nagle: Vec<_> = clients.iter().filter(|(_, nodelay)| !nodelay).collect();
    assert!(
        with_nagle.is_empty(),
        "connections to Slack with Nagle's algorithm on (fd, nodelay): {with_nagle:?}"
    );
}

/// This process's TCP sockets whose peer listens on `port` (the client ends of connections to
/// the emulator), each with whether `TCP_NODELAY` is set.
fn tcp_clients_of(port: u16) -> Vec<(i32, bool)> {
    use std::os::fd::BorrowedFd;
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd") {
        let Ok(fd) = entry
            .expect("fd entry")
            .file_name()
            .to_string_lossy()
            .parse::<i32>()
        else {
            continue;
        };
        // SAFETY: only options are read. A descriptor that is not a socket, or was closed
        // since the listing, fails the calls below and is skipped.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        let sock = socket2::SockRef::from(&borrowed);
        if !matches!(sock.r#type(), Ok(t) if t == socket2::Type::STREAM) {
            continue;
        }
        let peer = sock.peer_addr().ok().and_then(|a| a.as_socket());
        if let (true, Ok(nodelay)) = (peer.is_some_and(|a| a.port() == port), sock.tcp_nodelay()) {
            found.push((fd, nodelay));
        }
    }
    found
}

/// `settle` is an exact wait: right after it, a job asked for just before is answered and
/// its 👀 is on the request, with no polling in between.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settle_returns_once_the_answer_is_posted() {
    let mut w = World::new(EmulatorConfig::default()).await;
    w.start_bot(scripted(script("answered before settle returned", 300)))
        .await;
    let ts = w.mention("a short task").await;
    w.settle().await;
    let thread = w.thread(&ts).await;
    assert!(
        thread
            .iter()
            .any(|m| m.user == BOT_USER_ID && m.text == "answered before settle returned"),
        "{thread:?}"
    );
    assert!(thread[0].reactions.iter().any(|r| r.name == "eyes"));
    let jobs = w.bot().bot.store().jobs().unwrap();
    assert!(jobs.iter().all(|j| j.terminal_posted), "{jobs:?}");
}

/// A finished thread's workspace goes after `[jobs] workspace_days`; a follow-up in that
/// thread then starts in a new one. Past `[jobs] disk_budget_mb`, a new request is refused
/// with the figures, until the workspaces are small again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_workspaces_go_and_a_full_disk_budget_refuses_new_jobs() {
    let mut w = World::new(EmulatorConfig::default()).await;
    w.config.jobs.workspace_days = 7;
    w.config.jobs.transcript_days = 7;
    w.config.jobs.disk_budget_mb = 1;
    w.start_bot(scripted(script("first answer", 0))).await;
    let ts = w.mention("make something").await;
    wait_reply(&w, &ts, SECS(10), |m| m.text == "first answer").await;
    w.settle().await;
    let workspace = w.config.jobs.workdir.join("job-1");
    assert!(workspace.exists());
    let bot = &w.bot().bot;
    assert_eq!(
        bot.sweep_workspaces().await.removed,
        0,
        "a recent thread stays"
    );

    // Eight days later (its finish moved back), the thread's workspace and the job's
    // transcript go.
    let store = bot.store();
    assert!(!store.transcript(1).unwrap().is_empty());
    let mut job = store.job(1).unwrap().unwrap();
    job.finished_at = Some(chrono::Utc::now() - chrono::Duration::days(8));
    store.put_job(&job).unwrap();
    let swept = bot.sweep_workspaces().await;
    assert!(swept.removed >= 1, "{swept:?}");
    assert!(!workspace.exists());
    assert!(store.transcript(1).unwrap().is_empty());
    w.emu
        .post_as(
            "alice",
            CHANNEL,
            &format!("<@{BOT_USER_ID}> and again"),
            Some(&ts),
        )
        .await
        .unwrap();
    eventually(SECS(10), "the follow-up's answer", || async {
        (w.bot_replies(&ts)
            .await
            .iter()
            .filter(|m| m.text == "first answer")
            .count()
            == 2)
            .then_some(())
    })
    .await;
    w.settle().await;
    assert!(
        workspace.exists(),
        "the follow-up worked in a new workspace"
    );

    // Two megabytes against a budget of one: the next request is refused, and says why.
    std::fs::write(workspace.join("big.bin"), vec![7u8; 2 * 1024 * 1024]).unwrap();
    assert!(bot.sweep_workspaces().await.bytes_left >= 2 * 1024 * 1024);
    let refused = w.mention("one more").await;
    let reply = eventually(SECS(5), "the refusal", || async {
        w.bot_replies(&refused).await.into_iter().next()
    })
    .await;
    assert!(
        reply.text.contains("past their budget of 1 MB")
            && reply.text.contains("no job was started"),
        "{}",
        reply.text
    );
    assert_eq!(
        store.jobs().unwrap().len(),
        2,
        "no job for the refused request"
    );
    std::fs::remove_file(workspace.join("big.bin")).unwrap();
    bot.sweep_workspaces().await;
    let ts = w.mention("now it fits").await;
    wait_reply(&w, &ts, SECS(10), |m| m.text == "first answer").await;
}

// #21: files a CLI changed through a shell command (no file event of its own) count on the
// card, from the workspace itself; its own state folder does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_changed_by_a_shell_command_count_on_the_card() {
    let mut w = World::new(EmulatorConfig::default()).await;
    let script = "#!/bin/sh\necho made > by-shell.txt\nmkdir -p src && echo fn > src/lib.rs\n\
         printf '%s\\n' '{\"type\":\"item.completed\",\"item\":{\"id\":\"i\",\"type\":\"agent_message\",\"text\":\"wrote two\"}}' '{\"type\":\"turn.completed\"}'\n";
    crate::common::cli::start_fake_codex_bot(&mut w, script).await;
    let ts = w.mention("write two files").await;
    wait_reply(&w, &ts, SECS(20), |m| m.text == "wrote two").await;
    let card = card_showing(&w, &ts, "succeeded", SECS(10)).await;
    assert!(card.text.contains("2 files changed"), "{}", card.text);
}
