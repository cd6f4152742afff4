//! A Kubernetes API server for tests: the documented REST shapes for NetworkPolicies, Jobs,
//! Pods, pods/log (streamed) and pods/attach and pods/exec (WebSocket, the `v5.channel.k8s.io`
//! / `v4.channel.k8s.io` framing), enough for the `kubernetes` runtime. A created Job gets one
//! pod with a folder of its own for `/workspace` and `/tmp`. It plays a scripted run: its init
//! container unpacks what is attached to its stdin (real `tar`), then the harness applies the
//! script's file edits, prints its lines, and ends as the bot's wrapper does (marker, marker,
//! stderr, then waiting until `/tmp/.threadwork-collected` exists), with the scripted exit.
//! `exec` runs the command for real with `/workspace` and `/tmp` mapped to the pod's folder.
// Handlers answer refusals as whole responses, as the API server does.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

/// What the next Job's pod does.
#[derive(Debug, Clone, Default)]
pub struct PodScript {
    /// Lines the harness prints.
    pub lines: Vec<String>,
    /// Files the harness writes in the workspace.
    pub writes: Vec<(String, String)>,
    pub stderr: Vec<String>,
    pub exit_code: i32,
    pub oom: bool,
    /// The pod never starts: a container waiting reason and message.
    pub pending: Option<(String, String)>,
    /// Milliseconds between two printed lines (20 when 0).
    pub line_delay_ms: u64,
}

#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: Value,
}

/// A pod's run: its script, its folder (`workspace/`, `tmp/`), how far it got.
struct FakePod {
    script: PodScript,
    root: Arc<tempfile::TempDir>,
    /// The init container's exit code, once the workspace was attached and unpacked.
    init: Option<i32>,
    finished: bool,
}

#[derive(Default)]
struct Inner {
    calls: Vec<Call>,
    /// kind/name → object
    objects: BTreeMap<String, Value>,
    scripts: VecDeque<PodScript>,
    pods: BTreeMap<String, FakePod>,
    seq: u64,
    /// `verb resource` pairs SelfSubjectAccessReviews deny.
    denied: Vec<String>,
}

#[derive(Clone)]
pub struct FakeKube {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
    /// Stream sessions speak only `v4.channel.k8s.io` (API servers before 1.30): no end of
    /// stdin but closing the socket.
    v4_only: Arc<std::sync::atomic::AtomicBool>,
}

impl FakeKube {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let fake = FakeKube {
            url,
            inner: Arc::default(),
            v4_only: Arc::default(),
        };
        let app = Router::new()
            .route("/version", get(version))
            .route(
                "/api/v1/namespaces/{ns}/secrets",
                axum::routing::post(create),
            )
            .route(
                "/api/v1/namespaces/{ns}/secrets/{name}",
                axum::routing::delete(delete),
            )
            .route(
                "/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies",
                axum::routing::post(create),
            )
            .route(
                "/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies/{name}",
                axum::routing::delete(delete),
            )
            .route(
                "/apis/batch/v1/namespaces/{ns}/jobs",
                get(list).post(create),
            )
            .route(
                "/apis/batch/v1/namespaces/{ns}/jobs/{name}",
                axum::routing::delete(delete),
            )
            .route("/api/v1/namespaces/{ns}/pods", get(list))
            .route("/api/v1/namespaces/{ns}/pods/{name}", get(get_pod))
            .route("/api/v1/namespaces/{ns}/pods/{name}/log", get(log))
            .route("/api/v1/namespaces/{ns}/pods/{name}/attach", get(attach))
            .route("/api/v1/namespaces/{ns}/pods/{name}/exec", get(exec))
            .route(
                "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                axum::routing::post(access_review),
            )
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        fake
    }

    /// Stream sessions from now on offer only the older protocol.
    pub fn only_v4(&self) {
        self.v4_only
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Access reviews for `verb resource` (e.g. `delete secrets`) answer "not allowed".
    pub fn deny(&self, what: &str) {
        self.inner.lock().unwrap().denied.push(what.to_string());
    }

    pub fn script(&self, s: PodScript) {
        self.inner.lock().unwrap().scripts.push_back(s);
    }

    pub fn calls(&self) -> Vec<Call> {
        self.inner.lock().unwrap().calls.clone()
    }

    /// The folder standing for `/workspace` in `pod`.
    pub fn pod_workspace(&self, pod: &str) -> Option<std::path::PathBuf> {
        let inner = self.inner.lock().unwrap();
        inner.pods.get(pod).map(|p| p.root.path().join("workspace"))
    }

    pub fn created(&self, kind_path: &str) -> Vec<Value> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == "POST" && c.path.ends_with(kind_path))
            .map(|c| c.body)
            .collect()
    }

    /// Puts an object there as if a previous bot had made it.
    pub fn plant_job(&self, name: &str, labels: Value) {
        self.inner.lock().unwrap().objects.insert(
            format!("jobs/{name}"),
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": "threadwork", "labels": labels, "uid": "u-planted"}}),
        );
    }

    fn record(&self, method: &Method, uri: &Uri, body: Value) {
        self.inner.lock().unwrap().calls.push(Call {
            method: method.to_string(),
            path: uri.path().to_string(),
            query: uri.query().unwrap_or_default().to_string(),
            body,
        });
    }
}

