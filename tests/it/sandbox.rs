//! The sandbox with real Docker: confinement, network modes, limits, stop, timeout, missing
//! images. With `CI=true` these tests fail when Docker or the harness image is unavailable;
//! elsewhere they say so and pass without running.

use std::collections::HashMap;
use std::io::Write;
use std::net::{TcpListener, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use threadwork::emulator::state::BOT_USER_ID;
use threadwork::emulator::EmulatorConfig;
use threadwork::harness::command::{CommandHarness, CommandSpec, OutputMode};
use threadwork::harness::{Harness, HarnessEvent, HarnessRun};
use threadwork::runtime::docker::DockerRuntime;
use threadwork::runtime::{NetworkMode, Runtime, SandboxPolicy, SandboxSpec};
use tokio_util::sync::CancellationToken;

pub const IMAGE: &str = "threadwork/harness:dev";
const SECS: fn(u64) -> Duration = Duration::from_secs;

async fn docker_up(test: &str) -> bool {
    docker_ready(test, IMAGE, "bash docker/build-images.sh").await
}

fn policy(instance: &str) -> SandboxPolicy {
    SandboxPolicy {
        instance: instance.to_string(),
        ..SandboxPolicy::default()
    }
}

fn bash(script: &str, mode: OutputMode) -> CommandSpec {
    CommandSpec {
        program: "bash".into(),
        args: vec!["-c".into(), script.into()],
        mode,
        env: Default::default(),
    }
}

/// The address other machines reach this one on (no packet is sent).
fn host_ip() -> String {
    let s = UdpSocket::bind("0.0.0.0:0").unwrap();
    s.connect("10.255.255.254:9").unwrap();
    s.local_addr().unwrap().ip().to_string()
}

/// A TCP listener on every interface that greets each connection with `greeting`.
fn greeter(greeting: &'static str) -> u16 {
    let listener = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let _ = stream.write_all(greeting.as_bytes());
        }
    });
    port
}

/// Runs one harness invocation straight through the runtime and returns its events.
async fn run_direct(
    runtime: Arc<dyn Runtime>,
    spec: CommandSpec,
    sandbox: SandboxSpec,
    workdir: &std::path::Path,
) -> Vec<HarnessEvent> {
    run_as_job(1, runtime, spec, sandbox, workdir).await
}

/// `run_direct` as job `job_id` (runs of different jobs may run at once).
async fn run_as_job(
    job_id: u64,
    runtime: Arc<dyn Runtime>,
    spec: CommandSpec,
    sandbox: SandboxSpec,
    workdir: &std::path::Path,
) -> Vec<HarnessEvent> {
    run_going_out(job_id, runtime, spec, sandbox, workdir, None).await
}

/// `run_as_job` with the egress proxy URL a job with network `open` is given.
async fn run_going_out(
    job_id: u64,
    runtime: Arc<dyn Runtime>,
    spec: CommandSpec,
    sandbox: SandboxSpec,
    workdir: &std::path::Path,
    egress_proxy: Option<String>,
) -> Vec<HarnessEvent> {
    let harness = CommandHarness::with_runtime(spec, runtime);
    let run = HarnessRun {
        mcp: vec![],
        job_id,
        agent: "probe".into(),
        role_prompt: "role".into(),
        task: "task".into(),
        model: None,
        workdir: workdir.to_path_buf(),
        sandbox,
        resume_session: None,
        model_base: None,
        egress_proxy,
    };
    let mut rx = harness.start(run, CancellationToken::new()).await.unwrap();
    let mut events = vec![];
    while let Some(e) = tokio::time::timeout(SECS(60), rx.recv()).await.unwrap() {
        events.push(e);
    }
    events
}

fn answer(events: &[HarnessEvent]) -> String {
    match events.last() {
        Some(HarnessEvent::Finished { answer }) => answer.clone(),
        other => panic!("no answer: {other:?}"),
    }
}

