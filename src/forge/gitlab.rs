//! GitLab's REST API (v4) for merge requests, on gitlab.com or a self-managed instance. A draft
//! is an MR whose title starts with `Draft:`; marking it ready removes the prefix.

use secrecy::ExposeSecret;
use serde_json::{json, Value};

use super::{ForgeClient, ForgeError, OpenRequest, PrState, PullRequest};

const DRAFT: &str = "Draft: ";

fn request(c: &ForgeClient, method: reqwest::Method, url: String) -> reqwest::RequestBuilder {
    c.http
        .request(method, url)
        .header("PRIVATE-TOKEN", c.host.token.expose_secret())
        .header("User-Agent", "threadwork")
}

/// `/projects/<url-encoded path>/merge_requests…`
fn mr_url(c: &ForgeClient, repo: &str, rest: &str) -> String {
    let id: String = url::form_urlencoded::byte_serialize(repo.as_bytes()).collect();
    format!("{}/projects/{id}/merge_requests{rest}", c.host.api_url)
}

fn merge_request(c: &ForgeClient, repo: &str, v: &Value) -> Result<PullRequest, ForgeError> {
    let number = v["iid"].as_u64().ok_or_else(|| ForgeError::Unreadable {
        forge: "GitLab",
        message: "a merge request without an iid".into(),
    })?;
    let title = v["title"].as_str().unwrap_or_default().to_string();
    let draft = v["draft"].as_bool().unwrap_or(false) || title.starts_with(DRAFT);
    Ok(PullRequest {
        host: c.host.name.clone(),
        kind: c.host.kind,
        repo: repo.to_string(),
        number,
        url: v["web_url"].as_str().unwrap_or_default().to_string(),
        branch: v["source_branch"].as_str().unwrap_or_default().to_string(),
        base: v["target_branch"].as_str().unwrap_or_default().to_string(),
        title,
        node_id: None,
        opened_by_agent: None,
        state: if draft {
            PrState::Draft
        } else {
            PrState::Ready
        },
    })
}

pub(super) async fn open(
    c: &ForgeClient<'_>,
    req: &OpenRequest<'_>,
) -> Result<PullRequest, ForgeError> {
    let existing = c
        .send(
            request(c, reqwest::Method::GET, mr_url(c, req.repo, ""))
                .query(&[("source_branch", req.branch), ("state", "opened")]),
        )
        .await?;
    if let Some(first) = existing.as_array().and_then(|a| a.first()) {
        return merge_request(c, req.repo, first);
    }
    let created = c
        .send(
            request(c, reqwest::Method::POST, mr_url(c, req.repo, "")).json(&json!({
                "source_branch": req.branch,
                "target_branch": req.base,
                "title": format!("{DRAFT}{}", req.title),
                "description": req.body,
                "remove_source_branch": true,
            })),
        )
        .await?;
    merge_request(c, req.repo, &created)
}

pub(super) async fn check_token(c: &ForgeClient<'_>) -> Result<(), ForgeError> {
    let url = format!("{}/version", c.host.api_url);
    c.send(request(c, reqwest::Method::GET, url))
        .await
        .map(|_| ())
}

pub(super) async fn comment(
    c: &ForgeClient<'_>,
    pr: &PullRequest,
    text: &str,
) -> Result<(), ForgeError> {
    let url = mr_url(c, &pr.repo, &format!("/{}/notes", pr.number));
    c.send(request(c, reqwest::Method::POST, url).json(&json!({ "body": text })))
        .await
        .map(|_| ())
}

pub(super) async fn ready(c: &ForgeClient<'_>, pr: &PullRequest) -> Result<(), ForgeError> {
    let title = pr.title.strip_prefix(DRAFT).unwrap_or(&pr.title);
    let url = mr_url(c, &pr.repo, &format!("/{}", pr.number));
    c.send(request(c, reqwest::Method::PUT, url).json(&json!({ "title": title })))
        .await
        .map(|_| ())
}

pub(super) async fn merge(
    c: &ForgeClient<'_>,
    pr: &PullRequest,
    head: &str,
) -> Result<(), ForgeError> {
    let url = mr_url(c, &pr.repo, &format!("/{}/merge", pr.number));
    c.send(request(c, reqwest::Method::PUT, url).json(&json!({ "sha": head })))
        .await
        .map(|_| ())
}

pub(super) async fn close(c: &ForgeClient<'_>, pr: &PullRequest) -> Result<(), ForgeError> {
    let url = mr_url(c, &pr.repo, &format!("/{}", pr.number));
    c.send(request(c, reqwest::Method::PUT, url).json(&json!({ "state_event": "close" })))
        .await
        .map(|_| ())
}