/// `POST selfsubjectaccessreviews`: the review back with its status.
async fn access_review(State(fake): State<FakeKube>, uri: Uri, body: Bytes) -> Response {
    let mut review: Value = serde_json::from_slice(&body).unwrap_or_default();
    fake.record(&Method::POST, &uri, review.clone());
    let attrs = &review["spec"]["resourceAttributes"];
    let resource = match attrs["subresource"].as_str() {
        Some(sub) => format!("{}/{sub}", attrs["resource"].as_str().unwrap_or_default()),
        None => attrs["resource"].as_str().unwrap_or_default().to_string(),
    };
    let what = format!("{} {resource}", attrs["verb"].as_str().unwrap_or_default());
    let allowed = !fake.inner.lock().unwrap().denied.contains(&what);
    review["status"] = json!({"allowed": allowed});
    (StatusCode::CREATED, Json(review)).into_response()
}

fn status(code: u16, reason: &str, message: &str) -> Response {
    (
        StatusCode::from_u16(code).unwrap(),
        Json(
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": message, "reason": reason, "code": code}),
        ),
    )
        .into_response()
}

async fn version() -> Json<Value> {
    Json(
        json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0", "gitCommit": "fake",
                "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.24",
                "compiler": "gc", "platform": "linux/amd64"}),
    )
}

/// `jobs`, `pods`, `networkpolicies` from a path.
fn kind_of(path: &str) -> &'static str {
    for k in ["networkpolicies", "jobs", "pods"] {
        if path.contains(&format!("/{k}")) {
            return k;
        }
    }
    "unknown"
}

async fn create(
    State(f): State<FakeKube>,
    Path(ns): Path<String>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let Ok(mut obj) = serde_json::from_slice::<Value>(&body) else {
        return status(400, "BadRequest", "the body is not JSON");
    };
    f.record(&method, &uri, obj.clone());
    let kind = kind_of(uri.path());
    let Some(name) = obj["metadata"]["name"].as_str().map(str::to_string) else {
        return status(422, "Invalid", "metadata.name: Required value");
    };
    let mut inner = f.inner.lock().unwrap();
    let key = format!("{kind}/{name}");
    if inner.objects.contains_key(&key) {
        return status(
            409,
            "AlreadyExists",
            &format!("{kind} \"{name}\" already exists"),
        );
    }
    inner.seq += 1;
    obj["metadata"]["uid"] = json!(format!("uid-{}", inner.seq));
    obj["metadata"]["resourceVersion"] = json!(inner.seq.to_string());
    obj["metadata"]["namespace"] = json!(ns);
    inner.objects.insert(key, obj.clone());
    if kind == "jobs" {
        let script = inner.scripts.pop_front().unwrap_or_default();
        let pod = format!("{name}-x7k2p");
        let pod_uid = format!("uid-pod-{}", inner.seq);
        let mut labels = obj["spec"]["template"]["metadata"]["labels"].clone();
        labels["job-name"] = json!(name);
        inner.objects.insert(
            format!("pods/{pod}"),
            json!({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": pod, "namespace": ns, "labels": labels, "uid": pod_uid},
                   "spec": obj["spec"]["template"]["spec"].clone()}),
        );
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("workspace")).unwrap();
        std::fs::create_dir_all(root.path().join("tmp")).unwrap();
        inner.pods.insert(
            pod,
            FakePod {
                script,
                root: Arc::new(root),
                init: None,
                finished: false,
            },
        );
    }
    (StatusCode::CREATED, Json(obj)).into_response()
}

