//! The `kubernetes` runtime against a test API server with the documented REST shapes: the
//! objects a job creates (NetworkPolicy, confined Job), the workspace streamed in (attach)
//! and copied back (exec), the harness output from the followed pod log, exit and OOM
//! statuses, pending reasons as messages, foreground deletion, leftovers at start, and a
//! 200 MB workspace moved both ways with the bot's memory flat.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::common::kube::{FakeKube, PodScript};
use crate::common::*;
use serde_json::json;
use threadwork::emulator::EmulatorConfig;
use threadwork::harness::command::{CommandHarness, CommandSpec, OutputMode};
use threadwork::harness::Harness;
use threadwork::runtime::kubernetes::{KubeSettings, KubernetesRuntime};
use threadwork::runtime::{Runtime, SandboxPolicy};

const SECS: fn(u64) -> Duration = Duration::from_secs;

async fn world(fake: &FakeKube) -> World {
    world_in(fake, OutputMode::Text).await
}

async fn world_in(fake: &FakeKube, mode: OutputMode) -> World {
    let mut w = World::new(EmulatorConfig::default()).await;
    w.config.sandbox = SandboxPolicy {
        instance: "kt".into(),
        ..SandboxPolicy::default()
    };
    let settings = KubeSettings {
        api_url: Some(fake.url.clone()),
        ..KubeSettings::default()
    };
    let runtime: Arc<dyn Runtime> = Arc::new(KubernetesRuntime::new(settings, "kt"));
    let spec = CommandSpec {
        program: "my-agent".into(),
        args: vec!["--task".into(), "{task}".into()],
        mode,
        env: [("AGENT_MODE".to_string(), "ci".to_string())].into(),
    };
    let harnesses = HashMap::from([(
        "scripted".to_string(),
        Arc::new(CommandHarness::with_runtime(spec, runtime.clone())) as Arc<dyn Harness>,
    )]);
    w.start_bot_in(harnesses, Some(runtime)).await;
    w
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_as_a_confined_kubernetes_job() {
    let fake = FakeKube::start().await;
    fake.script(PodScript {
        lines: vec!["reading the code".into(), "fixed the bug".into()],
        writes: vec![("src/fix.rs".into(), "fn fixed() {}".into())],
        stderr: vec!["a warning".into()],
        ..Default::default()
    });
    let w = world(&fake).await;
    let ts = w.mention("fix the bug").await;
    let answer = wait_reply(&w, &ts, SECS(30), |m| m.text.contains("fixed the bug")).await;
    assert!(answer.text.contains("reading the code"), "{}", answer.text);
    assert!(!answer.text.contains("@@threadwork"), "{}", answer.text);

    // The workspace went in through the init container's stdin and came back through `tar`
    // in the harness container; no Secret holds it. The policy denies all egress (network
    // none).
    let calls = fake.calls();
    let attach = calls
        .iter()
        .find(|c| c.path.ends_with("/pods/threadwork-kt-job-1-x7k2p/attach"))
        .expect("the workspace is attached");
    assert!(
        attach.query.contains("container=workspace"),
        "{}",
        attach.query
    );
    assert!(attach.query.contains("stdin=true"), "{}", attach.query);
    let execs: Vec<&str> = calls
        .iter()
        .filter(|c| c.path.ends_with("/exec"))
        .map(|c| c.query.as_str())
        .collect();
    assert_eq!(execs.len(), 2, "{execs:?}");
    assert!(execs[0].contains("command=tar&command=-czf"), "{execs:?}");
    assert!(execs[1].contains("command=touch"), "{execs:?}");
    assert!(!calls.iter().any(|c| c.path.contains("/secrets")));
    let policy = &fake.created("/networkpolicies")[0];
    assert_eq!(policy["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    assert_eq!(policy["spec"]["ingress"], json!([]));
    assert_eq!(policy["spec"]["egress"], json!([]));
    assert_eq!(
        policy["spec"]["podSelector"]["matchLabels"]["threadwork.job"],
        "1"
    );

    // The Job: no retries, a deadline, a TTL, confined pod, limits, labels, our env only.
    let job = &fake.created("/jobs")[0];
    assert_eq!(job["metadata"]["labels"]["threadwork.agent"], "default");
    assert_eq!(job["metadata"]["labels"]["threadwork.instance"], "kt");
    let spec = &job["spec"];
    assert_eq!(spec["backoffLimit"], 0);
    assert_eq!(spec["activeDeadlineSeconds"], 1800 + 900);
    assert!(spec["ttlSecondsAfterFinished"].as_i64().unwrap() > 0);
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["runAsUser"], 1000);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let c = &pod["containers"][0];
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(c["securityContext"]["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(
        c["resources"]["limits"],
        json!({"cpu": "1000m", "memory": "1024Mi"})
    );
    assert_eq!(c["resources"]["requests"], c["resources"]["limits"]);
    let command: Vec<&str> = c["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    // The wrapper, then the harness's own command line.
    assert_eq!(&command[..2], &["/bin/sh", "-c"]);
    assert_eq!(&command[4..8], &["1800", "/dev/null", "my-agent", "--task"]);
    assert!(command[8].starts_with("fix the bug"), "{command:?}");
    let env: Vec<&str> = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(env.contains(&"AGENT_MODE"), "{env:?}");
    assert!(!env.iter().any(|e| e.starts_with("SLACK")), "{env:?}");
    assert_eq!(pod["initContainers"][0]["name"], "workspace");

    // The workspace came back from the pod; the run's objects were deleted, the Job in the
    // foreground.
    let workspace = w.dir.path().join("jobs/job-1");
    eventually(SECS(5), "the workspace back", || async {
        workspace.join("src/fix.rs").exists().then_some(())
    })
    .await;
    let deletes: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|c| c.method == "DELETE" && c.path.contains("threadwork-kt-job-1"))
        .collect();
    let job_delete = deletes
        .iter()
        .find(|c| c.path.ends_with("/jobs/threadwork-kt-job-1"))
        .expect("the Job is deleted");
    assert_eq!(job_delete.body["propagationPolicy"], "Foreground");
    assert!(deletes.iter().any(|c| c.path.ends_with("-net")));
}

/// A harness whose final event comes before its process ends (every JSON CLI): the answer is
/// delivered only once the workspace is back, so the PR flow sees the agent's changes. Here
/// over the older stream protocol too (`v4.channel.k8s.io`, whose only end of input is the
/// socket closing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_answer_waits_for_the_workspace_to_come_back() {
    let fake = FakeKube::start().await;
    fake.only_v4();
    fake.script(PodScript {
        lines: vec![
            r#"{"type":"assistant_text","text":"on it"}"#.into(),
            r#"{"type":"finished","answer":"all done"}"#.into(),
        ],
        writes: vec![("src/fix.rs".into(), "fn fixed() {}".into())],
        ..Default::default()
    });
    let w = world_in(&fake, OutputMode::Json).await;
    let ts = w.mention("fix the bug").await;
    wait_reply(&w, &ts, SECS(30), |m| m.text == "all done").await;
    // Not "eventually": by the time the answer is out, the file is there.
    assert_eq!(
        std::fs::read_to_string(w.dir.path().join("jobs/job-1/src/fix.rs")).unwrap(),
        "fn fixed() {}"
    );
    let calls = fake.calls();
    assert!(calls.iter().any(|c| c.path.ends_with("/attach")));
    assert!(calls.iter().any(|c| c.query.contains("command=touch")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_endings_and_pending_reasons_become_messages() {
    let fake = FakeKube::start().await;
    fake.script(PodScript {
        pending: Some((
            "ImagePullBackOff".into(),
            "Back-off pulling image \"threadwork/harness:dev\"".into(),
        )),
        ..Default::default()
    });
    fake.script(PodScript {
        lines: vec!["allocating".into()],
        exit_code: 137,
        oom: true,
        ..Default::default()
    });
    fake.script(PodScript {
        lines: vec!["trying".into()],
        stderr: vec!["panic: the tool broke".into()],
        exit_code: 3,
        ..Default::default()
    });
    let w = world(&fake).await;
    let ts = w.mention("pull").await;
    let pull = wait_reply(&w, &ts, SECS(30), |m| m.text.contains("failed")).await;
    assert!(pull.text.contains("ImagePullBackOff"), "{}", pull.text);
    let ts = w.mention("eat memory").await;
    let oom = wait_reply(&w, &ts, SECS(30), |m| m.text.contains("failed")).await;
    assert!(oom.text.contains("ran out of memory"), "{}", oom.text);
    let ts = w.mention("break").await;
    let broke = wait_reply(&w, &ts, SECS(30), |m| m.text.contains("failed")).await;
    assert!(broke.text.contains("status 3"), "{}", broke.text);
    assert!(
        broke.text.contains("panic: the tool broke"),
        "{}",
        broke.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leftover_jobs_of_this_instance_are_removed_at_start() {
    let fake = FakeKube::start().await;
    fake.plant_job(
        "threadwork-kt-job-9",
        json!({"threadwork.job": "9", "threadwork.agent": "default", "threadwork.instance": "kt"}),
    );
    fake.plant_job(
        "threadwork-other-job-9",
        json!({"threadwork.job": "9", "threadwork.agent": "default", "threadwork.instance": "other"}),
    );
    let _w = world(&fake).await;
    eventually(SECS(10), "the leftover deleted", || async {
        fake.calls()
            .iter()
            .any(|c| c.method == "DELETE" && c.path.ends_with("/jobs/threadwork-kt-job-9"))
            .then_some(())
    })
    .await;
    assert!(!fake
        .calls()
        .iter()
        .any(|c| c.method == "DELETE" && c.path.contains("threadwork-other")));
}

/// `kubectl apply -k` reads only files in or below the kustomization's folder (a file source
/// elsewhere, even through a symlink, fails with "security; file … is not in or below"), and
/// an overlay may not sit inside its base ("cycle detected"). Every file a kustomization names
/// is in its folder and exists; bases are folders outside it; no Secret is applied.
#[test]
fn each_kustomization_reads_only_its_own_folder() {
    let deploy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
    for dir in ["kubernetes", "kubernetes-sandboxes-apart"] {
        let folder = deploy.join(dir);
        let text = std::fs::read_to_string(folder.join("kustomization.yaml")).unwrap();
        let k: serde_json::Value = serde_norway::from_str(&text).unwrap();
        let mut files: Vec<String> = k["configMapGenerator"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["files"].as_array().cloned().unwrap_or_default())
            .chain(
                k["patches"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| p["path"].clone()),
            )
            .filter_map(|f| f.as_str().map(String::from))
            .collect();
        for r in k["resources"].as_array().unwrap() {
            let r = r.as_str().unwrap();
            let path = folder.join(r);
            if path.is_dir() {
                let (base, here) = (path.canonicalize().unwrap(), folder.canonicalize().unwrap());
                assert!(
                    !base.starts_with(&here) && !here.starts_with(&base),
                    "{dir}: base {r} contains or is inside the overlay"
                );
            } else {
                files.push(r.to_string());
            }
        }
        assert!(!files.is_empty());
        for f in files {
            let path = folder.join(&f);
            assert!(
                !f.starts_with('/') && !f.split('/').any(|c| c == ".."),
                "{dir}: `{f}` is outside the kustomization's folder"
            );
            let meta =
                std::fs::symlink_metadata(&path).unwrap_or_else(|e| panic!("{dir}: `{f}`: {e}"));
            assert!(meta.is_file(), "{dir}: `{f}` is not a plain file");
            let body = std::fs::read_to_string(&path).unwrap();
            assert!(
                !body.lines().any(|l| l.trim() == "kind: Secret"),
                "{dir}: `{f}` applies a Secret"
            );
        }
    }
}

/// Every document of `deploy/kubernetes/threadwork.yaml`, by kind.
fn deploy_objects() -> HashMap<String, serde_json::Value> {
    deploy_file("kubernetes/threadwork.yaml")
}

/// The objects of a file under `deploy/`, by kind (the first of each) and by
/// `kind/name`.
fn deploy_file(rel: &str) -> HashMap<String, serde_json::Value> {
    use serde::Deserialize;
    let path = format!("{}/deploy/{rel}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = HashMap::new();
    for doc in serde_norway::Deserializer::from_str(&text) {
        let v = serde_json::Value::deserialize(doc).expect("each document parses");
        let kind = v["kind"].as_str().expect("a kind").to_string();
        let name = v["metadata"]["name"].as_str().expect("a name").to_string();
        out.insert(format!("{kind}/{name}"), v.clone());
        out.entry(kind).or_insert(v);
    }
    out
}

// Guards (part 2, item 7): sandboxes may live in a namespace of their own. The overlay gives
// the bot there exactly the Role it has in its own, fences every pod there by default, admits
// to the bot's model port only sandbox pods of that namespace, and configures both namespaces.
#[test]
fn the_sandboxes_apart_overlay_holds_together() {
    let base = deploy_objects();
    let apart = deploy_file("kubernetes-sandboxes-apart/sandboxes.yaml");
    let kustomization = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/kubernetes-sandboxes-apart/kustomization.yaml"
    ))
    .unwrap();
    for file in [
        "sandboxes.yaml",
        "bot-ingress.yaml",
        "config.yaml",
        "drop-bot-role.yaml",
        "drop-bot-rolebinding.yaml",
    ] {
        assert!(kustomization.contains(file), "{file} is applied");
    }
    // The bot keeps no Role where it runs no sandbox.
    for (file, kind) in [
        ("drop-bot-role.yaml", "Role"),
        ("drop-bot-rolebinding.yaml", "RoleBinding"),
    ] {
        let drop = &deploy_file(&format!("kubernetes-sandboxes-apart/{file}"))[kind];
        assert_eq!(drop["$patch"], "delete");
        assert_eq!(drop["metadata"]["name"], base[kind]["metadata"]["name"]);
        assert_eq!(drop["metadata"]["namespace"], "threadwork");
    }
    assert_eq!(
        apart["RoleBinding"]["roleRef"]["name"],
        apart["Role"]["metadata"]["name"]
    );
    let ns = "threadwork-sandboxes";
    assert_eq!(apart["Namespace"]["metadata"]["name"], ns);
    assert_eq!(apart["Role"]["metadata"]["namespace"], ns);
    assert_eq!(apart["Role"]["rules"], base["Role"]["rules"]);
    assert_eq!(
        apart["RoleBinding"]["subjects"],
        base["RoleBinding"]["subjects"]
    );
    let deny = &apart["NetworkPolicy"];
    assert_eq!(deny["metadata"]["namespace"], ns);
    assert_eq!(deny["spec"]["podSelector"], json!({}));
    assert_eq!(deny["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    assert!(deny["spec"]["ingress"].is_null() && deny["spec"]["egress"].is_null());

    let ingress = &deploy_file("kubernetes-sandboxes-apart/bot-ingress.yaml")["NetworkPolicy"];
    assert_eq!(
        ingress["metadata"]["name"], base["NetworkPolicy"]["metadata"]["name"],
        "the patch replaces the bot's ingress policy"
    );
    let from = &ingress["spec"]["ingress"][0]["from"][0];
    assert_eq!(
        from["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
        ns
    );
    assert_eq!(
        from["podSelector"]["matchExpressions"][0]["key"],
        "threadwork.job"
    );

    let config = &deploy_file("kubernetes-sandboxes-apart/config.yaml")["ConfigMap"];
    let toml = config["data"]["threadwork.toml"].as_str().unwrap();
    let config = threadwork::config::Config::parse("threadwork.toml", toml).expect("valid config");
    assert_eq!(config.kubernetes.namespace, ns);
    assert_eq!(
        config.kubernetes.bot_namespace.as_deref(),
        Some("threadwork")
    );
    let base_toml = base["ConfigMap"]["data"]["threadwork.toml"]
        .as_str()
        .unwrap();
    let only_namespaces = toml.replace(
        "namespace = \"threadwork-sandboxes\"\nbot_namespace = \"threadwork\"\n",
        "",
    );
    let base_without = base_toml.replace("namespace = \"threadwork\"\n", "");
    assert_eq!(
        only_namespaces, base_without,
        "the rest of the config is the base's"
    );
}

#[test]
fn the_deployment_files_hold_what_the_bot_needs_and_no_more() {
    let o = deploy_objects();
    for kind in [
        "Namespace",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "Service",
        "ConfigMap",
        "StatefulSet",
        "NetworkPolicy",
    ] {
        assert!(o.contains_key(kind), "no {kind}");
    }
    // Sandboxes keep their model while the bot is not ready for Slack.
    assert_eq!(o["Service"]["spec"]["publishNotReadyAddresses"], true);
    // Tokens are created once, apart: re-applying the files must not reset them.
    assert!(!o.contains_key("Secret"), "a Secret in the applied files");
    let secret = &deploy_file("secret.example.yaml")["Secret"];
    let env_from = &o["StatefulSet"]["spec"]["template"]["spec"]["containers"][0]["envFrom"];
    assert_eq!(env_from[0]["secretRef"]["name"], secret["metadata"]["name"]);
    // Ingress to the bot pod: the model port from sandbox pods only, the ops port in-cluster.
    let np = &o["NetworkPolicy"];
    assert_eq!(
        np["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"],
        "threadwork"
    );
    assert_eq!(np["spec"]["policyTypes"], json!(["Ingress"]));
    let rules = np["spec"]["ingress"].as_array().unwrap();
    assert_eq!(rules.len(), 2, "{rules:?}");
    assert_eq!(rules[0]["ports"][0]["port"], 8080);
    assert_eq!(
        rules[0]["from"][0]["podSelector"]["matchExpressions"][0]["key"],
        "threadwork.job"
    );
    assert_eq!(rules[1]["ports"][0]["port"], 9464);
    assert_eq!(
        secret["stringData"]["THREADWORK_OPS_TOKEN"], "",
        "the ops token is a secret, set in the Secret"
    );
    // Every sandbox pod is fenced by default, whatever its run's own policy.
    let deny = &o["NetworkPolicy/threadwork-sandbox-default-deny"];
    assert_eq!(
        deny["spec"]["podSelector"]["matchExpressions"][0]["key"],
        "threadwork.job"
    );
    assert_eq!(deny["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    // The Role grants exactly these verbs, in its namespace only.
    let mut grants: Vec<String> = Vec::new();
    for rule in o["Role"]["rules"].as_array().unwrap() {
        for res in rule["resources"].as_array().unwrap() {
            for verb in rule["verbs"].as_array().unwrap() {
                grants.push(format!(
                    "{}:{}",
                    res.as_str().unwrap(),
                    verb.as_str().unwrap()
                ));
            }
        }
    }
    grants.sort();
    assert_eq!(
        grants,
        [
            "jobs:create",
            "jobs:delete",
            "jobs:get",
            "jobs:list",
            "networkpolicies:create",
            "networkpolicies:delete",
            "pods/attach:create",
            "pods/attach:get",
            "pods/exec:create",
            "pods/exec:get",
            "pods/log:get",
            "pods:get",
            "pods:list",
        ]
    );
    // `doctor` asks for exactly these.
    let mut needed: Vec<String> = threadwork::runtime::kubernetes::NEEDED_PERMISSIONS
        .iter()
        .map(|(verb, _, res, sub)| match *sub {
            "" => format!("{res}:{verb}"),
            sub => format!("{res}/{sub}:{verb}"),
        })
        .collect();
    needed.sort();
    assert_eq!(grants, needed);
    assert_eq!(
        o["RoleBinding"]["roleRef"]["name"],
        o["Role"]["metadata"]["name"]
    );
    assert_eq!(
        o["RoleBinding"]["subjects"][0]["name"],
        o["ServiceAccount"]["metadata"]["name"]
    );
    // One replica holding sled on a claimed volume, non-root, read-only root.
    let sts = &o["StatefulSet"];
    assert_eq!(sts["spec"]["replicas"], 1);
    assert_eq!(
        sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"],
        "data"
    );
    let pod = &sts["spec"]["template"]["spec"];
    assert_eq!(
        pod["serviceAccountName"],
        o["ServiceAccount"]["metadata"]["name"]
    );
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let bot = &pod["containers"][0];
    assert_eq!(bot["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(bot["readinessProbe"]["httpGet"]["path"], "/readyz");
    // The model-proxy Service selects the bot's pods, which the sandboxes' policy admits.
    let defaults = KubeSettings::default();
    let selector = &o["Service"]["spec"]["selector"];
    for (k, v) in &defaults.proxy_labels {
        assert_eq!(selector[k], json!(v));
        assert_eq!(sts["spec"]["template"]["metadata"]["labels"][k], json!(v));
    }
    assert_eq!(
        o["Service"]["metadata"]["name"],
        defaults.proxy_service.as_str()
    );
    assert_eq!(
        o["Service"]["spec"]["ports"][0]["port"],
        defaults.proxy_port()
    );
    // The config in the ConfigMap is one the bot accepts, and runs jobs on the cluster.
    let toml = o["ConfigMap"]["data"]["threadwork.toml"].as_str().unwrap();
    let config = threadwork::config::Config::parse("threadwork.toml", toml).expect("valid config");
    assert_eq!(
        config.sandbox.runtime,
        threadwork::runtime::policy::RuntimeKind::Kubernetes
    );
    assert_eq!(config.kubernetes.namespace, "threadwork");
    // Every prompt and context file of the deployment is in the kustomization's ConfigMaps,
    // and the deployment has each example the repository has.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let kustomization =
        std::fs::read_to_string(root.join("deploy/kubernetes/kustomization.yaml")).unwrap();
    let names = |dir: std::path::PathBuf| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    };
    for dir in ["prompts/agents", "prompts/shared", "context/engineering"] {
        let deployed = names(root.join("deploy/kubernetes").join(dir));
        for name in &deployed {
            assert!(
                kustomization.contains(&format!("- {dir}/{name}\n")),
                "deploy/kubernetes/{dir}/{name} is not in kustomization.yaml"
            );
        }
        assert_eq!(deployed, names(root.join(dir)), "{dir}");
    }
    assert_eq!(
        config.agents.context_dir,
        std::path::PathBuf::from("/app/context")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_pick_their_runtime() {
    use threadwork::config::HarnessConfig;
    use threadwork::runtime::policy::RuntimeKind;
    let fake = FakeKube::start().await;
    fake.script(PodScript {
        lines: vec!["ran on the cluster".into()],
        ..Default::default()
    });
    let mut w = World::new(EmulatorConfig::default()).await;
    let agents = w.dir.path().join("agents");
    std::fs::create_dir_all(&agents).unwrap();
    let agent = |name: &str, extra: &str| {
        std::fs::write(
            agents.join(format!("{name}.md")),
            format!("---\nname: {name}\ndescription: d\nharness: cmd\n{extra}---\nYou work.\n"),
        )
        .unwrap();
    };
    agent("light", "");
    agent("heavy", "sandbox:\n  runtime: kubernetes\n");
    agent("odd", "sandbox:\n  runtime: docker\n");
    w.config.agents.dir = agents;
    w.config.agents.default = "light".into();
    w.config.sandbox = SandboxPolicy {
        instance: "kt".into(),
        runtime: RuntimeKind::Process,
        runtimes: vec![RuntimeKind::Kubernetes],
        ..SandboxPolicy::default()
    };
    w.config.kubernetes.api_url = Some(fake.url.clone());
    w.config.harness.insert(
        "cmd".into(),
        HarnessConfig::Command(CommandSpec {
            program: "/bin/sh".into(),
            args: vec![
                "-c".into(),
                "echo \"ran here: $1\"".into(),
                "sh".into(),
                "{task}".into(),
            ],
            mode: OutputMode::Text,
            env: Default::default(),
        }),
    );
    let runtime = threadwork::app::runtime(&w.config);
    let harnesses = threadwork::app::harnesses(&w.config, &runtime).unwrap();
    w.start_bot_in(harnesses, Some(runtime)).await;

    let ts = w.mention("a light task").await;
    let light = wait_reply(&w, &ts, SECS(20), |m| m.text.contains("ran")).await;
    assert!(
        light.text.starts_with("ran here: a light task"),
        "{}",
        light.text
    );
    let ts = w.mention("a heavy task agent=heavy").await;
    let heavy = wait_reply(&w, &ts, SECS(30), |m| m.text.contains("ran")).await;
    assert_eq!(heavy.text, "ran on the cluster");
    assert_eq!(
        fake.created("/jobs").len(),
        1,
        "only the heavy agent went to the cluster"
    );
    let job = w.bot().bot.store().job(2).unwrap().unwrap();
    assert_eq!(job.sandbox.unwrap().runtime, "kubernetes");
    let ts = w.mention("anything agent=odd").await;
    let odd = wait_reply(&w, &ts, SECS(20), |m| m.text.contains("failed")).await;
    assert!(
        odd.text
            .contains("asks for runtime `docker`, which this bot does not run"),
        "{}",
        odd.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_bot_reattaches_to_its_running_job() {
    restarted_bot_reattaches(false).await;
}

/// SIGTERM: the drain leaves the Job running (nothing is deleted) and the next process
/// follows it to its end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drained_bot_leaves_its_job_and_the_next_one_follows_it() {
    restarted_bot_reattaches(true).await;
}

/// A bot stopped mid-run — killed, or drained with SIGTERM when `graceful` — and started
/// again follows the same Job: one answer, no "interrupted", the Job made once.
async fn restarted_bot_reattaches(graceful: bool) {
    let fake = FakeKube::start().await;
    // Twenty lines, 200 ms apart: the bot dies in the middle of them.
    fake.script(PodScript {
        lines: (1..=20).map(|i| format!("step {i}")).collect(),
        writes: vec![("result.txt".into(), "done".into())],
        line_delay_ms: 200,
        ..Default::default()
    });
    let w = World::new(EmulatorConfig::default()).await;
    let config = w.dir.path().join("threadwork.toml");
    std::fs::write(
        &config,
        format!(
            "[slack]\nreconnect_secs = 1\n\n[agents]\ndir = {:?}\n\n[store]\npath = {:?}\n\n[jobs]\ncard_interval_ms = 200\nworkdir = {:?}\n\n[sandbox]\nruntime = \"kubernetes\"\ninstance = \"kt\"\n\n[kubernetes]\napi_url = {:?}\n\n[harness.scripted]\nkind = \"command\"\nprogram = \"my-agent\"\nmode = \"text\"\n",
            agents_dir(),
            w.dir.path().join("store"),
            w.dir.path().join("jobs"),
            fake.url
        ),
    )
    .unwrap();
    let spawn = || spawn_bot(&config, &w.emu.api_url());
    let mut bot = spawn();
    assert!(w.emu.wait_for_connections(2, SECS(20)).await);
    let ts = w.mention("a long cluster job").await;
    // The run is under way on the cluster: the card shows a step.
    eventually(SECS(20), "progress on the card", || async {
        let card = w.bot_replies(&ts).await.into_iter().next()?;
        card.text.contains("step 2").then_some(())
    })
    .await;
    if graceful {
        let pid = bot.id().unwrap() as i32;
        // SAFETY: a signal to the child this test started.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let status = tokio::time::timeout(SECS(20), bot.wait())
            .await
            .expect("the bot exits within drain_secs")
            .unwrap();
        assert!(status.success(), "{status:?}");
        // Deletes before the Job was made are the start's own tidy-up of a name.
        let deletes: Vec<_> = fake
            .calls()
            .into_iter()
            .skip_while(|c| !(c.method == "POST" && c.path.ends_with("/jobs")))
            .filter(|c| c.method == "DELETE")
            .map(|c| c.path)
            .collect();
        assert!(deletes.is_empty(), "the drain deleted {deletes:?}");
    } else {
        bot.kill().await.unwrap();
        let _ = bot.wait().await;
    }
    let mut bot = spawn();
    let answer = wait_reply(&w, &ts, SECS(30), |m| m.text.contains("step 20")).await;
    assert!(answer.text.starts_with("step 1\n"), "{}", answer.text);
    // One answer, no "interrupted", the Job not deleted before it ended, the workspace back.
    let replies = w.bot_replies(&ts).await;
    assert_eq!(
        replies
            .iter()
            .filter(|m| m.text.contains("step 20"))
            .count(),
        1
    );
    assert!(!replies.iter().any(|m| m.text.contains("interrupted")));
    assert_eq!(fake.created("/jobs").len(), 1, "the Job was not made twice");
    assert!(w.dir.path().join("jobs/job-1/result.txt").exists());
    bot.kill().await.unwrap();
}

/// The same run against a real cluster: `KUBECONFIG=… THREADWORK_KUBE_NAMESPACE=threadwork
/// THREADWORK_KUBE_IMAGE=<a pullable harness image> cargo test --test it
/// kubernetes::real_cluster -- --ignored`. The namespace must exist; the test creates and deletes one
/// Job and NetworkPolicy in it. (No cluster is reachable where CI runs.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Kubernetes cluster (KUBECONFIG)"]
async fn real_cluster_end_to_end() {
    use threadwork::runtime::{Launch, SandboxSpec};
    use tokio::io::AsyncReadExt;
    let namespace = std::env::var("THREADWORK_KUBE_NAMESPACE").unwrap_or("threadwork".into());
    let image = std::env::var("THREADWORK_KUBE_IMAGE").unwrap_or("threadwork/harness:dev".into());
    let settings = KubeSettings {
        namespace,
        ..KubeSettings::default()
    };
    let runtime = KubernetesRuntime::new(settings, "e2e");
    runtime.ping().await.expect("the cluster answers");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.txt"), "from the bot").unwrap();
    let spawned = runtime
        .spawn(Launch {
            stdin: None,
            job_id: 1,
            agent: "e2e".into(),
            program: "sh".into(),
            args: vec!["-c".into(), "cat in.txt; echo changed > out.txt".into()],
            env: vec![],
            workspace: dir.path().to_path_buf(),
            spec: SandboxSpec {
                image,
                ..SandboxSpec::default()
            },
        })
        .await
        .expect("the Job starts");
    let mut stdout = String::new();
    let mut out = spawned.stdout;
    out.read_to_string(&mut stdout).await.unwrap();
    let mut handle = spawned.handle;
    let exit = handle.wait().await.unwrap();
    handle.cleanup().await;
    assert!(exit.success(), "{exit:?}");
    assert_eq!(stdout.trim(), "from the bot");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out.txt")).unwrap(),
        "changed\n"
    );
    assert!(runtime.leftovers().await.unwrap().is_empty());
}

/// `doctor` asks the API server whether the bot may do what a run needs in the sandbox
/// namespace, and names what it may not.
#[tokio::test]
async fn doctor_names_what_the_bot_may_not_do_in_the_namespace() {
    use threadwork::config::{Config, HarnessConfig};
    use threadwork::runtime::policy::RuntimeKind;
    let fake = FakeKube::start().await;
    let mut config = Config::default();
    config.sandbox.runtime = RuntimeKind::Kubernetes;
    config.kubernetes.api_url = Some(fake.url.clone());
    config.harness.insert(
        "cmd".into(),
        HarnessConfig::Command(CommandSpec {
            program: "my-agent".into(),
            args: vec![],
            mode: OutputMode::Text,
            env: Default::default(),
        }),
    );
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("manifest.yml");
    let text =
        threadwork::cli::doctor::render(&threadwork::cli::doctor::run(&config, &manifest).await);
    assert!(
        text.contains(
            "ok    kubernetes access: the bot may do all a run needs in namespace `threadwork`"
        ),
        "{text}"
    );
    let reviews = fake.created("/selfsubjectaccessreviews");
    assert_eq!(reviews.len(), 13, "one review per permission of the Role");
    assert!(reviews
        .iter()
        .all(|r| r["spec"]["resourceAttributes"]["namespace"] == "threadwork"));
    fake.deny("create pods/exec");
    fake.deny("get pods/log");
    let text =
        threadwork::cli::doctor::render(&threadwork::cli::doctor::run(&config, &manifest).await);
    assert!(
        text.contains("FAIL  kubernetes access: in namespace `threadwork` the bot may not get pods/log, create pods/exec"),
        "{text}"
    );
    assert!(!text.contains("dockerd"), "{text}");
}
