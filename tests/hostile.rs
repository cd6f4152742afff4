//! Trust boundaries around hostile sandboxes (part 2): what an agent's run can make the bot do
//! on its host. Each test is a run doing something it must not get away with.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::*;
use threadwork::emulator::state::BOT_USER_ID;
use threadwork::emulator::EmulatorConfig;
use threadwork::job::JobState;

const SECS: fn(u64) -> Duration = Duration::from_secs;

// Guards: the bot never follows a link out of a workspace. A run replaces the CLI state
// directory with a link to a host directory; the follow-up's state is written inside the
// workspace, and the host directory is neither written nor opened up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planted_state_link_does_not_aim_the_bots_writes_at_the_host() {
    let mut w = World::new(EmulatorConfig::default()).await;
    let outside = w.dir.path().join("host-dir");
    std::fs::create_dir(&outside).unwrap();
    std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o700)).unwrap();
    let fake = w.dir.path().join("fake-codex");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nrm -rf .threadwork && ln -s {:?} .threadwork\n\
             printf '%s\\n' '{{\"type\":\"item.completed\",\"item\":{{\"id\":\"i\",\"type\":\"agent_message\",\"text\":\"planted\"}}}}' '{{\"type\":\"turn.completed\"}}'\n",
            outside
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    w.use_agents(&[(
        "coder.md",
        "---\nname: coder\ndescription: Writes code\nharness: codex\n---\nI am coder.\n",
    )]);
    w.config.agents.default = "coder".into();
    common::cli::start_fake_codex_bot(&mut w, &fake).await;
    let store = w.bot().bot.store();

    let thread = w.mention("plant it").await;
    wait_reply(&w, &thread, SECS(20), |m| m.text == "planted").await;
    w.emu
        .post_as(
            "alice",
            CHANNEL,
            &format!("<@{BOT_USER_ID}> again"),
            Some(&thread),
        )
        .await
        .unwrap();
    let follow_up = eventually(SECS(20), "the follow-up ended", || async {
        store
            .jobs()
            .unwrap()
            .into_iter()
            .find(|j| j.parent.is_some() && j.state.is_terminal())
    })
    .await;
    assert_eq!(
        follow_up.state,
        JobState::Succeeded,
        "{:?}",
        follow_up.failure
    );
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "nothing was written into the host directory"
    );
    let mode = std::fs::metadata(&outside).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the host directory was not opened up");
}
