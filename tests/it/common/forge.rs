//! A forge for tests: real git over HTTP (`git http-backend` as CGI behind a token check) and
//! the REST shapes of GitHub (plus its one GraphQL mutation) or GitLab, checked on the way in
//! and answered the way the forge documents. Every request is logged for assertions.

// Handlers answer refusals as whole responses, as a forge does.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use axum::{Json, Router};
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Github,
    Gitlab,
}

#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: Value,
    /// Every header value, for the token checks.
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct Pr {
    pub number: u64,
    pub repo: String,
    pub head: String,
    pub base: String,
    pub title: String,
    pub body: String,
    pub draft: bool,
    pub state: String,
    pub comments: Vec<String>,
}

#[derive(Default)]
struct Inner {
    log: Vec<Logged>,
    prs: Vec<Pr>,
    /// Operation ("create", "ready", "merge", "close") → the refusal to answer once.
    fail_once: HashMap<&'static str, (u16, Value)>,
}

#[derive(Clone)]
pub struct Forge {
    pub kind: Kind,
    pub token: String,
    pub root: PathBuf,
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl Forge {
    /// Starts a forge of `kind` serving the bare repositories under `root` (`owner/name.git`).
    pub async fn start(kind: Kind, token: &str, root: &Path) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let forge = Forge {
            kind,
            token: token.into(),
            root: root.to_path_buf(),
            url,
            inner: Arc::default(),
        };
        let app = Router::new()
            .route("/git/{*path}", any(git_http))
            .route(
                "/api/v3/repos/{owner}/{name}/pulls",
                get(gh_list).post(gh_create),
            )
            .route(
                "/api/v3/repos/{owner}/{name}/pulls/{n}",
                axum::routing::patch(gh_update),
            )
            .route(
                "/api/v3/repos/{owner}/{name}/pulls/{n}/merge",
                put(gh_merge),
            )
            .route(
                "/api/v3/repos/{owner}/{name}/issues/{n}/comments",
                post(gh_comment),
            )
            .route("/api/graphql", post(gh_graphql))
            // Calls any token may make (`doctor`'s token check).
            .route("/api/v3/rate_limit", get(token_only))
            .route("/api/v4/version", get(token_only))
            .route(
                "/api/v4/projects/{id}/merge_requests",
                get(gl_list).post(gl_create),
            )
            .route("/api/v4/projects/{id}/merge_requests/{n}", put(gl_update))
            .route(
                "/api/v4/projects/{id}/merge_requests/{n}/merge",
                put(gl_merge),
            )
            .route(
                "/api/v4/projects/{id}/merge_requests/{n}/notes",
                post(gl_note),
            )
            .with_state(forge.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        forge
    }

    pub fn api_url(&self) -> String {
        match self.kind {
            Kind::Github => format!("{}/api/v3", self.url),
            Kind::Gitlab => format!("{}/api/v4", self.url),
        }
    }

    pub fn git_url(&self) -> String {
        format!("{}/git", self.url)
    }

    /// A bare repository `repo` whose `main` holds `files`.
    pub fn create_repo(&self, repo: &str, files: &[(&str, &str)]) {
        let bare = self.root.join(format!("{repo}.git"));
        std::fs::create_dir_all(&bare).unwrap();
        git(
            &bare,
            &["init", "--quiet", "--bare", "--initial-branch=main"],
        );
        let seed = self.root.join(format!("{repo}.seed"));
        std::fs::create_dir_all(&seed).unwrap();
        git(&seed, &["init", "--quiet", "--initial-branch=main"]);
        self.commit(repo, files, "initial");
    }

    /// A new commit ("more") on `repo`'s `main` with `files` written; its sha.
    pub fn commit_to(&self, repo: &str, files: &[(&str, &str)]) -> String {
        self.commit(repo, files, "more")
    }

    fn commit(&self, repo: &str, files: &[(&str, &str)], message: &str) -> String {
        let seed = self.root.join(format!("{repo}.seed"));
        for (name, text) in files {
            std::fs::write(seed.join(name), text).unwrap();
        }
        git(&seed, &["add", "."]);
        git(
            &seed,
            &[
                "-c",
                "user.name=Seed",
                "-c",
                "user.email=seed@example.com",
                "commit",
                "--quiet",
                "-m",
                message,
            ],
        );
        let bare = self.root.join(format!("{repo}.git"));
        git(&seed, &["push", "--quiet", bare.to_str().unwrap(), "main"]);
        git(&seed, &["rev-parse", "HEAD"])
    }

    /// `git <args>` in the bare repository `repo`; stdout.
    pub fn git_in(&self, repo: &str, args: &[&str]) -> String {
        git(&self.root.join(format!("{repo}.git")), args)
    }

    /// Refuses the next `op` ("create", "ready", "merge", "close") with `status` and `body`.
    pub fn fail_once(&self, op: &'static str, status: u16, body: Value) {
        self.inner
            .lock()
            .unwrap()
            .fail_once
            .insert(op, (status, body));
    }

    pub fn log(&self) -> Vec<Logged> {
        self.inner.lock().unwrap().log.clone()
    }

    pub fn requests(&self, method: &str, path_contains: &str) -> Vec<Logged> {
        self.log()
            .into_iter()
            .filter(|l| l.method == method && l.path.contains(path_contains))
            .collect()
    }

    pub fn prs(&self) -> Vec<Pr> {
        self.inner.lock().unwrap().prs.clone()
    }

    fn record(&self, method: &Method, uri: &Uri, headers: &HeaderMap, body: Value) {
        self.inner.lock().unwrap().log.push(Logged {
            method: method.to_string(),
            path: uri.path().to_string(),
            query: uri.query().unwrap_or_default().to_string(),
            body,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
                .collect(),
        });
    }

    /// Parses, logs and checks one API request (the forge's refusal as the error).
    fn intake(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        bytes: &Bytes,
    ) -> Result<Value, Response> {
        let body = json_body(bytes)?;
        self.record(method, uri, headers, body.clone());
        self.check_api(headers)?;
        Ok(body)
    }

    fn take_failure(&self, op: &'static str) -> Option<Response> {
        let (status, body) = self.inner.lock().unwrap().fail_once.remove(op)?;
        Some((StatusCode::from_u16(status).unwrap(), Json(body)).into_response())
    }

    /// The documented headers of this forge's API, or the forge's own refusal.
    fn check_api(&self, headers: &HeaderMap) -> Result<(), Response> {
        let h = |k: &str| {
            headers
                .get(k)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
        };
        match self.kind {
            Kind::Github => {
                if h("authorization") != format!("Bearer {}", self.token) {
                    return Err(refuse(401, json!({"message": "Bad credentials"})));
                }
                if h("accept") != "application/vnd.github+json" {
                    return Err(refuse(
                        415,
                        json!({"message": "Unsupported 'Accept' header"}),
                    ));
                }
                if h("x-github-api-version") != "2022-11-28" {
                    return Err(refuse(400, json!({"message": "Invalid API version"})));
                }
                if h("user-agent").is_empty() {
                    return Err(refuse(
                        403,
                        json!({"message": "Request forbidden: a User-Agent header is required"}),
                    ));
                }
            }
            Kind::Gitlab => {
                if h("private-token") != self.token {
                    return Err(refuse(401, json!({"message": "401 Unauthorized"})));
                }
            }
        }
        Ok(())
    }

    fn branch_sha(&self, repo: &str, branch: &str) -> Option<String> {
        let out = std::process::Command::new("git")
            .arg(format!(
                "--git-dir={}",
                self.root.join(format!("{repo}.git")).display()
            ))
            .args([
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("refs/heads/{branch}"),
            ])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    fn pr_json(&self, p: &Pr) -> Value {
        let sha = self.branch_sha(&p.repo, &p.head).unwrap_or_default();
        match self.kind {
            Kind::Github => json!({
                "number": p.number,
                "html_url": format!("{}/{}/pull/{}", self.url, p.repo, p.number),
                "node_id": format!("PR_node{}", p.number),
                "state": p.state,
                "draft": p.draft,
                "title": p.title,
                "body": p.body,
                "head": {"ref": p.head, "sha": sha},
                "base": {"ref": p.base},
            }),
            Kind::Gitlab => json!({
                "iid": p.number,
                "web_url": format!("{}/{}/-/merge_requests/{}", self.url, p.repo, p.number),
                "title": p.title,
                "description": p.body,
                "draft": p.draft,
                "state": p.state,
                "source_branch": p.head,
                "target_branch": p.base,
                "sha": sha,
            }),
        }
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn refuse(status: u16, body: Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), Json(body)).into_response()
}

fn json_body(bytes: &Bytes) -> Result<Value, Response> {
    serde_json::from_slice(bytes).map_err(|e| {
        refuse(
            400,
            json!({"message": format!("Problems parsing JSON: {e}")}),
        )
    })
}

/// A string field, required or not; GitHub answers a wrong type with 422.
fn field<'a>(body: &'a Value, name: &str, required: bool) -> Result<Option<&'a str>, Response> {
    match body.get(name) {
        None | Some(Value::Null) if !required => Ok(None),
        Some(Value::String(s)) if !s.is_empty() || !required => Ok(Some(s)),
        _ => Err(refuse(
            422,
            json!({"message": "Validation Failed", "errors": [{"field": name, "code": if required { "missing_field" } else { "invalid" }}]}),
        )),
    }
}

