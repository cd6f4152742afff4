//! Pull requests: where a repository lives (forge hosts from the config), which repositories an
//! agent may use, and the draft PR (GitHub) or MR (GitLab) that carries a job's changes.
//!
//! `git` clones and pushes with the git CLI outside the sandbox; `github` and `gitlab` speak
//! the forges' REST APIs. What is decided here is pure: host lookup, repo permissions, titles,
//! bodies and commit messages.

pub mod git;
pub mod github;
pub mod gitlab;

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ForgeKind {
    Github,
    Gitlab,
}

impl ForgeKind {
    pub fn label(self) -> &'static str {
        match self {
            ForgeKind::Github => "GitHub",
            ForgeKind::Gitlab => "GitLab",
        }
    }

    /// What the forge calls its change requests.
    pub fn noun(self) -> &'static str {
        match self {
            ForgeKind::Github => "PR",
            ForgeKind::Gitlab => "MR",
        }
    }
}

/// One forge host from the config (`[forge.<name>]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    pub kind: ForgeKind,
    /// REST base: `https://api.github.com`, `https://ghe.example.com/api/v3`,
    /// `https://gitlab.example.com/api/v4`.
    pub api_url: String,
    /// Clone base: a repo `owner/name` is `<git_url>/owner/name.git`.
    pub git_url: String,
    /// GitHub's GraphQL endpoint (marking a draft ready has no REST call); derived from
    /// `api_url` when absent.
    #[serde(default)]
    pub graphql_url: Option<String>,
    #[serde(default)]
    pub token: Option<SecretString>,
    /// An environment variable holding the token, when it is not in the file.
    #[serde(default)]
    pub token_env: Option<String>,
    /// Repositories on this host (`owner/name`, `owner/*`, `*`).
    pub repos: Vec<String>,
}

/// Commit identity and the Slack user → Git identity map (`[git]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitSection {
    #[serde(default = "default_author_name")]
    pub author_name: String,
    #[serde(default = "default_author_email")]
    pub author_email: String,
    /// Slack user id → `Name <email>`, for the `Co-authored-by` trailer.
    #[serde(default)]
    pub identities: BTreeMap<String, String>,
}

impl Default for GitSection {
    fn default() -> Self {
        Self {
            author_name: default_author_name(),
            author_email: default_author_email(),
            identities: BTreeMap::new(),
        }
    }
}

fn default_author_name() -> String {
    "threadwork".into()
}
fn default_author_email() -> String {
    "threadwork@localhost".into()
}

#[derive(Debug, thiserror::Error)]
pub enum ForgeConfigError {
    #[error("forge `{host}` has no token: set `token`, or `token_env` to a variable that is set")]
    NoToken { host: String },
    #[error("forge `{host}`: {field} `{value}` is not an http(s) URL")]
    BadUrl {
        host: String,
        field: &'static str,
        value: String,
    },
    #[error("git identity for `{user}` is `{value}`; write it as `Name <email>`")]
    BadIdentity { user: String, value: String },
}

/// A configured host, ready to use.
#[derive(Debug, Clone)]
pub struct Host {
    pub name: String,
    pub kind: ForgeKind,
    pub api_url: String,
    pub git_url: String,
    pub graphql_url: String,
    pub token: SecretString,
    pub repos: Vec<String>,
}

impl Host {
    /// The clone URL of `repo` (no credentials in it: they travel in a header).
    pub fn clone_url(&self, repo: &str) -> String {
        format!("{}/{repo}.git", self.git_url.trim_end_matches('/'))
    }

