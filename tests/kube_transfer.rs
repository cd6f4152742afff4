//! A real-sized repository on Kubernetes: a workspace of 200 MB of generated, incompressible
//! files goes into a pod and comes back through the test API server (attach in, exec out),
//! and the bot's peak memory during the transfer stays flat — far below the workspace's size.
//! Its own test binary, so that nothing else runs in the process whose memory is measured.

#[path = "it/common/kube.rs"]
#[allow(dead_code)]
mod kube;

use std::path::Path;
use std::sync::Arc;

use kube::{FakeKube, PodScript};
use threadwork::runtime::kubernetes::{KubeSettings, KubernetesRuntime};
use threadwork::runtime::{Launch, NetworkMode, Runtime, SandboxSpec};
use tokio::io::AsyncReadExt;

const FILES: usize = 40;
const FILE_BYTES: usize = 5 * 1024 * 1024;

/// Deterministic bytes no compressor can shrink (xorshift), different per file.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// `VmRSS` or `VmHWM` of this process, in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
}

fn same_file(a: &Path, b: &Path) -> bool {
    use sha2::Digest;
    let hash = |p: &Path| sha2::Sha256::digest(std::fs::read(p).unwrap());
    hash(a) == hash(b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_mb_workspace_goes_to_the_pod_and_back_with_the_bots_memory_flat() {
    threadwork::init_tls();
    let fake = FakeKube::start().await;
    fake.script(PodScript {
        lines: vec!["read 200 MB of code".into()],
        writes: vec![("src/CHANGED.md".into(), "the agent was here".into())],
        ..Default::default()
    });
    let jobs = tempfile::tempdir().unwrap();
    let workspace = jobs.path().join("job-1");
    let original = jobs.path().join("original");
    for dir in [&workspace, &original] {
        std::fs::create_dir_all(dir.join("data")).unwrap();
    }
    for i in 0..FILES {
        let bytes = noise(i as u64 + 1, FILE_BYTES);
        std::fs::write(workspace.join(format!("data/blob-{i:02}.bin")), &bytes).unwrap();
        std::fs::write(original.join(format!("blob-{i:02}.bin")), &bytes).unwrap();
    }
    std::fs::create_dir_all(workspace.join(".git")).unwrap();
    std::fs::write(workspace.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    let total_mb = FILES * FILE_BYTES / (1024 * 1024);
    assert!(total_mb >= 200);

    let runtime: Arc<dyn Runtime> = Arc::new(KubernetesRuntime::new(
        KubeSettings {
            api_url: Some(fake.url.clone()),
            ..KubeSettings::default()
        },
        "kt",
    ));
    let launch = Launch {
        stdin: None,
        job_id: 1,
        agent: "coder".into(),
        program: "agent".into(),
        args: vec![],
        env: vec![],
        workspace: workspace.clone(),
        spec: SandboxSpec {
            network: NetworkMode::None,
            disk_mb: 1024,
            ..SandboxSpec::default()
        },
    };

    // Peak memory from here on: the kernel's high-water mark, reset; where that cannot be
    // reset (some sandboxed kernels), the largest of samples taken every 5 ms.
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = status_kib("VmRSS");
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while sampling.load(std::sync::atomic::Ordering::SeqCst) {
                peak = peak.max(status_kib("VmRSS"));
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            peak
        })
    };
    let mut spawned = runtime.spawn(launch).await.expect("the run starts");
    let mut out = String::new();
    spawned.stdout.read_to_string(&mut out).await.unwrap();
    let exit = spawned.handle.wait().await.expect("the run ends");
    sampling.store(false, std::sync::atomic::Ordering::SeqCst);
    let sampled = sampler.join().unwrap();
    let peak = if reset {
        status_kib("VmHWM").max(sampled)
    } else {
        sampled
    };
    spawned.handle.cleanup().await;

    assert!(exit.success(), "{exit:?}");
    assert!(out.contains("read 200 MB of code"), "{out}");
    // Everything arrived in the pod, and came back with the agent's change.
    let pod_ws = fake
        .pod_workspace("threadwork-kt-job-1-x7k2p")
        .expect("the pod");
    assert!(same_file(
        &pod_ws.join("data/blob-17.bin"),
        &original.join("blob-17.bin")
    ));
    assert!(!pod_ws.join(".git").exists(), "history stays with the bot");
    for i in 0..FILES {
        let name = format!("blob-{i:02}.bin");
        assert!(
            same_file(&workspace.join("data").join(&name), &original.join(&name)),
            "{name} came back changed"
        );
    }
    assert_eq!(
        std::fs::read_to_string(workspace.join("src/CHANGED.md")).unwrap(),
        "the agent was here"
    );
    assert_eq!(
        std::fs::read_to_string(workspace.join(".git/HEAD")).unwrap(),
        "ref: refs/heads/main\n"
    );
    // Nothing left beside the workspace: the copy that came back was a temporary file.
    let beside: Vec<_> = std::fs::read_dir(jobs.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(beside.len(), 2, "{beside:?}");

    let grew_mb = peak.saturating_sub(before) / 1024;
    println!(
        "workspace {total_mb} MB in and out; RSS before {} MB, peak {} MB (+{grew_mb} MB; {})",
        before / 1024,
        peak / 1024,
        if reset { "high-water mark" } else { "sampled" }
    );
    // Holding the workspace (or its packed form) anywhere would add 200 MB or more.
    assert!(
        grew_mb < 64,
        "the bot's memory grew by {grew_mb} MB moving a {total_mb} MB workspace"
    );
}
