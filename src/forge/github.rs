//! GitHub's REST API (and the one GraphQL mutation REST lacks: marking a draft ready), for
//! github.com and GitHub Enterprise Server alike.

use secrecy::ExposeSecret;
use serde_json::{json, Value};

use super::{ForgeClient, ForgeError, OpenRequest, PrState, PullRequest};

const API_VERSION: &str = "2022-11-28";

fn request(c: &ForgeClient, method: reqwest::Method, url: String) -> reqwest::RequestBuilder {
    c.http
        .request(method, url)
        .header("Accept", "application/vnd.github+json")
        .header("X-GitHub-Api-Version", API_VERSION)
        .header("User-Agent", "threadwork")
        .bearer_auth(c.host.token.expose_secret())
}

fn repo_url(c: &ForgeClient, repo: &str, rest: &str) -> String {
    format!("{}/repos/{repo}{rest}", c.host.api_url)
}

fn unreadable(message: &str) -> ForgeError {
    ForgeError::Unreadable {
        forge: "GitHub",
        message: message.into(),
    }
}

/// A pull-request object → our record.
fn pull_request(c: &ForgeClient, repo: &str, v: &Value) -> Result<PullRequest, ForgeError> {
    let number = v["number"]
        .as_u64()
        .ok_or_else(|| unreadable("a pull request without a number"))?;
    Ok(PullRequest {
        host: c.host.name.clone(),
        kind: c.host.kind,
        repo: repo.to_string(),
        number,
        url: v["html_url"].as_str().unwrap_or_default().to_string(),
        branch: v["head"]["ref"].as_str().unwrap_or_default().to_string(),
        base: v["base"]["ref"].as_str().unwrap_or_default().to_string(),
        title: v["title"].as_str().unwrap_or_default().to_string(),
        node_id: v["node_id"].as_str().map(str::to_string),
        opened_by_agent: None,
        state: if v["draft"].as_bool().unwrap_or(false) {
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
    // An earlier attempt may have opened it (a crash between push and answer): reuse it.
    let owner = req.repo.split('/').next().unwrap_or_default();
    let existing = c
        .send(
            request(c, reqwest::Method::GET, repo_url(c, req.repo, "/pulls")).query(&[
                ("head", format!("{owner}:{}", req.branch)),
                ("state", "open".to_string()),
            ]),
        )
        .await?;
    if let Some(first) = existing.as_array().and_then(|a| a.first()) {
        return pull_request(c, req.repo, first);
    }
    let created = c
        .send(
            request(c, reqwest::Method::POST, repo_url(c, req.repo, "/pulls")).json(&json!({
                "title": req.title,
                "head": req.branch,
                "base": req.base,
                "body": req.body,
                "draft": true,
            })),
        )
        .await?;
    pull_request(c, req.repo, &created)
}

pub(super) async fn check_token(c: &ForgeClient<'_>) -> Result<(), ForgeError> {
    let url = format!("{}/rate_limit", c.host.api_url);
    c.send(request(c, reqwest::Method::GET, url))
        .await
        .map(|_| ())
}

pub(super) async fn comment(
    c: &ForgeClient<'_>,
    pr: &PullRequest,
    text: &str,
) -> Result<(), ForgeError> {
    let url = repo_url(c, &pr.repo, &format!("/issues/{}/comments", pr.number));
    c.send(request(c, reqwest::Method::POST, url).json(&json!({ "body": text })))
        .await
        .map(|_| ())
}

pub(super) async fn ready(c: &ForgeClient<'_>, pr: &PullRequest) -> Result<(), ForgeError> {
    let id = pr
        .node_id
        .as_deref()
        .ok_or_else(|| unreadable("the pull request has no node id"))?;
    let answer = c
        .send(
            request(c, reqwest::Method::POST, c.host.graphql_url.clone()).json(&json!({
                "query": "mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id}) { pullRequest { isDraft } } }",
                "variables": { "id": id },
            })),
        )
        .await?;
    // GraphQL reports refusals in a 200 answer.
    if let Some(errors) = answer.get("errors").filter(|e| !e.is_null()) {
        return Err(ForgeError::Refused {
            forge: "GitHub",
            status: 200,
            message: super::error_message(&json!({ "errors": errors })),
        });
    }
    Ok(())
}

pub(super) async fn merge(
    c: &ForgeClient<'_>,
    pr: &PullRequest,
    head: &str,
) -> Result<(), ForgeError> {
    let url = repo_url(c, &pr.repo, &format!("/pulls/{}/merge", pr.number));
    let answer = c
        .send(request(c, reqwest::Method::PUT, url).json(&json!({
            "sha": head,
            "merge_method": "merge",
        })))
        .await?;
    if answer["merged"].as_bool() == Some(false) {
        return Err(ForgeError::Refused {
            forge: "GitHub",
            status: 200,
            message: super::error_message(&answer),
        });
    }
    Ok(())
}

pub(super) async fn close(c: &ForgeClient<'_>, pr: &PullRequest) -> Result<(), ForgeError> {
    let url = repo_url(c, &pr.repo, &format!("/pulls/{}", pr.number));
    c.send(request(c, reqwest::Method::PATCH, url).json(&json!({ "state": "closed" })))
        .await
        .map(|_| ())
}
