//! Proves the emulator faithful to Slack, not only to our bot: Slack's official Python SDK
//! (`slack_sdk`: WebClient and SocketModeClient) drives it. `scripts/test.sh` installs the SDK.

use std::path::PathBuf;
use std::time::Duration;

use threadwork::emulator::{Emulator, EmulatorConfig, APP_TOKEN, BOT_TOKEN};

/// The Python with slack_sdk: `THREADWORK_PYTHON`, else the project's `.venv`, else `python3`.
fn python() -> PathBuf {
    if let Ok(p) = std::env::var("THREADWORK_PYTHON") {
        return p.into();
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    if venv.exists() {
        venv
    } else {
        "python3".into()
    }
}

fn has_sdk(python: &PathBuf) -> bool {
    std::process::Command::new(python)
        .args(["-c", "import slack_sdk"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_sdk_drives_the_emulator() {
    let python = python();
    if !has_sdk(&python) {
        let msg = format!(
            "slack_sdk is not importable by {}; run `bash scripts/test.sh`, which installs it",
            python.display()
        );
        // In CI a missing peer is a failure, never a silent skip.
        assert!(std::env::var("CI").is_err(), "{msg}");
        eprintln!("SKIPPED: {msg}");
        return;
    }
    let emu = Emulator::start(
        ([127, 0, 0, 1], 0).into(),
        EmulatorConfig {
            // Long enough that a slow Python ack on a loaded machine is not redelivered.
            ack_timeout: Duration::from_secs(10),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/drive_emulator.py");
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new(&python)
            .arg(&script)
            .env("SLACK_API_URL", emu.api_url())
            .env("EMU_CONTROL_URL", format!("http://{}", emu.addr()))
            .env("SLACK_BOT_TOKEN", BOT_TOKEN)
            .env("SLACK_APP_TOKEN", APP_TOKEN)
            .output(),
    )
    .await
    .expect("the SDK script finishes")
    .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "SDK checks failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("sdk: ") && stdout.contains(" passed, 0 failed"),
        "{stdout}"
    );
}