    /// The HTTP `Authorization` header git sends: Basic with the user each forge documents for
    /// token access.
    pub fn git_auth_header(&self) -> SecretString {
        use base64::Engine;
        let user = match self.kind {
            ForgeKind::Github => "x-access-token",
            ForgeKind::Gitlab => "oauth2",
        };
        let pair = format!("{user}:{}", self.token.expose_secret());
        SecretString::from(format!(
            "Authorization: Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        ))
    }
}

/// The hosts and the git identity, built from the config.
#[derive(Debug, Clone, Default)]
pub struct Forges {
    pub hosts: Vec<Host>,
    pub git: GitSection,
}

impl Forges {
    pub fn from_config(
        hosts: &BTreeMap<String, HostConfig>,
        git: &GitSection,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ForgeConfigError> {
        for (user, value) in &git.identities {
            if parse_identity(value).is_none() {
                return Err(ForgeConfigError::BadIdentity {
                    user: user.clone(),
                    value: value.clone(),
                });
            }
        }
        let mut out = Vec::new();
        for (name, h) in hosts {
            for (field, value) in [("api_url", &h.api_url), ("git_url", &h.git_url)] {
                if !(value.starts_with("http://") || value.starts_with("https://")) {
                    return Err(ForgeConfigError::BadUrl {
                        host: name.clone(),
                        field,
                        value: value.clone(),
                    });
                }
            }
            let token = h
                .token
                .clone()
                .or_else(|| {
                    h.token_env
                        .as_deref()
                        .and_then(env)
                        .filter(|v| !v.is_empty())
                        .map(SecretString::from)
                })
                .ok_or_else(|| ForgeConfigError::NoToken { host: name.clone() })?;
            let api_url = h.api_url.trim_end_matches('/').to_string();
            out.push(Host {
                name: name.clone(),
                kind: h.kind,
                graphql_url: h
                    .graphql_url
                    .clone()
                    .unwrap_or_else(|| graphql_url(&api_url)),
                api_url,
                git_url: h.git_url.clone(),
                token,
                repos: h.repos.clone(),
            });
        }
        Ok(Self {
            hosts: out,
            git: git.clone(),
        })
    }

    /// The host a repository lives on: the first whose `repos` match it.
    pub fn host_for(&self, repo: &str) -> Option<&Host> {
        self.hosts
            .iter()
            .find(|h| h.repos.iter().any(|p| repo_matches(p, repo)))
    }

    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// Every token, for redaction of git's and the forges' messages.
    pub fn secrets(&self) -> Vec<String> {
        self.hosts
            .iter()
            .map(|h| h.token.expose_secret().to_string())
            .collect()
    }

    /// The requester's Git identity, when mapped.
    pub fn identity(&self, user: &str) -> Option<&str> {
        self.git.identities.get(user).map(String::as_str)
    }
}

/// `https://api.github.com` → `https://api.github.com/graphql`;
/// `https://ghe.example.com/api/v3` → `https://ghe.example.com/api/graphql`.
fn graphql_url(api_url: &str) -> String {
    match api_url.strip_suffix("/api/v3") {
        Some(base) => format!("{base}/api/graphql"),
        None => format!("{api_url}/graphql"),
    }
}

/// `owner/name` against `owner/name`, `owner/*` or `*`.
pub fn repo_matches(pattern: &str, repo: &str) -> bool {
    let pattern = pattern.trim();
    if pattern == "*" {
        return true;
    }
    match pattern.strip_suffix("/*") {
        Some(owner) => repo
            .rsplit_once('/')
            .is_some_and(|(o, _)| o.eq_ignore_ascii_case(owner)),
        None => pattern.eq_ignore_ascii_case(repo),
    }
}

/// Whether an agent may work on `repo`: its default repo, or one its `repos` allow.
pub fn agent_may_use(default: Option<&str>, allowed: &[String], repo: &str) -> bool {
    default.is_some_and(|d| d.eq_ignore_ascii_case(repo))
        || allowed.iter().any(|p| repo_matches(p, repo))
}

/// `Name <email>` → (name, email).
pub fn parse_identity(value: &str) -> Option<(&str, &str)> {
    let (name, rest) = value.split_once('<')?;
    let email = rest.strip_suffix('>')?.trim();
    let name = name.trim();
    (!name.is_empty() && email.contains('@') && !email.contains(['<', '>', '\n']))
        .then_some((name, email))
}

/// The branch a thread's changes go to.
pub fn branch_name(workspace_job: u64) -> String {
    format!("threadwork/{workspace_job}")
}

/// What a PR says about the job that made it.
#[derive(Debug, Clone)]
pub struct PrFacts<'a> {
    pub job: u64,
    pub task: &'a str,
    pub requester: &'a str,
    pub permalink: Option<&'a str>,
    pub agent: &'a str,
    pub harness: &'a str,
    pub model: Option<&'a str>,
    pub prompt_version: Option<&'a str>,
}

/// A PR title from the request: its first line, at most 72 characters.
pub fn pr_title(task: &str) -> String {
    let line = task
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("changes");
    crate::text::clip(line, 72)
}

pub fn pr_body(f: &PrFacts) -> String {
    let mut body = format!(
        "Requested in Slack by {} (job {}):\n\n> {}\n\n",
        f.requester,
        f.job,
        f.task.trim().replace('\n', "\n> ")
    );
    if let Some(link) = f.permalink {
        body.push_str(&format!("Slack thread: {link}\n\n"));
    }
    body.push_str(&format!(
        "| agent | harness | model | prompt version |\n| --- | --- | --- | --- |\n| {} | {} | {} | {} |\n",
        f.agent,
        f.harness,
        f.model.unwrap_or("(harness default)"),
        f.prompt_version.unwrap_or("?")
    ));
    body.push_str(
        "\nOpened as a draft by threadwork; follow-ups in the thread push to this branch.\n",
    );
    body
}

/// The commit message: the title, the job's facts, and the requester as co-author when mapped.
pub fn commit_message(f: &PrFacts, co_author: Option<&str>) -> String {
    let mut msg = format!("{}\n\n", pr_title(f.task));
    msg.push_str(&format!(
        "threadwork job {} · agent {} · harness {} · prompt {}\n",
        f.job,
        f.agent,
        f.harness,
        f.prompt_version.unwrap_or("?")
    ));
    if let Some(link) = f.permalink {
        msg.push_str(&format!("Slack thread: {link}\n"));
    }
    if let Some(id) = co_author {
        msg.push_str(&format!("\nCo-authored-by: {id}\n"));
    }
    msg
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrState {
    Draft,
    Ready,
    Merged,
    Closed,
}

/// A PR or MR the bot opened, kept on the job records of its thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    /// The `[forge.<name>]` it lives on.
    pub host: String,
    pub kind: ForgeKind,
    pub repo: String,
    /// GitHub's number or GitLab's iid.
    pub number: u64,
    pub url: String,
    pub branch: String,
    pub base: String,
    pub title: String,
    /// GitHub's GraphQL node id (for "ready for review").
    #[serde(default)]
    pub node_id: Option<String>,
    pub state: PrState,
    /// The agent whose job opened it: only its approvers' ✅ can merge it.
    #[serde(default)]
    pub opened_by_agent: Option<String>,
}

impl PullRequest {
    /// `<url|draft PR #12>` for Slack.
    pub fn link(&self) -> String {
        let state = match self.state {
            PrState::Draft => "draft ",
            PrState::Ready | PrState::Merged | PrState::Closed => "",
        };
        let mark = match self.kind {
            ForgeKind::Github => "#",
            ForgeKind::Gitlab => "!",
        };
        format!(
            "<{}|{state}{} {mark}{}>",
            self.url,
            self.kind.noun(),
            self.number
        )
    }
}

/// What the forge said when it refused, or why it could not be asked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ForgeError {
    #[error("{forge} answered {status}: {message}")]
    Refused {
        forge: &'static str,
        status: u16,
        message: String,
    },
    #[error("cannot reach {forge}: {message}")]
    Unreachable {
        forge: &'static str,
        message: String,
    },
    #[error("{forge} sent an answer I cannot read: {message}")]
    Unreadable {
        forge: &'static str,
        message: String,
    },
}

impl ForgeError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ForgeError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// What to open.
#[derive(Debug, Clone)]
pub struct OpenRequest<'a> {
    pub repo: &'a str,
    pub branch: &'a str,
    pub base: &'a str,
    pub title: &'a str,
    pub body: &'a str,
}

