//! `threadwork dev`: the emulator, the bot and the scripted harness in one process, and a
//! terminal to chat with the bot as user `you` in #general. No tokens, no network.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::app;
use crate::config::Config;
use crate::emulator::state::{BOT_NAME, BOT_USER_ID};
use crate::emulator::{Change, Emulator, EmulatorConfig};

pub struct DevOptions {
    pub port: u16,
    pub data_dir: PathBuf,
    pub agents_dir: PathBuf,
    /// A config file whose `[harness]`/`[jobs]`/`[agents]` sections to use; Slack settings are
    /// always the emulator's.
    pub config: Option<PathBuf>,
}

const CHANNEL: &str = "general";
const ME: &str = "you";

/// Turns what a person types into Slack text: `@threadwork` becomes a real mention.
pub fn to_slack_text(line: &str) -> String {
    line.replace(&format!("@{BOT_NAME}"), &format!("<@{BOT_USER_ID}>"))
}

fn display(text: &str, names: &HashMap<String, String>) -> String {
    crate::text::to_plain_text(text, &|id| names.get(id).cloned())
}

fn print_change(change: &Change, names: &HashMap<String, String>) {
    let display = |t: &str| display(t, names);
    let name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
    match change {
        Change::Posted { message } => {
            let who = name(&message.user);
            let indent = if message.thread_ts.is_some() {
                "  │ "
            } else {
                ""
            };
            println!(
                "{indent}[{who}] {}",
                display(&message.text).replace('\n', &format!("\n{indent}    "))
            );
        }
        Change::Updated { message } => {
            println!(
                "  │ [{BOT_NAME}, edited] {}",
                display(&message.text).replace('\n', "\n  │     ")
            );
        }
        Change::Reacted {
            name: emoji,
            user,
            added: true,
            ..
        } => {
            println!("  │ (:{emoji}: from {})", name(user));
        }
        Change::Reacted { .. } => {}
        Change::Ephemeral { text, .. } => println!("  │ (only you can see this) {}", display(text)),
    }
}

pub async fn run(opts: DevOptions) -> anyhow::Result<()> {
    let emu = Emulator::start(
        SocketAddr::from(([127, 0, 0, 1], opts.port)),
        EmulatorConfig::default(),
    )
    .await?;
    let mut config = match &opts.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    config.fill_defaults();
    if opts.config.is_none() {
        config.agents.dir = opts.agents_dir.clone();
    }
    config.store.path = opts.data_dir.join("dev.sled");
    config.jobs.workdir = opts.data_dir.join("jobs");
    let settings = config.slack_settings(&emu.env())?;
    let mut changes = emu.subscribe();
    let running = app::start(&config, &settings).await?;

    println!(
        "threadwork dev: an emulated Slack at http://{} with the bot connected over Socket Mode.",
        emu.addr()
    );
    println!("You are @{ME} in #{CHANNEL}. Mention the bot to give it a task, e.g.:");
    println!("  @{BOT_NAME} fix the flaky login test");
    println!("A line starting with `>` replies in the thread of your last message. Ctrl-D or /quit ends.\n");

    let names = emu.user_names().await;
    let printer = tokio::spawn(async move {
        while let Ok(change) = changes.recv().await {
            print_change(&change, &names);
        }
    });

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut thread: Option<String> = None;
    while let Ok(Some(line)) = lines.next_line().await {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line == "/quit" {
            break;
        }
        let result = match line.strip_prefix('>') {
            Some(reply) => match &thread {
                Some(t) => {
                    emu.post_as(ME, CHANNEL, &to_slack_text(reply.trim()), Some(t))
                        .await
                }
                None => Err("no thread yet: post a message first".to_string()),
            },
            None => emu
                .post_as(ME, CHANNEL, &to_slack_text(line), None)
                .await
                .inspect(|ts| thread = Some(ts.clone())),
        };
        if let Err(e) = result {
            eprintln!("(not sent: {e})");
        }
    }
    // Input ended: let what was asked finish before leaving.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    running.bot.wait_idle().await;
    tokio::time::sleep(config.bot_settings().card_interval + Duration::from_millis(500)).await;
    running.stop().await;
    printer.abort();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_mentions_become_slack_mentions() {
        assert_eq!(
            to_slack_text("@threadwork fix it"),
            format!("<@{BOT_USER_ID}> fix it")
        );
        let names = HashMap::from([(BOT_USER_ID.to_string(), BOT_NAME.to_string())]);
        assert_eq!(
            display(&format!("<@{BOT_USER_ID}> hi &amp; bye"), &names),
            "@threadwork hi & bye"
        );
    }
}