/// Probes `host:port`: prints `<label>=open` when a connection is accepted, else `<label>=closed`.
fn probe(label: &str, target: &str) -> String {
    format!(
        "timeout 3 bash -c 'exec 3<>/dev/tcp/{}' 2>/dev/null && echo {label}=open || echo {label}=closed\n",
        target.replace(':', "/")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_workspace_is_writable_and_the_user_is_not_root() {
    if !docker_up("only_the_workspace_is_writable").await {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let runtime: Arc<dyn Runtime> = Arc::new(DockerRuntime::new(&policy("t-confine")));
    let script = r#"
echo hello > /workspace/out.txt && echo workspace=ok
touch /evil 2>/dev/null && echo root=writable || echo root=readonly
touch /etc/evil 2>/dev/null && echo etc=writable || echo etc=readonly
touch /tmp/scratch && echo tmp=ok
echo uid=$(id -u)
echo pwd=$(pwd)
echo ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ',')
grep -c . /proc/self/mountinfo >/dev/null && awk '$5=="/workspace"{print "ws-mount="$6}' /proc/self/mountinfo
echo setuid=$(find / -xdev -type f -perm /6000 2>/dev/null | wc -l)
echo shm=$(df -m /dev/shm | awk 'NR==2{print $2}')
echo parent=$(tr '\0' ' ' < /proc/$PPID/cmdline)
"#;
    let spec = SandboxSpec::default();
    let shm = format!("shm={}", threadwork::runtime::docker::shm_mb(&spec));
    let deadline = format!(
        "parent=timeout -s KILL {} bash",
        spec.timeout.as_secs() + threadwork::runtime::docker::IN_CONTAINER_GRACE_SECS
    );
    let events = run_direct(runtime, bash(script, OutputMode::Text), spec, dir.path()).await;
    let out = answer(&events);
    for want in [
        "workspace=ok",
        "root=readonly",
        "etc=readonly",
        "tmp=ok",
        "uid=1000",
        "pwd=/workspace",
        "ifaces=lo,",
        "ws-mount=rw",
        // No setuid/setgid program in the image (item 14), /dev/shm sized from the job's
        // limits, and the job's time limit held inside the container (item 12).
        "setuid=0",
        &shm,
        &deadline,
    ] {
        assert!(out.lines().any(|l| l.starts_with(want)), "{want} in\n{out}");
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out.txt")).unwrap(),
        "hello\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_none_and_model() {
    if !docker_up("network_none_and_model").await {
        return;
    }
    let model_port = greeter("model-answer\n");
    let other_port = greeter("other-service\n");
    let host = host_ip();
    let mut policy = policy("t-network");
    policy.model_endpoint = Some(format!("host.docker.internal:{model_port}"));
    policy.open_network_agents = vec!["probe".into()];
    let docker_runtime = Arc::new(DockerRuntime::new(&policy));
    let runtime: Arc<dyn Runtime> = docker_runtime.clone();
    // The docker0 gateway is the bot's machine as a container on the default bridge sees it.
    // The forwarder may still be starting when the probe runs: `model` is probed for up to
    // $MODEL_WAIT seconds (set per mode below) before it counts as closed.
    let mut script = String::from(
        "m=closed; end=$((SECONDS + MODEL_WAIT))\n\
         while :; do\n\
           if timeout 3 bash -c 'exec 3<>/dev/tcp/model/8080' 2>/dev/null; then m=open; break; fi\n\
           [ $SECONDS -ge $end ] && break; sleep 0.2\n\
         done\n\
         echo model=$m\n",
    );
    script.push_str(&probe("host-model-port", &format!("{host}:{model_port}")));
    script.push_str(&probe("host-other-port", &format!("{host}:{other_port}")));
    script.push_str(&probe("gateway", &format!("172.17.0.1:{other_port}")));
    script.push_str("timeout 10 bash -c 'exec 3<>/dev/tcp/model/8080; head -1 <&3' 2>/dev/null | sed 's/^/reply=/'\n");
    script.push_str("echo model-addr=$THREADWORK_MODEL_ADDR\n");
    // An outside name fails at once (no 10–20 s wait for Docker's resolver on an internal
    // network): `getent`'s "not found" (2), not `timeout`'s own status (124).
    script.push_str("timeout 3 getent hosts outside.example.com >/dev/null; echo lookup=$?\n");

    // A workspace inside a jobs folder only the bot writes, as in a deployment.
    let dir = tempfile::tempdir().unwrap();
    let run = |network| {
        let runtime = runtime.clone();
        // Only mode `model` has a forwarder to wait for; elsewhere one probe, as before.
        let wait = if network == NetworkMode::Model { 30 } else { 0 };
        let script = format!("MODEL_WAIT={wait}\n{script}");
        let dir = dir.path().join("job-1");
        std::fs::create_dir_all(&dir).unwrap();
        async move {
            let spec = SandboxSpec {
                network,
                ..SandboxSpec::default()
            };
            answer(&run_direct(runtime, bash(&script, OutputMode::Text), spec, &dir).await)
        }
    };

    let none = run(NetworkMode::None).await;
    for want in [
        "model=closed",
        "host-model-port=closed",
        "host-other-port=closed",
        "gateway=closed",
    ] {
        assert!(none.contains(want), "none: {want} in\n{none}");
    }

    let model = run(NetworkMode::Model).await;
    for want in [
        "model=open",
        "reply=model-answer",
        "model-addr=model:8080",
        "host-model-port=closed",
        "host-other-port=closed",
        "gateway=closed",
        "lookup=2",
    ] {
        assert!(model.contains(want), "model: {want} in\n{model}");
    }

    // The control: from the host, both ports answer, so "closed" above is the sandbox's doing.
    for port in [model_port, other_port] {
        assert!(std::net::TcpStream::connect((host.as_str(), port)).is_ok());
    }
    docker_runtime.remove_model_network().await.unwrap();
}

// Guards (part 2, item 5): network `open` on Docker reaches public addresses only, through
// the bot's egress proxy. Directly, the sandbox reaches nothing but its forwarder; through
// the proxy, with its job's token, neither the host (by any of its addresses or by name),
// nor cloud metadata, nor a private range — but an admin's `open_allow` range, which is the
// control that the tunnel itself works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_goes_out_through_the_egress_proxy_to_public_addresses_only() {
    use threadwork::model::proxy::{ModelProxy, ProxyConfig};
    if !docker_up("open_goes_out_through_the_egress_proxy").await {
        return;
    }
    let other_port = greeter("host-service\n");
    let host = host_ip();
    let proxy = ModelProxy::start(ProxyConfig {
        listen: ([0, 0, 0, 0], 0).into(),
        ..ProxyConfig::default()
    })
    .await
    .unwrap();
    let mut policy = policy("t-open");
    policy.model_endpoint = Some(format!("host.docker.internal:{}", proxy.addr().port()));
    policy.open_network_agents = vec!["probe".into()];
    let docker_runtime = Arc::new(DockerRuntime::new(&policy));
    // The internet of this test: a "package mirror" in a container on Docker's default
    // bridge, a private range no rule but the admin's `open_allow` lets through. The host's
    // own address on that bridge stays closed although the range holds it.
    let docker = docker_runtime.client().await.unwrap();
    let mirror = "threadwork-t-open-mirror";
    let remove = || {
        bollard::query_parameters::RemoveContainerOptionsBuilder::default()
            .force(true)
            .build()
    };
    let _ = docker.remove_container(mirror, Some(remove())).await;
    docker
        .create_container(
            Some(
                bollard::query_parameters::CreateContainerOptionsBuilder::default()
                    .name(mirror)
                    .build(),
            ),
            bollard::models::ContainerCreateBody {
                image: Some(IMAGE.into()),
                cmd: Some(vec![
                    "socat".into(),
                    "TCP-LISTEN:9000,fork,reuseaddr".into(),
                    "SYSTEM:echo mirror-answer".into(),
                ]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    docker.start_container(mirror, None).await.unwrap();
    let mirror_ip = docker
        .inspect_container(mirror, None)
        .await
        .unwrap()
        .network_settings
        .and_then(|n| n.networks)
        .and_then(|n| n.get("bridge").and_then(|b| b.ip_address.clone()))
        .expect("the mirror has an address on the default bridge");
    let gateway = "172.17.0.1";
    policy.open_allow = vec!["172.16.0.0/12".parse().unwrap()];
    let runtime: Arc<dyn Runtime> = Arc::new(DockerRuntime::new(&policy));
    let spec = threadwork::runtime::policy::resolve(
        &policy,
        "probe",
        &threadwork::runtime::SandboxOverride {
            network: Some(NetworkMode::Open),
            ..Default::default()
        },
        SECS(120),
    )
    .unwrap();
    let grant = proxy.grant(41, "probe", vec![]);
    let egress = threadwork::jobs::grants::open_egress(Some(runtime.as_ref()), &grant, &spec);
    assert!(
        egress.is_some(),
        "a Docker run with `open` goes out through the proxy"
    );
    // `tunnel <label> <host:port>`: the first line through a CONNECT tunnel, or socat's
    // account of the proxy's refusal (the status's reason, `Forbidden` for a 403).
    let mut script = format!(
        r#"auth=${{HTTPS_PROXY#http://}}; auth=${{auth%@*}}
for i in $(seq 150); do timeout 3 bash -c 'exec 3<>/dev/tcp/model/8080' 2>/dev/null && break; sleep 0.2; done
tunnel() {{
  out=$(timeout 15 socat -T5 - "PROXY:model:$2,proxyport=8080,proxy-authorization=$auth" </dev/null 2>&1 | head -1)
  echo "$1=$out"
}}
for i in $(seq 50); do tunnel allowed {mirror_ip}:9000; case "$out" in mirror-answer) break;; esac; sleep 0.2; done
tunnel gateway {gateway}:{other_port}
tunnel loopback 127.0.0.1:{other_port}
tunnel by-name localhost:{other_port}
tunnel host {host}:{other_port}
tunnel metadata 169.254.169.254:80
tunnel ipv6-mapped [::ffff:169.254.169.254]:80
auth=threadwork:not-a-token tunnel forged {mirror_ip}:9000
echo proxy-env=${{HTTPS_PROXY:+set}}
"#
    );
    script.push_str(&probe("direct-host", &format!("{host}:{other_port}")));
    script.push_str(&probe(
        "direct-gateway",
        &format!("172.17.0.1:{other_port}"),
    ));
    script.push_str(&probe("direct-metadata", "169.254.169.254:80"));
    let dir = tempfile::tempdir().unwrap();
    let events = run_going_out(
        41,
        runtime,
        bash(&script, OutputMode::Text),
        spec,
        dir.path(),
        egress,
    )
    .await;
    let out = answer(&events);
    let _ = docker.remove_container(mirror, Some(remove())).await;
    assert!(
        out.contains("allowed=mirror-answer"),
        "the tunnel works:\n{out}"
    );
    assert!(out.contains("proxy-env=set"), "{out}");
    for refused in [
        "gateway",
        "loopback",
        "by-name",
        "host",
        "metadata",
        "ipv6-mapped",
    ] {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("{refused}=")))
            .unwrap_or_default();
        assert!(
            line.contains("Forbidden") && !line.contains("host-service"),
            "{refused} is refused:\n{out}"
        );
    }
    let forged = out
        .lines()
        .find(|l| l.starts_with("forged="))
        .unwrap_or_default();
    assert!(
        forged.contains("Forbidden"),
        "a made-up token is refused:\n{out}"
    );
    for closed in [
        "direct-host=closed",
        "direct-gateway=closed",
        "direct-metadata=closed",
    ] {
        assert!(out.contains(closed), "{closed} in\n{out}");
    }
    drop(grant);
    docker_runtime.remove_model_network().await.unwrap();
}

// Guards (part 2, item 4): runs under network `model` do not reach each other. One run serves
// a port; another run, at the same time, finds its address and tries it. Each has its own
// network and forwarder, both of which are gone when the runs end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_under_model_do_not_reach_each_other() {
    if !docker_up("runs_under_model_do_not_reach_each_other").await {
        return;
    }
    let model_port = greeter("model-answer\n");
    let mut policy = policy("t-apart");
    policy.model_endpoint = Some(format!("host.docker.internal:{model_port}"));
    let docker_runtime = Arc::new(DockerRuntime::new(&policy));
    let runtime: Arc<dyn Runtime> = docker_runtime.clone();
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let serve = r#"
hostname -i | cut -d' ' -f1 > /workspace/server-ip.tmp && mv /workspace/server-ip.tmp /workspace/server-ip
socat TCP-LISTEN:9000,fork,reuseaddr SYSTEM:'echo server-secret' &
for i in $(seq 600); do [ -e /workspace/done ] && break; sleep 0.1; done
echo served
"#;
    let probe_script = r#"
for i in $(seq 600); do [ -e /workspace/server-ip ] && break; sleep 0.1; done
ip=$(cat /workspace/server-ip)
got=$(timeout 5 bash -c "exec 3<>/dev/tcp/$ip/9000; head -1 <&3" 2>/dev/null)
echo "peer=${got:-closed} at $ip"
timeout 10 bash -c 'exec 3<>/dev/tcp/model/8080; head -1 <&3' 2>/dev/null | sed 's/^/model=/'
touch /workspace/done
"#;
    let spec = SandboxSpec {
        network: NetworkMode::Model,
        ..SandboxSpec::default()
    };
    let (served, probed) = tokio::join!(
        run_as_job(
            31,
            runtime.clone(),
            bash(serve, OutputMode::Text),
            spec.clone(),
            dir.path()
        ),
        run_as_job(
            32,
            runtime.clone(),
            bash(probe_script, OutputMode::Text),
            spec.clone(),
            dir.path()
        ),
    );
    assert!(answer(&served).contains("served"));
    let probed = answer(&probed);
    assert!(
        probed.contains("model=model-answer"),
        "each reaches its model:\n{probed}"
    );
    assert!(
        probed.contains("peer=closed"),
        "no run reaches another:\n{probed}"
    );
    let ip = probed.split(" at ").nth(1).unwrap_or_default();
    assert!(
        ip.split('.').count() == 4,
        "the server's address was found, so `closed` is the network's doing:\n{probed}"
    );
    // Nothing of either run's network is left.
    let docker = docker_runtime.client().await.unwrap();
    let left = docker
        .list_networks(None::<bollard::query_parameters::ListNetworksOptions>)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|n| n.name)
        .filter(|n| n.starts_with("threadwork-t-apart-"))
        .collect::<Vec<_>>();
    assert!(left.is_empty(), "{left:?}");
}

