//! A Kubernetes API server for tests: the documented REST shapes for Secrets,
//! NetworkPolicies, Jobs, Pods and pods/log (streamed), enough for the `kubernetes` runtime.
//! A created Job gets one pod that plays a scripted run: it unpacks the workspace Secret,
//! applies the script's file edits, prints its lines, and ends as the bot's wrapper does
//! (marker, workspace as base64 tar.gz, marker, stderr), with the scripted exit.
// Handlers answer refusals as whole responses, as the API server does.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, VecDeque};
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
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

#[derive(Default)]
struct Inner {
    calls: Vec<Call>,
    /// kind/name → object
    objects: BTreeMap<String, Value>,
    scripts: VecDeque<PodScript>,
    /// pod name → (script, finished)
    pods: BTreeMap<String, (PodScript, bool)>,
    seq: u64,
    /// `verb resource` pairs SelfSubjectAccessReviews deny.
    denied: Vec<String>,
}

#[derive(Clone)]
pub struct FakeKube {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeKube {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let fake = FakeKube {
            url,
            inner: Arc::default(),
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
            .route(
                "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                axum::routing::post(access_review),
            )
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        fake
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

/// `jobs`, `pods`, `secrets`, `networkpolicies` from a path.
fn kind_of(path: &str) -> &'static str {
    for k in ["networkpolicies", "secrets", "jobs", "pods"] {
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
        inner.pods.insert(pod, (script, false));
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
    let Some((script, finished)) = inner.pods.get(&name) else {
        return pod;
    };
    let container = |state: Value| {
        json!({"name": "harness", "image": "threadwork/harness:dev", "imageID": "", "ready": false,
               "restartCount": 0, "state": state})
    };
    pod["status"] = if let Some((reason, message)) = &script.pending {
        json!({"phase": "Pending", "containerStatuses": [container(json!({"waiting": {"reason": reason, "message": message}}))]})
    } else if *finished {
        let reason = if script.oom {
            "OOMKilled"
        } else if script.exit_code == 0 {
            "Completed"
        } else {
            "Error"
        };
        json!({"phase": if script.exit_code == 0 { "Succeeded" } else { "Failed" },
               "containerStatuses": [container(json!({"terminated": {"exitCode": script.exit_code, "reason": reason}}))]})
    } else {
        json!({"phase": "Running", "containerStatuses": [container(json!({"running": {"startedAt": "2026-01-01T00:00:00Z"}}))]})
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

/// The pod's log, followed: the script's lines, then the wrapper's workspace and stderr.
async fn log(
    State(f): State<FakeKube>,
    Path((_ns, name)): Path<(String, String)>,
    method: Method,
    uri: Uri,
) -> Response {
    f.record(&method, &uri, Value::Null);
    let (script, secret) = {
        let inner = f.inner.lock().unwrap();
        let Some((script, _)) = inner.pods.get(&name) else {
            return status(404, "NotFound", &format!("pods \"{name}\" not found"));
        };
        let job = name
            .rsplit_once('-')
            .map(|(j, _)| j.to_string())
            .unwrap_or_default();
        let secret = inner.objects.get(&format!("secrets/{job}-ws")).cloned();
        (script.clone(), secret)
    };
    // The workspace the pod would send back: the snapshot with the script's writes.
    let packed = {
        use base64::Engine;
        let b64 = secret
            .as_ref()
            .and_then(|s| s["data"]["workspace.tar.gz"].as_str())
            .unwrap_or_default();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap_or_default();
        let dir = tempfile::tempdir().unwrap();
        let mut data = Vec::new();
        let _ = flate2::read::GzDecoder::new(&raw[..]).read_to_end(&mut data);
        let _ = tar::Archive::new(&data[..]).unpack(dir.path());
        for (path, text) in &script.writes {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        tar.append_dir_all(".", dir.path()).unwrap();
        let bytes = tar.into_inner().unwrap().finish().unwrap();
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    let mut chunks: Vec<String> = script.lines.iter().map(|l| format!("{l}\n")).collect();
    chunks.push("\n@@threadwork-workspace@@\n".into());
    chunks.push(format!("{packed}\n"));
    chunks.push("\n@@threadwork-stderr@@\n".into());
    chunks.extend(script.stderr.iter().map(|l| format!("{l}\n")));
    let f2 = f.clone();
    let delay = Duration::from_millis(if script.line_delay_ms == 0 {
        20
    } else {
        script.line_delay_ms
    });
    let stream = async_stream(chunks, delay, move || {
        if let Some(p) = f2.inner.lock().unwrap().pods.get_mut(&name) {
            p.1 = true;
        }
    });
    Response::builder()
        .status(200)
        .header("content-type", "text/plain")
        .body(Body::from_stream(stream))
        .unwrap()
}

/// Sends the chunks a little apart, then marks the pod finished.
fn async_stream(
    chunks: Vec<String>,
    delay: Duration,
    done: impl FnOnce() + Send + 'static,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        for c in chunks {
            tokio::time::sleep(delay).await;
            if tx.send(Ok(Bytes::from(c))).await.is_err() {
                return;
            }
        }
        done();
    });
    tokio_stream_from(rx)
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