/// The forge calls the bot makes, for either kind of host.
pub struct ForgeClient<'a> {
    pub host: &'a Host,
    pub http: &'a reqwest::Client,
}

impl ForgeClient<'_> {
    /// The forge accepts the token (`doctor`): a call every token may make, GitHub's
    /// `/rate_limit` or GitLab's `/version`.
    pub async fn check_token(&self) -> Result<(), ForgeError> {
        match self.host.kind {
            ForgeKind::Github => github::check_token(self).await,
            ForgeKind::Gitlab => gitlab::check_token(self).await,
        }
    }

    /// The open PR/MR for the branch, or a new draft.
    pub async fn open(&self, req: &OpenRequest<'_>) -> Result<PullRequest, ForgeError> {
        match self.host.kind {
            ForgeKind::Github => github::open(self, req).await,
            ForgeKind::Gitlab => gitlab::open(self, req).await,
        }
    }

    pub async fn comment(&self, pr: &PullRequest, text: &str) -> Result<(), ForgeError> {
        match self.host.kind {
            ForgeKind::Github => github::comment(self, pr, text).await,
            ForgeKind::Gitlab => gitlab::comment(self, pr, text).await,
        }
    }

    pub async fn ready(&self, pr: &PullRequest) -> Result<(), ForgeError> {
        match self.host.kind {
            ForgeKind::Github => github::ready(self, pr).await,
            ForgeKind::Gitlab => gitlab::ready(self, pr).await,
        }
    }

    /// Merges at `head` (the forge refuses when the branch moved since).
    pub async fn merge(&self, pr: &PullRequest, head: &str) -> Result<(), ForgeError> {
        match self.host.kind {
            ForgeKind::Github => github::merge(self, pr, head).await,
            ForgeKind::Gitlab => gitlab::merge(self, pr, head).await,
        }
    }

    pub async fn close(&self, pr: &PullRequest) -> Result<(), ForgeError> {
        match self.host.kind {
            ForgeKind::Github => github::close(self, pr).await,
            ForgeKind::Gitlab => gitlab::close(self, pr).await,
        }
    }

    /// Sends a request and reads a JSON answer; a non-2xx answer is `Refused` with the forge's
    /// own message.
    async fn send(&self, req: reqwest::RequestBuilder) -> Result<serde_json::Value, ForgeError> {
        let forge = self.host.kind.label();
        let resp = req.send().await.map_err(|e| ForgeError::Unreachable {
            forge,
            // With its causes: "error sending request" alone hides a refused certificate.
            message: crate::net::error_chain(&e.without_url()),
        })?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let json: serde_json::Value = if text.trim().is_empty() {
            serde_json::Value::Null
        } else {
            match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(e) if status.is_success() => {
                    return Err(ForgeError::Unreadable {
                        forge,
                        message: e.to_string(),
                    })
                }
                Err(_) => serde_json::Value::String(text.chars().take(300).collect()),
            }
        };
        if status.is_success() {
            Ok(json)
        } else {
            Err(ForgeError::Refused {
                forge,
                status: status.as_u16(),
                message: error_message(&json),
            })
        }
    }
}