/// A world whose one agent (`default`, owned by alice) runs `script` in Docker.
async fn docker_world(
    instance: &str,
    sandbox_block: &str,
    script: &str,
    mode: OutputMode,
) -> (World, Arc<dyn Runtime>) {
    let mut w = World::new(EmulatorConfig::default()).await;
    w.use_agents(&[(
        "default.md",
        &format!("---\nname: default\ndescription: runs in docker\nharness: sh\nowners: [U0BOB00001]\n{sandbox_block}---\nYou help.\n"),
    )]);
    w.config.sandbox = policy(instance);
    let runtime: Arc<dyn Runtime> = Arc::new(DockerRuntime::new(&w.config.sandbox));
    let harness: Arc<dyn Harness> = Arc::new(CommandHarness::with_runtime(
        bash(script, mode),
        runtime.clone(),
    ));
    w.start_bot_in(
        HashMap::from([("sh".to_string(), harness)]),
        Some(runtime.clone()),
    )
    .await;
    (w, runtime)
}

/// The last `tick N` a text-mode run's card shows.
async fn tick_on_card(w: &World, ts: &str) -> Option<u64> {
    let card = w.bot_replies(ts).await.into_iter().next()?;
    card.text
        .rsplit("tick ")
        .next()?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

async fn containers(runtime: &Arc<dyn Runtime>) -> usize {
    runtime.leftovers().await.unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_bomb_ends_with_an_out_of_memory_message() {
    if !docker_up("memory_bomb").await {
        return;
    }
    let (w, runtime) = docker_world(
        "t-oom",
        "sandbox:\n  memory_mb: 64\n",
        "head -c 2000m /dev/zero | tail",
        OutputMode::Text,
    )
    .await;
    let ts = w.mention("eat memory").await;
    let reply = wait_reply(&w, &ts, SECS(60), |m| m.text.contains("failed")).await;
    assert!(reply.text.contains("ran out of memory"), "{}", reply.text);
    assert!(reply.text.contains("64 MB"), "{}", reply.text);
    eventually(SECS(10), "the container removed", || async {
        (containers(&runtime).await == 0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fork_bomb_is_held_by_the_pids_limit() {
    if !docker_up("fork_bomb").await {
        return;
    }
    let js = r#"const cp=require("child_process");let ok=0,no=0;for(let i=0;i<500;i++){try{const p=cp.spawn("sleep",["30"],{stdio:"ignore"});p.on("error",()=>{});if(p.pid)ok++;else no++}catch(e){no++}}console.log(`spawned=${ok} refused=${no}`);process.exit(0)"#;
    let (w, _runtime) = docker_world(
        "t-pids",
        "sandbox:\n  pids: 48\n",
        &format!("node -e '{js}'"),
        OutputMode::Text,
    )
    .await;
    let ts = w.mention("fork a lot").await;
    let reply = wait_reply(&w, &ts, SECS(60), |m| m.text.contains("spawned=")).await;
    let spawned: usize = reply
        .text
        .split("spawned=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{}", reply.text));
    assert!(spawned < 48, "{}", reply.text);
    assert!(!reply.text.contains("refused=0"), "{}", reply.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_names_the_limit_and_removes_the_container() {
    if !docker_up("timeout").await {
        return;
    }
    let (w, runtime) = docker_world(
        "t-timeout",
        "sandbox:\n  timeout_secs: 3\n",
        "echo '{\"type\":\"started\"}'; sleep 120",
        OutputMode::Json,
    )
    .await;
    let ts = w.mention("sleep forever").await;
    eventually(SECS(30), "the container running", || async {
        (containers(&runtime).await == 1).then_some(())
    })
    .await;
    let reply = wait_reply(&w, &ts, SECS(30), |m| m.text.contains("timed out")).await;
    assert!(reply.text.contains("3s"), "{}", reply.text);
    eventually(SECS(30), "the container removed", || async {
        (containers(&runtime).await == 0).then_some(())
    })
    .await;
    let job = w.bot().bot.store().jobs().unwrap().pop().unwrap();
    assert_eq!(job.state, threadwork::job::JobState::TimedOut);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_by_reaction_and_by_command_kills_the_container() {
    if !docker_up("stop").await {
        return;
    }
    let (w, runtime) = docker_world(
        "t-stop",
        "",
        "echo '{\"type\":\"started\"}'; sleep 120",
        OutputMode::Json,
    )
    .await;
    for how in ["reaction", "command"] {
        let ts = w.mention(&format!("wait for a {how}")).await;
        eventually(SECS(30), "the container running", || async {
            (containers(&runtime).await == 1).then_some(())
        })
        .await;
        let card = w.bot_replies(&ts).await[0].ts.clone();
        let job = w
            .bot()
            .bot
            .store()
            .jobs()
            .unwrap()
            .into_iter()
            .find(|j| j.thread_ts == ts)
            .unwrap()
            .id;
        // Someone else's ❌ changes nothing: once the bot has told them so, it still runs.
        w.emu
            .react_as("you", CHANNEL, &card, "x", true)
            .await
            .unwrap();
        eventually(
            SECS(10),
            "the stranger told they cannot stop it",
            || async {
                w.emu.ephemerals().await.into_iter().find(|e| {
                    e.user == "U0YOU00001" && e.text.contains(&format!("can stop job {job};"))
                })
            },
        )
        .await;
        assert_eq!(containers(&runtime).await, 1, "a stranger cannot stop it");
        let asked = Instant::now();
        match how {
            "reaction" => w
                .emu
                .react_as("alice", CHANNEL, &card, "x", true)
                .await
                .unwrap(),
            _ => {
                w.emu
                    .post_as("bob", CHANNEL, &format!("<@{BOT_USER_ID}> stop"), Some(&ts))
                    .await
                    .unwrap();
            }
        }
        // How fast is for the bench; here only that it goes.
        eventually(SECS(30), "the container gone", || async {
            (containers(&runtime).await == 0).then_some(())
        })
        .await;
        let took = asked.elapsed();
        let who = if how == "reaction" {
            "U0ALICE001"
        } else {
            "U0BOB00001"
        };
        let reply = wait_reply(&w, &ts, SECS(10), |m| m.text.contains("cancelled")).await;
        assert!(
            reply.text.contains(&format!("stopped by <@{who}>")),
            "{}",
            reply.text
        );
        let card_text = eventually(SECS(10), "the card says who", || async {
            let c = w.bot_replies(&ts).await[0].text.clone();
            c.contains(&format!("<@{who}>")).then_some(c)
        })
        .await;
        assert!(card_text.contains("cancelled"), "{card_text}");
        eprintln!("stop by {how}: container gone after {took:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_image_names_the_image_and_how_to_build_it() {
    if !docker_up("missing_image").await {
        return;
    }
    let (w, _runtime) = docker_world(
        "t-image",
        "sandbox:\n  image: threadwork/not-built:never\n",
        "true",
        OutputMode::Text,
    )
    .await;
    let ts = w.mention("run somewhere").await;
    let reply = wait_reply(&w, &ts, SECS(30), |m| m.text.contains("failed")).await;
    assert!(
        reply.text.contains("threadwork/not-built:never"),
        "{}",
        reply.text
    );
    assert!(
        reply.text.contains("bash docker/build-images.sh"),
        "{}",
        reply.text
    );
}

/// An image that names a registry is pulled when the host lacks it; a pull that fails says
/// which image and why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_from_a_registry_is_pulled_and_a_failed_pull_says_why() {
    if !docker_up("pull_image").await {
        return;
    }
    let (w, _runtime) = docker_world(
        "t-pull",
        "sandbox:\n  image: localhost:1/threadwork/nowhere:1\n",
        "true",
        OutputMode::Text,
    )
    .await;
    let ts = w.mention("run from a registry").await;
    let reply = wait_reply(&w, &ts, SECS(60), |m| m.text.contains("failed")).await;
    assert!(
        reply
            .text
            .contains("cannot pull the sandbox image `localhost:1/threadwork/nowhere:1`"),
        "{}",
        reply.text
    );
    assert!(!reply.text.contains("build-images"), "{}", reply.text);
}

/// The real binary with the Docker runtime, secrets planted in its environment and config:
/// neither `docker inspect`, the container's environment nor any workspace file holds them;
/// after kill -9 the run goes on, a restarted bot follows it again (no "interrupted"), and once
/// it is stopped no container is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_job_the_run_is_followed_again_and_no_secret_enters_the_sandbox() {
    use threadwork::emulator::{APP_TOKEN, BOT_TOKEN};
    use tokio::process::Command;
    if !docker_up("kill_9_in_docker").await {
        return;
    }
    const CANARY: &str = "canary-7d3a55e0-sandbox-must-not-see";
    let w = World::new(EmulatorConfig::default()).await;
    let jobs = w.dir.path().join("jobs");
    let config = w.dir.path().join("threadwork.toml");
    std::fs::write(
        &config,
        format!(
            "[slack]\nbot_token = {BOT_TOKEN:?}\napp_token = {APP_TOKEN:?}\nreconnect_secs = 1\n\n\
             [agents]\ndir = {:?}\n\n[store]\npath = {:?}\n\n[jobs]\nworkdir = {jobs:?}\ncard_interval_ms = 200\n\n\
             [sandbox]\ninstance = \"t-kill9\"\n\n\
             [harness.scripted]\nkind = \"command\"\nprogram = \"bash\"\n\
             args = [\"-c\", \"env > /workspace/env.txt; cat /proc/1/environ > /workspace/environ.bin; i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.5; done\"]\nmode = \"text\"\n",
            agents_dir(),
            w.dir.path().join("store"),
        ),
    )
    .unwrap();
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_threadwork"))
            .args(["run", "--config"])
            .arg(&config)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SLACK_API_URL", w.emu.api_url())
            .env("OPENAI_API_KEY", CANARY)
            .env("ANTHROPIC_API_KEY", CANARY)
            .env("GITHUB_TOKEN", CANARY)
            .env("RUST_LOG", "warn")
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    };
    let runtime: Arc<dyn Runtime> = Arc::new(DockerRuntime::new(&policy("t-kill9")));
    let docker = bollard::Docker::connect_with_local_defaults()
        .unwrap()
        .negotiate_version()
        .await
        .unwrap();

    let mut bot = spawn();
    assert!(w.emu.wait_for_connections(2, SECS(20)).await);
    let ts = w.mention("run until killed").await;
    eventually(SECS(30), "the card says running", || async {
        w.bot_replies(&ts)
            .await
            .into_iter()
            .next()
            .filter(|c| c.text.contains("running"))
    })
    .await;
    let workspace = jobs.join("job-1");
    eventually(SECS(30), "the harness wrote its environment", || async {
        (std::fs::metadata(workspace.join("environ.bin")).is_ok_and(|m| m.len() > 0)).then_some(())
    })
    .await;
    let leftover = runtime.leftovers().await.unwrap();
    assert_eq!(leftover.len(), 1, "{leftover:?}");
    let inspect = docker
        .inspect_container(&leftover[0].name, None)
        .await
        .unwrap();
    let inspect = serde_json::to_string(&inspect).unwrap();
    assert!(
        inspect.contains("THREADWORK_JOB_ID=1"),
        "inspected the right thing"
    );
    for secret in [CANARY, BOT_TOKEN, APP_TOKEN] {
        assert!(!inspect.contains(secret), "docker inspect shows a secret");
    }

    bot.kill().await.unwrap();
    let _ = bot.wait().await;
    assert_eq!(
        runtime.leftovers().await.unwrap().len(),
        1,
        "the container outlives the killed bot"
    );
    let before = tick_on_card(&w, &ts).await.unwrap_or(0);
    let mut bot = spawn();
    // The restarted bot follows the same run: the card goes on counting, live.
    eventually(SECS(30), "the card counting past the restart", || async {
        tick_on_card(&w, &ts).await.filter(|n| *n > before + 4)
    })
    .await;
    let card = w.bot_replies(&ts).await;
    assert_eq!(card.len(), 1, "one card, nothing posted twice: {card:?}");
    assert_eq!(runtime.leftovers().await.unwrap().len(), 1);
    w.emu
        .react_as("alice", CHANNEL, &card[0].ts, "x", true)
        .await
        .unwrap();
    let reply = wait_reply(&w, &ts, SECS(30), |m| m.text.contains("cancelled")).await;
    assert!(!reply.text.contains("interrupted"), "{}", reply.text);
    eventually(SECS(30), "the stopped run's container removed", || async {
        runtime.leftovers().await.unwrap().is_empty().then_some(())
    })
    .await;
    bot.kill().await.unwrap();
    let _ = bot.wait().await;

    assert!(
        files_below(&workspace).len() >= 2,
        "the workspace files were checked"
    );
    let holding = files_holding(&workspace, &[CANARY, BOT_TOKEN, APP_TOKEN]);
    assert!(holding.is_empty(), "a secret is in {holding:?}");
    let env = std::fs::read_to_string(workspace.join("env.txt")).unwrap();
    assert!(env.contains("THREADWORK_TASK="), "{env}");
}

/// SIGTERM: the bot stops taking events and exits within `[ops] drain_secs`, leaving its
/// runs going; the next process follows the one still running and finishes the one that
/// ended while no bot was up from its output and exit status. Each answer appears once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_leaves_runs_going_and_the_next_process_finishes_them() {
    if !docker_up("sigterm_in_docker").await {
        return;
    }
    let w = World::new(EmulatorConfig::default()).await;
    let config = w.dir.path().join("threadwork.toml");
    // A "short" run prints 12 steps, a "long" one 40, 0.3 s apart.
    std::fs::write(
        &config,
        format!(
            "[slack]\nreconnect_secs = 1\n\n[agents]\ndir = {:?}\n\n[store]\npath = {:?}\n\n\
             [jobs]\nworkdir = {:?}\ncard_interval_ms = 200\n\n[ops]\ndrain_secs = 10\n\n\
             [overlap]\nmode = \"off\"\n\n[sandbox]\ninstance = \"t-term\"\n\n\
             [harness.scripted]\nkind = \"command\"\nprogram = \"bash\"\nmode = \"text\"\n\
             args = [\"-c\", \"n=12; case $THREADWORK_TASK in *long*) n=40;; esac; for i in $(seq 1 $n); do echo step $i; sleep 0.3; done\"]\n",
            agents_dir(),
            w.dir.path().join("store"),
            w.dir.path().join("jobs"),
        ),
    )
    .unwrap();
    let runtime: Arc<dyn Runtime> = Arc::new(DockerRuntime::new(&policy("t-term")));
    let docker = bollard::Docker::connect_with_local_defaults()
        .unwrap()
        .negotiate_version()
        .await
        .unwrap();
    let spawn = || spawn_bot(&config, &w.emu.api_url());
    let mut bot = spawn();
    assert!(w.emu.wait_for_connections(2, SECS(20)).await);
    let long = w.mention("a long run").await;
    // Events on two sockets may arrive in either order: ask the second after the first is in.
    eventually(SECS(20), "the long run's card", || async {
        w.bot_replies(&long).await.into_iter().next()
    })
    .await;
    let short = w.mention("a short run").await;
    for ts in [&long, &short] {
        eventually(SECS(30), "both runs under way", || async {
            let card = w.bot_replies(ts).await.into_iter().next()?;
            card.text.contains("step 2").then_some(())
        })
        .await;
    }
    let pid = bot.id().expect("the bot runs") as i32;
    let asked = Instant::now();
    // SAFETY: a signal to the child this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = tokio::time::timeout(SECS(12), bot.wait())
        .await
        .expect("the bot exits within drain_secs")
        .unwrap();
    assert!(status.success(), "a clean exit: {status:?}");
    eprintln!("SIGTERM to exit: {:?}", asked.elapsed());
    eventually(SECS(5), "its sockets closed", || async {
        (w.emu.connection_count().await == 0).then_some(())
    })
    .await;
    assert_eq!(
        runtime.leftovers().await.unwrap().len(),
        2,
        "both runs outlive the stopped bot"
    );
    // The short run ends while no bot is up.
    let short_container = runtime
        .leftovers()
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.job_id == Some(2))
        .unwrap()
        .name;
    eventually(SECS(30), "the short run over", || async {
        let state = docker
            .inspect_container(&short_container, None)
            .await
            .ok()?
            .state?;
        (state.running == Some(false)).then_some(())
    })
    .await;
    let mut bot = spawn();
    for (ts, last) in [(&short, "step 12"), (&long, "step 40")] {
        let answer = wait_reply(&w, ts, SECS(40), |m| m.text.contains(last)).await;
        assert!(answer.text.starts_with("step 1\n"), "{}", answer.text);
        let replies = w.bot_replies(ts).await;
        assert_eq!(
            replies
                .iter()
                .filter(|m| m.text.starts_with("step 1\n"))
                .count(),
            1,
            "the answer once: {replies:?}"
        );
        assert_eq!(replies.len(), 2, "the card and the answer: {replies:?}");
        assert!(!replies.iter().any(|m| m.text.contains("interrupted")));
    }
    eventually(SECS(30), "the ended runs' containers removed", || async {
        runtime.leftovers().await.unwrap().is_empty().then_some(())
    })
    .await;
    bot.kill().await.unwrap();
    let _ = bot.wait().await;
    // The transcript was rebuilt from the replayed log: each step once.
    let store = threadwork::store::SledStore::open(&w.dir.path().join("store")).unwrap();
    let transcript = threadwork::store::Store::transcript(&store, 1).unwrap();
    let steps = transcript
        .iter()
        .filter(|e| matches!(e.event, HarnessEvent::AssistantText { .. }))
        .count();
    assert_eq!(steps, 40, "{transcript:?}");
}

/// A rolling restart loses nothing: mentions at a steady two a second across three channels,
/// about ten runs going, and the bot stopped (SIGTERM) and started again five times. Every
/// mention gets one job and one answer, and no run is interrupted. The longest wait from a
/// mention to its ack is printed (Slack redelivers what was not acked).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_rolling_restarts_lose_no_mention_and_interrupt_no_run() {
    if !docker_up("rolling_restart").await {
        return;
    }
    let w = World::new(EmulatorConfig::default()).await;
    let config = w.dir.path().join("threadwork.toml");
    let store = w.dir.path().join("store");
    std::fs::write(
        &config,
        format!(
            "[slack]\nreconnect_secs = 1\n\n[slack.limits]\nupdate_per_minute = 6000\nupdate_burst = 100\npost_per_minute = 600\npost_burst = 20\ntier3_per_minute = 3000\n\n\
             [agents]\ndir = {:?}\n\n[store]\npath = {store:?}\n\n\
             [jobs]\nworkdir = {:?}\ncard_interval_ms = 500\nmax_running = 16\nper_channel = 8\n\n\
             [ops]\ndrain_secs = 40\n\n[overlap]\nmode = \"off\"\n\n[sandbox]\ninstance = \"t-roll\"\n\n\
             [harness.scripted]\nkind = \"command\"\nprogram = \"bash\"\nmode = \"text\"\n\
             args = [\"-c\", \"for i in $(seq 1 12); do echo step $i; sleep 0.4; done\"]\n",
            agents_dir(),
            w.dir.path().join("jobs"),
        ),
    )
    .unwrap();
    // The bot's own pacing (Slack's update budget) is raised: it is not what this measures,
    // and at the defaults the final edits of sixteen cards wait their turn past the drain.
    let runtime: Arc<dyn Runtime> = Arc::new(DockerRuntime::new(&policy("t-roll")));
    w.emu.measure_acks();
    let spawn = || spawn_bot(&config, &w.emu.api_url());
    let mut bot = spawn();
    assert!(w.emu.wait_for_connections(2, SECS(20)).await);

    let stop_posting = CancellationToken::new();
    let poster = {
        let emu = w.emu.clone();
        let stop = stop_posting.clone();
        tokio::spawn(async move {
            let channels = [CHANNEL, "C0RANDOM01", "C0DEV00001"];
            let mut posted = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            for i in 0.. {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tick.tick() => {}
                }
                let channel = channels[i % channels.len()];
                let text = format!("<@{BOT_USER_ID}> rolling job {i}");
                let ts = emu.post_as("alice", channel, &text, None).await.unwrap();
                posted.push((channel, ts));
            }
            posted
        })
    };
    for restart in 1..=5 {
        tokio::time::sleep(SECS(3)).await;
        if restart == 1 {
            eventually(SECS(30), "runs going when the restarts begin", || async {
                (containers(&runtime).await >= 5).then_some(())
            })
            .await;
        }
        let pid = bot.id().expect("the bot runs") as i32;
        // SAFETY: a signal to the child this test started.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let status = tokio::time::timeout(SECS(45), bot.wait())
            .await
            .expect("the bot exits within drain_secs")
            .unwrap();
        assert!(status.success(), "restart {restart}: {status:?}");
        bot = spawn();
        assert!(w.emu.wait_for_connections(2, SECS(20)).await);
    }
    tokio::time::sleep(SECS(2)).await;
    stop_posting.cancel();
    let posted = poster.await.unwrap();
    for (channel, ts) in &posted {
        eventually(SECS(120), "every mention answered", || async {
            w.emu
                .thread(channel, ts)
                .await
                .into_iter()
                .any(|m| m.user == BOT_USER_ID && m.text.starts_with("step 1\n"))
                .then_some(())
        })
        .await;
    }
    let waits = w.emu.take_event_ack_waits();
    eventually(SECS(30), "every run's container removed", || async {
        runtime.leftovers().await.unwrap().is_empty().then_some(())
    })
    .await;
    let pid = bot.id().unwrap() as i32;
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let _ = tokio::time::timeout(SECS(20), bot.wait()).await;
    for (channel, ts) in &posted {
        let replies: Vec<_> = w
            .emu
            .thread(channel, ts)
            .await
            .into_iter()
            .filter(|m| m.user == BOT_USER_ID)
            .collect();
        let answers = replies
            .iter()
            .filter(|m| m.text.starts_with("step 1\n"))
            .count();
        assert_eq!(answers, 1, "one answer in {channel}/{ts}: {replies:?}");
        assert_eq!(replies.len(), 2, "the card and the answer: {replies:?}");
        assert!(!replies.iter().any(|m| m.text.contains("interrupted")));
    }
    let store = threadwork::store::SledStore::open(&store).unwrap();
    let jobs = threadwork::store::Store::jobs(&store).unwrap();
    assert_eq!(jobs.len(), posted.len(), "one job per mention");
    assert!(
        jobs.iter()
            .all(|j| j.state == threadwork::job::JobState::Succeeded),
        "{:?}",
        jobs.iter().map(|j| (j.id, j.state)).collect::<Vec<_>>()
    );
    let longest = waits.iter().max().copied().unwrap_or_default();
    eprintln!(
        "rolling restarts: {} mentions, 5 restarts, longest wait from an event to its ack {longest:?} ({} events acked)",
        posted.len(),
        waits.len()
    );
}
