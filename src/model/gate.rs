//! What the model proxy lets through (pure). A sandbox holds a job token that spends the
//! shared key, so only the calls the supported CLIs make pass: an allow-list of (method, path)
//! per provider, a plain JSON body with exactly one `model`, and a short list of headers.
//! Everything else is refused with a label saying why.

use axum::http::{HeaderMap, Method, StatusCode};

use super::Provider;

/// Why a request was refused, for the status, the error body and the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    /// The provider-style error type (`not_found_error`, `invalid_request_error`, …).
    pub kind: &'static str,
    pub message: String,
}

impl Refusal {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
        }
    }
}

/// The calls the CLIs make (Claude Code and pi: Anthropic Messages; Codex: OpenAI Responses),
/// as paths below the provider's base URL. Google's name their model in the path (`google_call`).
fn allowed(provider: Provider, method: &Method, rest: &str) -> bool {
    let calls: &[(Method, &str)] = match provider {
        Provider::Anthropic => &[
            (Method::POST, "v1/messages"),
            (Method::POST, "v1/messages/count_tokens"),
            (Method::GET, "v1/models"),
        ],
        Provider::OpenAi => &[(Method::POST, "v1/responses"), (Method::GET, "v1/models")],
        Provider::Google => &[(Method::GET, "v1beta/models")],
    };
    calls.iter().any(|(m, p)| m == method && *p == rest)
}

/// The Gemini CLI's model calls: `POST v1beta/models/<model>:<action>` for generating and
/// counting. Gives the model; `None` for any other path.
fn google_call<'a>(method: &Method, rest: &'a str) -> Option<&'a str> {
    let (model, action) = rest.strip_prefix("v1beta/models/")?.split_once(':')?;
    let plain = !model.is_empty()
        && model
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    let known = matches!(
        action,
        "generateContent" | "streamGenerateContent" | "countTokens"
    );
    (*method == Method::POST && plain && known).then_some(model)
}

/// The query passed on upstream for a call to `path`. Google's is the proxy's own: a
/// stream is always asked for as server-sent events (whose usage the proxy reads as it
/// passes), and nothing the sandbox put there goes on (a `key`, another `alt`). The other
/// APIs' queries go on as they are.
pub fn forwarded_query(provider: Provider, path: &str, query: &str) -> Option<String> {
    match provider {
        Provider::Google => path
            .ends_with(":streamGenerateContent")
            .then(|| "alt=sse".to_string()),
        Provider::Anthropic | Provider::OpenAi => (!query.is_empty()).then(|| query.to_string()),
    }
}

/// Headers passed on to the upstream; the key is added by the proxy, the rest dropped.
pub fn forwarded_header(name: &str) -> bool {
    matches!(
        name,
        "content-type"
            | "accept"
            | "anthropic-version"
            | "anthropic-beta"
            | "openai-beta"
            | "x-goog-api-client"
            | "user-agent"
    )
}

/// Checks a request's method, raw path (below `/t/<token>/<provider>/`, still URL-encoded),
/// headers and body; gives the model it names (`None` for a bodiless GET).
pub fn check(
    provider: Provider,
    method: &Method,
    raw_rest: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<String>, Refusal> {
    let (path, _query) = raw_rest.split_once('?').unwrap_or((raw_rest, ""));
    let in_path = match provider {
        Provider::Google => google_call(method, path),
        Provider::Anthropic | Provider::OpenAi => None,
    };
    if in_path.is_none() && !allowed(provider, method, path) {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "not_found_error",
            format!(
                "threadwork: {method} /{path} is not a call the proxy forwards for {}",
                provider.label()
            ),
        ));
    }
    if *method == Method::GET {
        return if body.is_empty() {
            Ok(None)
        } else {
            Err(invalid("a GET carries no body"))
        };
    }
    if let Some(enc) = headers.get("content-encoding") {
        if enc.as_bytes() != b"identity" {
            return Err(Refusal::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid_request_error",
                "threadwork: the proxy accepts plain JSON bodies only (no content-encoding)",
            ));
        }
    }
    if let Some(model) = in_path {
        // The model is the path's; the body need only be a plain JSON object.
        return match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(body) {
            Ok(_) => Ok(Some(model.to_string())),
            Err(_) => Err(invalid("the body is not a plain JSON object")),
        };
    }
    #[derive(serde::Deserialize)]
    struct Named {
        model: String,
    }
    // serde refuses a repeated `model` key, so no parser down the line can read another one.
    match serde_json::from_slice::<Named>(body) {
        Ok(n) if !n.model.is_empty() => Ok(Some(n.model)),
        Ok(_) => Err(invalid("the request names no model")),
        Err(e) if e.to_string().contains("duplicate field") => {
            Err(invalid("the request names `model` more than once"))
        }
        Err(e) if e.to_string().contains("missing field") => {
            Err(invalid("the request names no model"))
        }
        Err(_) => Err(invalid("the body is not a plain JSON object")),
    }
}