/// The readable part of a forge's error body: GitHub's `message` and `errors[].message`,
/// GitLab's `message` (a string, a list or a map) or `error`.
pub fn error_message(json: &serde_json::Value) -> String {
    use serde_json::Value;
    let flat = |v: &Value| -> String {
        match v {
            Value::String(s) => s.clone(),
            Value::Array(a) => a
                .iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| x.to_string())
                })
                .collect::<Vec<_>>()
                .join("; "),
            Value::Object(m) => m
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{k}: {}",
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string())
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        }
    };
    let mut parts = Vec::new();
    if let Some(m) = json.get("message") {
        parts.push(flat(m));
    } else if let Some(m) = json.get("error") {
        parts.push(flat(m));
    } else if let Value::String(s) = json {
        parts.push(s.clone());
    }
    if let Some(Value::Array(errors)) = json.get("errors") {
        for e in errors {
            if let Some(m) = e.get("message").and_then(Value::as_str) {
                parts.push(m.to_string());
            } else if let Some(m) = e.as_str() {
                parts.push(m.to_string());
            }
        }
    }
    let text = parts.join(" — ");
    if text.is_empty() {
        "no reason given".into()
    } else {
        text.chars().take(500).collect()
    }
}

/// Replaces each secret's value in `text` (git and forge messages are posted to threads).
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(s.as_str(), "[redacted]");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_patterns() {
        assert!(repo_matches("acme/web", "acme/web"));
        assert!(repo_matches("acme/web", "ACME/Web"));
        assert!(repo_matches("acme/*", "acme/api"));
        assert!(!repo_matches("acme/*", "other/api"));
        assert!(repo_matches("*", "x/y"));
        assert!(!repo_matches("acme/web", "acme/web2"));
        assert!(repo_matches("group/sub/*", "group/sub/proj"));
    }

    #[test]
    fn agents_use_their_default_or_allowed_repos() {
        let allowed = vec!["acme/*".to_string()];
        assert!(agent_may_use(Some("solo/x"), &[], "solo/x"));
        assert!(!agent_may_use(None, &[], "solo/x"));
        assert!(agent_may_use(None, &allowed, "acme/web"));
        assert!(!agent_may_use(Some("solo/x"), &allowed, "evil/web"));
    }

    #[test]
    fn hosts_resolve_by_repo_and_need_tokens() {
        let mut hosts = BTreeMap::new();
        hosts.insert(
            "ghe".to_string(),
            HostConfig {
                kind: ForgeKind::Github,
                api_url: "https://ghe.example.com/api/v3/".into(),
                git_url: "https://ghe.example.com".into(),
                graphql_url: None,
                token: None,
                token_env: Some("GHE_TOKEN".into()),
                repos: vec!["acme/*".into()],
            },
        );
        let env = |k: &str| (k == "GHE_TOKEN").then(|| "tok123".to_string());
        let f = Forges::from_config(&hosts, &GitSection::default(), &env).unwrap();
        let h = f.host_for("acme/web").unwrap();
        assert_eq!(h.graphql_url, "https://ghe.example.com/api/graphql");
        assert_eq!(
            h.clone_url("acme/web"),
            "https://ghe.example.com/acme/web.git"
        );
        assert!(f.host_for("other/web").is_none());
        let none = |_: &str| None;
        assert!(matches!(
            Forges::from_config(&hosts, &GitSection::default(), &none),
            Err(ForgeConfigError::NoToken { .. })
        ));
        assert_eq!(
            graphql_url("https://api.github.com"),
            "https://api.github.com/graphql"
        );
    }

    #[test]
    fn identities_titles_bodies_and_messages() {
        assert_eq!(
            parse_identity("Alice Example <alice@example.com>"),
            Some(("Alice Example", "alice@example.com"))
        );
        assert_eq!(parse_identity("alice@example.com"), None);
        assert_eq!(parse_identity("<a@b>"), None);
        assert_eq!(
            pr_title("\n  fix the login test\nmore"),
            "fix the login test"
        );
        let long = "x".repeat(100);
        assert_eq!(pr_title(&long).chars().count(), 72);
        let f = PrFacts {
            job: 7,
            task: "fix it\nplease",
            requester: "Alice",
            permalink: Some("https://slack.example/archives/C1/p1"),
            agent: "default",
            harness: "claude",
            model: Some("claude-sonnet-4"),
            prompt_version: Some("v-abc"),
        };
        let body = pr_body(&f);
        assert!(body.contains("https://slack.example/archives/C1/p1"));
        assert!(body.contains("v-abc") && body.contains("claude-sonnet-4"));
        assert!(body.contains("> fix it\n> please"));
        let msg = commit_message(&f, Some("Alice <a@example.com>"));
        assert!(msg.starts_with("fix it\n\n"));
        assert!(msg.ends_with("\nCo-authored-by: Alice <a@example.com>\n"));
    }

    #[test]
    fn forge_error_bodies_are_read() {
        let gh = serde_json::json!({"message": "Validation Failed", "errors": [{"message": "A pull request already exists for acme:threadwork/1."}]});
        assert_eq!(
            error_message(&gh),
            "Validation Failed — A pull request already exists for acme:threadwork/1."
        );
        let gl = serde_json::json!({"message": ["Another open merge request already exists for this source branch: !1"]});
        assert!(error_message(&gl).starts_with("Another open merge request"));
        let gl2 = serde_json::json!({"message": {"title": ["can't be blank"]}});
        assert_eq!(error_message(&gl2), "title: [\"can't be blank\"]");
        assert_eq!(error_message(&serde_json::Value::Null), "no reason given");
        assert_eq!(
            redact("token abcdef here", &["abcdef".into()]),
            "token [redacted] here"
        );
    }
}