async fn git_http(
    State(f): State<Forge>,
    UrlPath(path): UrlPath<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    f.record(&method, &uri, &headers, Value::Null);
    use base64::Engine;
    let user = match f.kind {
        Kind::Github => "x-access-token",
        Kind::Gitlab => "oauth2",
    };
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{}", f.token))
    );
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if auth != Some(expected.as_str()) {
        return Response::builder()
            .status(401)
            .header("WWW-Authenticate", "Basic realm=\"forge\"")
            .body(axum::body::Body::from("authentication required"))
            .unwrap();
    }
    let h = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let mut child = tokio::process::Command::new("git")
        .arg("http-backend")
        .env("GIT_PROJECT_ROOT", &f.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REMOTE_USER", "tester")
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("REQUEST_METHOD", method.as_str())
        .env("PATH_INFO", format!("/{path}"))
        .env("QUERY_STRING", uri.query().unwrap_or_default())
        .env("CONTENT_TYPE", h("content-type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", h("content-encoding"))
        .env("HTTP_GIT_PROTOCOL", h("git-protocol"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("git http-backend starts");
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&body).await.unwrap();
    }
    let out = child.wait_with_output().await.unwrap();
    // CGI: headers, a blank line, the body.
    let raw = out.stdout;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let Some((end, sep)) = split else {
        return refuse(500, json!({"message": "bad CGI answer"}));
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let mut resp = Response::builder();
    let mut status = 200;
    for line in head.lines() {
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("status") {
                status = v
                    .trim()
                    .split(' ')
                    .next()
                    .unwrap_or("200")
                    .parse()
                    .unwrap_or(200);
            } else {
                resp = resp.header(k.trim(), v.trim());
            }
        }
    }
    resp.status(status)
        .body(axum::body::Body::from(raw[end + sep..].to_vec()))
        .unwrap()
}

#[derive(serde::Deserialize)]
struct GhListQuery {
    head: Option<String>,
    state: Option<String>,
}

async fn token_only(
    State(f): State<Forge>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    f.record(&method, &uri, &headers, Value::Null);
    if let Err(r) = f.check_api(&headers) {
        return r;
    }
    Json(json!({"resources": {}, "version": "17.0.0"})).into_response()
}

async fn gh_list(
    State(f): State<Forge>,
    UrlPath((owner, name)): UrlPath<(String, String)>,
    Query(q): Query<GhListQuery>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    f.record(&method, &uri, &headers, Value::Null);
    if let Err(r) = f.check_api(&headers) {
        return r;
    }
    let repo = format!("{owner}/{name}");
    let state = q.state.unwrap_or_else(|| "open".into());
    let prs = f.prs();
    let list: Vec<Value> = prs
        .iter()
        .filter(|p| p.repo == repo && p.state == state)
        .filter(|p| {
            q.head
                .as_deref()
                .is_none_or(|h| h == format!("{owner}:{}", p.head))
        })
        .map(|p| f.pr_json(p))
        .collect();
    Json(Value::Array(list)).into_response()
}

async fn gh_create(
    State(f): State<Forge>,
    UrlPath((owner, name)): UrlPath<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let body = match f.intake(&method, &uri, &headers, &bytes) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if let Some(r) = f.take_failure("create") {
        return r;
    }
    let repo = format!("{owner}/{name}");
    let (title, head, base, text) = match (
        field(&body, "title", true),
        field(&body, "head", true),
        field(&body, "base", true),
        field(&body, "body", false),
    ) {
        (Ok(Some(t)), Ok(Some(h)), Ok(Some(b)), Ok(text)) => (t, h, b, text.unwrap_or_default()),
        (Err(r), ..) | (_, Err(r), ..) | (_, _, Err(r), _) | (.., Err(r)) => return r,
        _ => return refuse(422, json!({"message": "Validation Failed"})),
    };
    if !matches!(body.get("draft"), None | Some(Value::Bool(_))) {
        return refuse(
            422,
            json!({"message": "Validation Failed", "errors": [{"field": "draft", "code": "invalid"}]}),
        );
    }
    if f.branch_sha(&repo, head).is_none() || f.branch_sha(&repo, base).is_none() {
        return refuse(
            422,
            json!({"message": "Validation Failed", "errors": [{"resource": "PullRequest", "field": "head", "code": "invalid"}]}),
        );
    }
    let mut inner = f.inner.lock().unwrap();
    if inner
        .prs
        .iter()
        .any(|p| p.repo == repo && p.head == head && p.state == "open")
    {
        return refuse(
            422,
            json!({"message": "Validation Failed", "errors": [{"resource": "PullRequest", "code": "custom", "message": format!("A pull request already exists for {owner}:{head}.")}]}),
        );
    }
    let pr = Pr {
        number: inner.prs.len() as u64 + 1,
        repo,
        head: head.into(),
        base: base.into(),
        title: title.into(),
        body: text.into(),
        draft: body["draft"].as_bool().unwrap_or(false),
        state: "open".into(),
        comments: vec![],
    };
    inner.prs.push(pr.clone());
    drop(inner);
    (StatusCode::CREATED, Json(f.pr_json(&pr))).into_response()
}

fn with_pr<T>(f: &Forge, repo: &str, n: u64, edit: impl FnOnce(&mut Pr) -> T) -> Option<T> {
    let mut inner = f.inner.lock().unwrap();
    inner
        .prs
        .iter_mut()
        .find(|p| p.repo == repo && p.number == n)
        .map(edit)
}

async fn gh_update(
    State(f): State<Forge>,
    UrlPath((owner, name, n)): UrlPath<(String, String, u64)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let body = match f.intake(&method, &uri, &headers, &bytes) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if let Some(r) = f.take_failure("close") {
        return r;
    }
    let state = match field(&body, "state", false) {
        Ok(s) => s.map(str::to_string),
        Err(r) => return r,
    };
    if state
        .as_deref()
        .is_some_and(|s| s != "open" && s != "closed")
    {
        return refuse(
            422,
            json!({"message": "Validation Failed", "errors": [{"field": "state", "code": "invalid"}]}),
        );
    }
    let repo = format!("{owner}/{name}");
    match with_pr(&f, &repo, n, |p| {
        if let Some(s) = state {
            p.state = s;
        }
        p.clone()
    }) {
        Some(p) => Json(f.pr_json(&p)).into_response(),
        None => refuse(404, json!({"message": "Not Found"})),
    }
}

async fn gh_merge(
    State(f): State<Forge>,
    UrlPath((owner, name, n)): UrlPath<(String, String, u64)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let body = match f.intake(&method, &uri, &headers, &bytes) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if let Some(r) = f.take_failure("merge") {
        return r;
    }
    let repo = format!("{owner}/{name}");
    let Some(pr) = with_pr(&f, &repo, n, |p| p.clone()) else {
        return refuse(404, json!({"message": "Not Found"}));
    };
    if pr.draft {
        return refuse(405, json!({"message": "Pull Request is still a draft"}));
    }
    let head = f.branch_sha(&repo, &pr.head);
    if let Some(sha) = body.get("sha").and_then(Value::as_str) {
        if Some(sha) != head.as_deref() {
            return refuse(
                409,
                json!({"message": "Head branch was modified. Review and try the merge again."}),
            );
        }
    }
    with_pr(&f, &repo, n, |p| p.state = "merged".into());
    Json(json!({"sha": head, "merged": true, "message": "Pull Request successfully merged"}))
        .into_response()
}

async fn gh_comment(
    State(f): State<Forge>,
    UrlPath((owner, name, n)): UrlPath<(String, String, u64)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let body = match f.intake(&method, &uri, &headers, &bytes) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let text = match field(&body, "body", true) {
        Ok(t) => t.unwrap_or_default().to_string(),
        Err(r) => return r,
    };
    match with_pr(&f, &format!("{owner}/{name}"), n, |p| {
        p.comments.push(text.clone())
    }) {
        Some(()) => (StatusCode::CREATED, Json(json!({"id": 1, "body": text}))).into_response(),
        None => refuse(404, json!({"message": "Not Found"})),
    }
}

async fn gh_graphql(
    State(f): State<Forge>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let body = match json_body(&bytes) {
        Ok(b) => b,
        Err(r) => return r,
    };
    f.record(&method, &uri, &headers, body.clone());
    if headers.get("authorization").and_then(|v| v.to_str().ok())
        != Some(&format!("Bearer {}", f.token))
    {
        return refuse(401, json!({"message": "Bad credentials"}));
    }
    if let Some(r) = f.take_failure("ready") {
        return r;
    }
    let query = body["query"].as_str().unwrap_or_default();
    if !query.contains("markPullRequestReadyForReview") {
        return Json(
            json!({"errors": [{"message": "this forge knows only markPullRequestReadyForReview"}]}),
        )
        .into_response();
    }
    let Some(id) = body["variables"]["id"].as_str() else {
        return Json(
            json!({"errors": [{"message": "Variable $id of type ID! was provided invalid value"}]}),
        )
        .into_response();
    };
    let n: u64 = id.trim_start_matches("PR_node").parse().unwrap_or(0);
    let mut inner = f.inner.lock().unwrap();
    match inner.prs.iter_mut().find(|p| p.number == n) {
        Some(p) => {
            p.draft = false;
            Json(json!({"data": {"markPullRequestReadyForReview": {"pullRequest": {"isDraft": false}}}})).into_response()
        }
        None => Json(json!({"data": null, "errors": [{"type": "NOT_FOUND", "message": format!("Could not resolve to a node with the global id of '{id}'")}]})).into_response(),
    }
}

#[derive(serde::Deserialize)]
struct GlListQuery {
    source_branch: Option<String>,
    state: Option<String>,
}

async fn gl_list(
    State(f): State<Forge>,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<GlListQuery>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    f.record(&method, &uri, &headers, Value::Null);
    if let Err(r) = f.check_api(&headers) {
        return r;
    }
    let state = match q.state.as_deref() {
        Some("opened") | None => "opened",
        Some(s) => s,
    }
    .to_string();
    let list: Vec<Value> = f
        .prs()
        .iter()
        .filter(|p| p.repo == id && p.state == state)
        .filter(|p| q.source_branch.as_deref().is_none_or(|b| b == p.head))
        .map(|p| f.pr_json(p))
        .collect();
    Json(Value::Array(list)).into_response()
}

async fn gl_create(
    State(f): State<Forge>,
    UrlPath(id): UrlPath<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let body = match f.intake(&method, &uri, &headers, &bytes) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if let Some(r) = f.take_failure("create") {
        return r;
    }
    let s = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (source, target, title) = (s("source_branch"), s("target_branch"), s("title"));
    for (k, v) in [
        ("source_branch", &source),
        ("target_branch", &target),
        ("title", &title),
    ] {
        if v.is_empty() {
            return refuse(400, json!({"error": format!("{k} is missing")}));
        }
    }
    if f.branch_sha(&id, &source).is_none() {
        return refuse(422, json!({"message": ["Source branch does not exist"]}));
    }
    let mut inner = f.inner.lock().unwrap();
    if let Some(p) = inner
        .prs
        .iter()
        .find(|p| p.repo == id && p.head == source && p.state == "opened")
    {
        return refuse(
            409,
            json!({"message": [format!("Another open merge request already exists for this source branch: !{}", p.number)]}),
        );
    }
    let pr = Pr {
        number: inner.prs.len() as u64 + 1,
        repo: id,
        head: source,
        base: target,
        draft: title.starts_with("Draft:"),
        title,
        body: s("description"),
        state: "opened".into(),
        comments: vec![],
    };
    inner.prs.push(pr.clone());
    drop(inner);
    (StatusCode::CREATED, Json(f.pr_json(&pr))).into_response()
}

async fn gl_update(
    State(f): State<Forge>,
    UrlPath((id, n)): UrlPath<(String, u64)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let body = match f.intake(&method, &uri, &headers, &bytes) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let op = if body.get("state_event").is_some() {
        "close"
    } else {
        "ready"
    };
    if let Some(r) = f.take_failure(op) {
        return r;
    }
    let title = body
        .get("title")
        .and_then(Value::as_str)
        .map(str::to_string);
    let event = body
        .get("state_event")
        .and_then(Value::as_str)
        .map(str::to_string);
    if event
        .as_deref()
        .is_some_and(|e| e != "close" && e != "reopen")
    {
        return refuse(
            400,
            json!({"error": "state_event does not have a valid value"}),
        );
    }
    match with_pr(&f, &id, n, |p| {
        if let Some(t) = title {
            p.draft = t.starts_with("Draft:");
            p.title = t;
        }
        if let Some(e) = event {
            p.state = if e == "close" {
                "closed".into()
            } else {
                "opened".into()
            };
        }
        p.clone()
    }) {
        Some(p) => Json(f.pr_json(&p)).into_response(),
        None => refuse(404, json!({"message": "404 Not found"})),
    }
}

async fn gl_merge(
    State(f): State<Forge>,
    UrlPath((id, n)): UrlPath<(String, u64)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let body = match f.intake(&method, &uri, &headers, &bytes) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if let Some(r) = f.take_failure("merge") {
        return r;
    }
    let Some(pr) = with_pr(&f, &id, n, |p| p.clone()) else {
        return refuse(404, json!({"message": "404 Not found"}));
    };
    if pr.draft {
        return refuse(405, json!({"message": "405 Method Not Allowed"}));
    }
    let head = f.branch_sha(&id, &pr.head);
    if let Some(sha) = body.get("sha").and_then(Value::as_str) {
        if Some(sha) != head.as_deref() {
            return refuse(
                409,
                json!({"message": "SHA does not match HEAD of source branch"}),
            );
        }
    }
    let p = with_pr(&f, &id, n, |p| {
        p.state = "merged".into();
        p.clone()
    })
    .unwrap();
    Json(f.pr_json(&p)).into_response()
}

async fn gl_note(
    State(f): State<Forge>,
    UrlPath((id, n)): UrlPath<(String, u64)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let body = match f.intake(&method, &uri, &headers, &bytes) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let text = body
        .get("body")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if text.is_empty() {
        return refuse(400, json!({"error": "body is missing"}));
    }
    match with_pr(&f, &id, n, |p| p.comments.push(text.clone())) {
        Some(()) => (StatusCode::CREATED, Json(json!({"id": 1, "body": text}))).into_response(),
        None => refuse(404, json!({"message": "404 Not found"})),
    }
}