fn invalid(why: &str) -> Refusal {
    Refusal::new(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        format!("threadwork: {why}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("content-type", "application/json".parse().unwrap());
        h
    }

    // Guards: the job token spends the shared key only on the calls the CLIs make.
    #[test]
    fn only_the_clis_calls_with_one_plain_model_pass() {
        let h = json_headers();
        let body = br#"{"model":"m1","messages":[]}"#;
        let a = Provider::Anthropic;
        assert_eq!(
            check(a, &Method::POST, "v1/messages", &h, body),
            Ok(Some("m1".into()))
        );
        assert_eq!(check(a, &Method::GET, "v1/models", &h, b""), Ok(None));
        assert_eq!(
            check(Provider::OpenAi, &Method::POST, "v1/responses", &h, body),
            Ok(Some("m1".into()))
        );
        for (method, path) in [
            (Method::POST, "v1/messages/batches"),
            (Method::GET, "v1/files"),
            (Method::DELETE, "v1/messages"),
            (Method::POST, "v1/messages/..%2f..%2fv1%2ffiles"),
            (Method::POST, "v1/messages/../files"),
            (Method::POST, "v1%2fmessages"),
            (Method::POST, "v1//messages"),
        ] {
            let r = check(a, &method, path, &h, body).unwrap_err();
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {path}");
            assert_eq!(r.kind, "not_found_error");
        }
        // Another provider's path is not this provider's.
        assert!(check(Provider::OpenAi, &Method::POST, "v1/messages", &h, body).is_err());

        let bad = |body: &[u8]| check(a, &Method::POST, "v1/messages", &h, body).unwrap_err();
        assert!(bad(br#"{"model":"m1","model":"forbidden"}"#)
            .message
            .contains("more than once"));
        assert!(bad(b"\xEF\xBB\xBF{\"model\":\"m1\"}")
            .message
            .contains("plain JSON"));
        assert!(bad(br#"{"messages":[]}"#).message.contains("no model"));
        assert!(bad(br#"[{"model":"m1"}]"#).message.contains("plain JSON"));
        let mut gz = json_headers();
        gz.insert("content-encoding", "gzip".parse().unwrap());
        let r = check(a, &Method::POST, "v1/messages", &gz, body).unwrap_err();
        assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(forwarded_header("anthropic-version") && !forwarded_header("x-forwarded-host"));
    }

    #[test]
    fn google_calls_name_their_model_in_the_path() {
        let h = json_headers();
        let g = Provider::Google;
        let body = br#"{"contents":[]}"#;
        for action in [
            "streamGenerateContent?alt=sse",
            "generateContent",
            "countTokens",
        ] {
            assert_eq!(
                check(
                    g,
                    &Method::POST,
                    &format!("v1beta/models/gemini-2.5-pro:{action}"),
                    &h,
                    body
                ),
                Ok(Some("gemini-2.5-pro".into())),
                "{action}"
            );
        }
        assert_eq!(check(g, &Method::GET, "v1beta/models", &h, b""), Ok(None));
        for (method, path) in [
            (Method::POST, "v1beta/models/m:batchGenerateContent"),
            (Method::POST, "v1beta/cachedContents"),
            (Method::POST, "v1beta/files"),
            (Method::POST, "v1beta/tunedModels/m:generateContent"),
            (Method::POST, "v1beta/models/..%2fm:generateContent"),
            (Method::POST, "v1beta/models/a/b:generateContent"),
            (Method::POST, "v1beta/models/:generateContent"),
            (Method::GET, "v1beta/models/m:generateContent"),
            (Method::POST, "v1/messages"),
        ] {
            let r = check(g, &method, path, &h, body).unwrap_err();
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {path}");
        }
        let r = check(
            g,
            &Method::POST,
            "v1beta/models/m:generateContent",
            &h,
            b"[1]",
        )
        .unwrap_err();
        assert!(r.message.contains("plain JSON"), "{r:?}");
        // Google's path is no other provider's.
        assert!(check(
            Provider::Anthropic,
            &Method::POST,
            "v1beta/models/m:generateContent",
            &h,
            body
        )
        .is_err());
    }

    #[test]
    fn a_key_in_the_query_never_goes_upstream() {
        let stream = "v1beta/models/m:streamGenerateContent";
        for query in [
            "alt=sse&key=placeholder",
            "",
            "alt=json",
            "ALT=sse",
            "alt=json&alt=sse",
        ] {
            assert_eq!(
                forwarded_query(Provider::Google, stream, query),
                Some("alt=sse".into()),
                "{query}"
            );
        }
        assert_eq!(
            forwarded_query(
                Provider::Google,
                "v1beta/models/m:generateContent",
                "key=k&x=1"
            ),
            None
        );
        assert_eq!(
            forwarded_query(Provider::Anthropic, "v1/messages", "beta=true"),
            Some("beta=true".into())
        );
        assert_eq!(forwarded_query(Provider::OpenAi, "v1/responses", ""), None);
    }
}