async fn delete(
    State(f): State<FakeKube>,
    Path((_ns, name)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let options: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    f.record(&method, &uri, options);
    let kind = kind_of(uri.path());
    let mut inner = f.inner.lock().unwrap();
    match inner.objects.remove(&format!("{kind}/{name}")) {
        Some(obj) => {
            if kind == "jobs" {
                let pods: Vec<String> = inner
                    .pods
                    .keys()
                    .filter(|p| p.starts_with(&format!("{name}-")))
                    .cloned()
                    .collect();
                for p in pods {
                    inner.objects.remove(&format!("pods/{p}"));
                }
            }
            (StatusCode::OK, Json(obj)).into_response()
        }
        None => status(404, "NotFound", &format!("{kind} \"{name}\" not found")),
    }
}

/// `a=b,c` label selectors.
fn matches(labels: &Value, selector: &str) -> bool {
    selector
        .split(',')
        .filter(|s| !s.is_empty())
        .all(|term| match term.split_once('=') {
            Some((k, v)) => labels[k].as_str() == Some(v),
            None => !labels[term].is_null(),
        })
}

async fn list(
    State(f): State<FakeKube>,
    Path(_ns): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
    method: Method,
    uri: Uri,
) -> Response {
    f.record(&method, &uri, Value::Null);
    let kind = kind_of(uri.path());
    let selector = q.get("labelSelector").cloned().unwrap_or_default();
    let pods: Vec<String> = f.inner.lock().unwrap().pods.keys().cloned().collect();
    let mut items = Vec::new();
    for (key, obj) in f.inner.lock().unwrap().objects.clone() {
        if key.starts_with(&format!("{kind}/")) && matches(&obj["metadata"]["labels"], &selector) {
            items.push(obj);
        }
    }
    if kind == "pods" {
        items = items
            .into_iter()
            .map(|p| with_status(&f, p, &pods))
            .collect();
    }
    let (api, list_kind) = match kind {
        "jobs" => ("batch/v1", "JobList"),
        _ => ("v1", "PodList"),
    };
    Json(json!({"apiVersion": api, "kind": list_kind, "metadata": {"resourceVersion": "1"}, "items": items}))
        .into_response()
}

/// The pod with the status its script gives it now.
fn with_status(f: &FakeKube, mut pod: Value, _pods: &[String]) -> Value {
    let name = pod["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let inner = f.inner.lock().unwrap();
    let Some(p) = inner.pods.get(&name) else {
        return pod;
    };
    let (script, finished) = (&p.script, p.finished);
    let status = |name: &str, state: Value| {
        json!({"name": name, "image": "threadwork/harness:dev", "imageID": "", "ready": false,
               "restartCount": 0, "state": state})
    };
    let container = |state: Value| status("harness", state);
    let init = |state: Value| json!([status("workspace", state)]);
    pod["status"] = if let Some((reason, message)) = &script.pending {
        json!({"phase": "Pending", "containerStatuses": [container(json!({"waiting": {"reason": reason, "message": message}}))]})
    } else if p.init.is_none() {
        json!({"phase": "Pending",
               "initContainerStatuses": init(json!({"running": {"startedAt": "2026-01-01T00:00:00Z"}})),
               "containerStatuses": [container(json!({"waiting": {"reason": "PodInitializing"}}))]})
    } else if p.init != Some(0) {
        json!({"phase": "Failed",
               "initContainerStatuses": init(json!({"terminated": {"exitCode": p.init, "reason": "Error"}})),
               "containerStatuses": [container(json!({"waiting": {"reason": "PodInitializing"}}))]})
    } else if finished {
        let reason = if script.oom {
            "OOMKilled"
        } else if script.exit_code == 0 {
            "Completed"
        } else {
            "Error"
        };
        json!({"phase": if script.exit_code == 0 { "Succeeded" } else { "Failed" },
               "initContainerStatuses": init(json!({"terminated": {"exitCode": 0, "reason": "Completed"}})),
               "containerStatuses": [container(json!({"terminated": {"exitCode": script.exit_code, "reason": reason}}))]})
    } else {
        json!({"phase": "Running",
               "initContainerStatuses": init(json!({"terminated": {"exitCode": 0, "reason": "Completed"}})),
               "containerStatuses": [container(json!({"running": {"startedAt": "2026-01-01T00:00:00Z"}}))]})
    };
    pod
}

async fn get_pod(
    State(f): State<FakeKube>,
    Path((_ns, name)): Path<(String, String)>,
    method: Method,
    uri: Uri,
) -> Response {
    f.record(&method, &uri, Value::Null);
    let pod = f
        .inner
        .lock()
        .unwrap()
        .objects
        .get(&format!("pods/{name}"))
        .cloned();
    match pod {
        Some(p) => Json(with_status(&f, p, &[])).into_response(),
        None => status(404, "NotFound", &format!("pods \"{name}\" not found")),
    }
}

/// The pod's log, followed (once the init container is done): the script's lines, then the
/// wrapper's markers and stderr; it ends when the bot has collected the workspace.
async fn log(
    State(f): State<FakeKube>,
    Path((_ns, name)): Path<(String, String)>,
    method: Method,
    uri: Uri,
) -> Response {
    f.record(&method, &uri, Value::Null);
    let (script, root) = {
        let inner = f.inner.lock().unwrap();
        let Some(p) = inner.pods.get(&name) else {
            return status(404, "NotFound", &format!("pods \"{name}\" not found"));
        };
        if p.init != Some(0) {
            return status(
                400,
                "BadRequest",
                &format!(
                    "container \"harness\" in pod \"{name}\" is waiting to start: PodInitializing"
                ),
            );
        }
        (p.script.clone(), p.root.clone())
    };
    for (path, text) in &script.writes {
        let p = root.path().join("workspace").join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let mut chunks: Vec<String> = script.lines.iter().map(|l| format!("{l}\n")).collect();
    chunks.push("\n@@threadwork-workspace@@\n".into());
    chunks.push("@@threadwork-stderr@@\n".into());
    chunks.extend(script.stderr.iter().map(|l| format!("{l}\n")));
    let delay = Duration::from_millis(if script.line_delay_ms == 0 {
        20
    } else {
        script.line_delay_ms
    });
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    tokio::spawn(async move {
        for c in chunks {
            tokio::time::sleep(delay).await;
            if tx.send(Ok(Bytes::from(c))).await.is_err() {
                return;
            }
        }
        // The wrapper waits for the bot's copy (or for the pod to be deleted).
        let flag = root.path().join("tmp/.threadwork-collected");
        for _ in 0..3000 {
            let gone = !f
                .inner
                .lock()
                .unwrap()
                .objects
                .contains_key(&format!("pods/{name}"));
            if flag.exists() || gone {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if let Some(p) = f.inner.lock().unwrap().pods.get_mut(&name) {
            p.finished = true;
        }
    });
    Response::builder()
        .status(200)
        .header("content-type", "text/plain")
        .body(Body::from_stream(futures::stream::poll_fn(move |cx| {
            rx.poll_recv(cx)
        })))
        .unwrap()
}

/// `command=a&command=b&container=c&stdin=true…` as (commands, container, stdin, stdout).
fn stream_params(query: &str) -> (Vec<String>, String, bool, bool) {
    let mut command = vec![];
    let (mut container, mut stdin, mut stdout) = (String::new(), false, false);
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "command" => command.push(v.into_owned()),
            "container" => container = v.into_owned(),
            "stdin" => stdin = v == "true",
            "stdout" => stdout = v == "true",
            _ => {}
        }
    }
    (command, container, stdin, stdout)
}

fn ws_protocols(f: &FakeKube, ws: WebSocketUpgrade) -> WebSocketUpgrade {
    if f.v4_only.load(std::sync::atomic::Ordering::SeqCst) {
        ws.protocols(["v4.channel.k8s.io"])
    } else {
        ws.protocols(["v5.channel.k8s.io", "v4.channel.k8s.io"])
    }
}

/// The folder of pod `name` when `ready` holds for it; the API server's refusal otherwise.
fn pod_root(
    f: &FakeKube,
    name: &str,
    ready: impl Fn(&FakePod) -> bool,
    refusal: &str,
) -> Result<Arc<tempfile::TempDir>, Response> {
    match f.inner.lock().unwrap().pods.get(name) {
        Some(p) if ready(p) => Ok(p.root.clone()),
        Some(_) => Err(status(400, "BadRequest", refusal)),
        None => Err(status(
            404,
            "NotFound",
            &format!("pods \"{name}\" not found"),
        )),
    }
}

/// `pods/attach` to the init container: its `tar -x` reads the stream into the pod's folder.
async fn attach(
    State(f): State<FakeKube>,
    Path((_ns, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    uri: Uri,
    ws: WebSocketUpgrade,
) -> Response {
    f.record(&Method::GET, &uri, Value::Null);
    let (_, container, stdin, _) = stream_params(&query.unwrap_or_default());
    let waiting = |p: &FakePod| p.init.is_none() && container == "workspace" && stdin;
    let root = match pod_root(
        &f,
        &name,
        waiting,
        "only the waiting init container takes input",
    ) {
        Ok(root) => root,
        Err(refused) => return refused,
    };
    ws_protocols(&f, ws).on_upgrade(move |socket| async move {
        let child = tokio::process::Command::new("tar")
            .arg("-xzf")
            .arg("-")
            .arg("-C")
            .arg(root.path().join("workspace"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let code = pump(socket, child).await;
        if let Some(p) = f.inner.lock().unwrap().pods.get_mut(&name) {
            p.init = Some(code);
        }
    })
}

/// `pods/exec` in the harness container: the command, run here with `/workspace` and `/tmp`
/// mapped to the pod's folder.
async fn exec(
    State(f): State<FakeKube>,
    Path((_ns, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    uri: Uri,
    ws: WebSocketUpgrade,
) -> Response {
    f.record(&Method::GET, &uri, Value::Null);
    let (command, container, stdin, stdout) = stream_params(&query.unwrap_or_default());
    let running = |p: &FakePod| p.init == Some(0) && !p.finished && container == "harness";
    let root = match pod_root(&f, &name, running, "container not found or not running") {
        Ok(root) => root,
        Err(refused) => return refused,
    };
    let mapped: Vec<String> = command.iter().map(|a| in_pod(root.path(), a)).collect();
    ws_protocols(&f, ws).on_upgrade(move |socket| async move {
        let io = |on: bool| {
            if on {
                std::process::Stdio::piped()
            } else {
                std::process::Stdio::null()
            }
        };
        let Some((program, args)) = mapped.split_first() else {
            return;
        };
        let child = tokio::process::Command::new(program)
            .args(args)
            .stdin(io(stdin))
            .stdout(io(stdout))
            .stderr(std::process::Stdio::null())
            .spawn();
        if let Ok(child) = child {
            pump(socket, child).await;
        }
    })
}

fn in_pod(root: &std::path::Path, arg: &str) -> String {
    for (inside, here) in [("/workspace", "workspace"), ("/tmp", "tmp")] {
        if arg == inside || arg.starts_with(&format!("{inside}/")) {
            return format!("{}{}", root.join(here).display(), &arg[inside.len()..]);
        }
    }
    arg.to_string()
}

/// Carries a stream session: frames on channel 0 to the child's stdin (`255 0`, or the socket
/// closing, is its end), its stdout as frames on channel 1, then its exit as a `Status` on
/// channel 3. Streamed both ways with backpressure. Returns the exit code.
async fn pump(socket: WebSocket, mut child: tokio::process::Child) -> i32 {
    use futures::{SinkExt, StreamExt};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut tx, mut rx) = socket.split();
    let mut stdin = child.stdin.take();
    let reader = tokio::spawn(async move {
        while let Some(Ok(msg)) = rx.next().await {
            match msg {
                Message::Binary(b) if b.first() == Some(&0) => {
                    if let Some(w) = stdin.as_mut() {
                        if w.write_all(&b[1..]).await.is_err() {
                            stdin = None;
                        }
                    }
                }
                Message::Binary(b) if b.len() == 2 && b[0] == 255 && b[1] == 0 => stdin = None,
                Message::Close(_) => break,
                _ => {}
            }
        }
    });
    if let Some(mut out) = child.stdout.take() {
        let mut buf = vec![0u8; 32 * 1024];
        while let Ok(n) = out.read(&mut buf[1..]).await {
            if n == 0 {
                break;
            }
            buf[0] = 1;
            if tx
                .send(Message::Binary(Bytes::copy_from_slice(&buf[..=n])))
                .await
                .is_err()
            {
                break;
            }
        }
    }
    let code = child.wait().await.ok().and_then(|s| s.code()).unwrap_or(-1);
    let status = if code == 0 {
        json!({"metadata": {}, "status": "Success"})
    } else {
        json!({"metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
               "message": format!("command terminated with non-zero exit code: exit status {code}"),
               "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]}})
    };
    let mut frame = vec![3u8];
    frame.extend(status.to_string().into_bytes());
    let _ = tx.send(Message::Binary(frame.into())).await;
    let _ = tx.close().await;
    reader.abort();
    code
}
