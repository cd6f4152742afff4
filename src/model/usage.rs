//! Token usage read from model API responses as they pass through the proxy: JSON bodies and
//! server-sent event streams, Anthropic and OpenAI shapes. Pure: bytes in, counts out.

use serde_json::Value;

use super::Provider;

/// Tokens one response (or a job's responses) used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenUsage {
    pub input: u64,
    pub output: u64,
}

impl TokenUsage {
    pub fn add(&mut self, other: TokenUsage) {
        self.input += other.input;
        self.output += other.output;
    }
}

fn n(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// Anthropic counts cached input separately; all of it was sent to the model.
fn anthropic_input(usage: &Value) -> u64 {
    n(usage, "input_tokens")
        + n(usage, "cache_creation_input_tokens")
        + n(usage, "cache_read_input_tokens")
}

/// Google's `usageMetadata`: the model's thinking is output too.
fn google_usage(meta: &Value) -> TokenUsage {
    TokenUsage {
        input: n(meta, "promptTokenCount"),
        output: n(meta, "candidatesTokenCount") + n(meta, "thoughtsTokenCount"),
    }
}

/// Usage in a non-streaming response body.
pub fn from_body(provider: Provider, body: &Value) -> TokenUsage {
    if provider == Provider::Google {
        // A stream asked for without SSE is a JSON array of chunks, each counting the whole
        // answer so far.
        let chunks = match body {
            Value::Array(chunks) => chunks.iter().collect(),
            one => vec![one],
        };
        return chunks
            .into_iter()
            .filter_map(|c| c.get("usageMetadata"))
            .map(google_usage)
            .fold(TokenUsage::default(), |a, b| TokenUsage {
                input: a.input.max(b.input),
                output: a.output.max(b.output),
            });
    }
    let Some(usage) = body.get("usage") else {
        return TokenUsage::default();
    };
    match provider {
        Provider::Anthropic => TokenUsage {
            input: anthropic_input(usage),
            output: n(usage, "output_tokens"),
        },
        // Responses says input/output_tokens, Chat Completions prompt/completion_tokens.
        Provider::OpenAi | Provider::Google => TokenUsage {
            input: n(usage, "input_tokens").max(n(usage, "prompt_tokens")),
            output: n(usage, "output_tokens").max(n(usage, "completion_tokens")),
        },
    }
}

/// Reads usage out of an event stream chunk by chunk, however the chunks split the lines.
#[derive(Debug)]
pub struct StreamScanner {
    provider: Provider,
    partial: Vec<u8>,
    usage: TokenUsage,
}

/// Longest SSE line kept for inspection; longer ones (big text deltas) carry no usage we need.
const MAX_LINE: usize = 1 << 20;

impl StreamScanner {
    pub fn new(provider: Provider) -> Self {
        Self {
            provider,
            partial: Vec::new(),
            usage: TokenUsage::default(),
        }
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        for &b in chunk {
            if b == b'\n' {
                let line = std::mem::take(&mut self.partial);
                self.line(&line);
            } else if self.partial.len() < MAX_LINE {
                self.partial.push(b);
            }
        }
    }

    pub fn usage(&self) -> TokenUsage {
        self.usage
    }

    fn line(&mut self, line: &[u8]) {
        let Some(data) = line.strip_prefix(b"data:") else {
            return;
        };
        let Ok(event) = serde_json::from_slice::<Value>(data.trim_ascii()) else {
            return;
        };
        match self.provider {
            Provider::Anthropic => match event.get("type").and_then(Value::as_str) {
                Some("message_start") => {
                    if let Some(u) = event.pointer("/message/usage") {
                        self.usage.input = anthropic_input(u);
                        self.usage.output = n(u, "output_tokens");
                    }
                }
                // Cumulative for the message so far.
                Some("message_delta") => {
                    if let Some(u) = event.get("usage") {
                        self.usage.output = self.usage.output.max(n(u, "output_tokens"));
                        let input = anthropic_input(u);
                        if input > 0 {
                            self.usage.input = input;
                        }
                    }
                }
                _ => {}
            },
            // Each chunk's usageMetadata counts the whole answer so far.
            Provider::Google => {
                if let Some(meta) = event.get("usageMetadata") {
                    let used = google_usage(meta);
                    self.usage.input = self.usage.input.max(used.input);
                    self.usage.output = self.usage.output.max(used.output);
                }
            }
            Provider::OpenAi => {
                if let Some(u) = event.pointer("/response/usage").filter(|u| u.is_object()) {
                    // Responses API: response.completed (and .incomplete / .failed).
                    self.usage.input = n(u, "input_tokens");
                    self.usage.output = n(u, "output_tokens");
                } else if let Some(u) = event.get("usage").filter(|u| u.is_object()) {
                    // Chat Completions with stream_options.include_usage: the last chunk.
                    self.usage.input = n(u, "prompt_tokens");
                    self.usage.output = n(u, "completion_tokens");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn anthropic_stream_split_anywhere() {
        let stream = concat!(
            "event: message_start\n",
            "data: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":120,\"cache_read_input_tokens\":30,\"output_tokens\":1}}}\n\n",
            "event: content_block_delta\n",
            "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\n",
            "event: message_delta\n",
            "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":42}}\n\n",
        );
        for split in [1, 7, 64, stream.len()] {
            let mut s = StreamScanner::new(Provider::Anthropic);
            for chunk in stream.as_bytes().chunks(split) {
                s.feed(chunk);
            }
            assert_eq!(
                s.usage(),
                TokenUsage {
                    input: 150,
                    output: 42
                },
                "split {split}"
            );
        }
    }

    #[test]
    fn openai_responses_and_chat_streams() {
        let mut s = StreamScanner::new(Provider::OpenAi);
        s.feed(b"event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"usage\":null}}\n\n");
        s.feed(b"event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"usage\":{\"input_tokens\":9,\"output_tokens\":4}}}\n\n");
        assert_eq!(
            s.usage(),
            TokenUsage {
                input: 9,
                output: 4
            }
        );
        let mut c = StreamScanner::new(Provider::OpenAi);
        c.feed(b"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\n\ndata: [DONE]\n\n");
        assert_eq!(
            c.usage(),
            TokenUsage {
                input: 5,
                output: 2
            }
        );
    }

    #[test]
    fn google_streams_and_bodies() {
        let mut s = StreamScanner::new(Provider::Google);
        s.feed(b"data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"hi\"}]}}],\"usageMetadata\":{\"promptTokenCount\":12,\"candidatesTokenCount\":1}}\r\n\r\n");
        s.feed(b"data: {\"candidates\":[],\"usageMetadata\":{\"promptTokenCount\":12,\"candidatesTokenCount\":5,\"thoughtsTokenCount\":3}}\r\n\r\n");
        assert_eq!(
            s.usage(),
            TokenUsage {
                input: 12,
                output: 8
            }
        );
        assert_eq!(
            from_body(
                Provider::Google,
                &json!({"usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 4}})
            ),
            TokenUsage {
                input: 3,
                output: 4
            }
        );
        assert_eq!(
            from_body(
                Provider::Google,
                &json!([{"usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1}},
                        {"usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 9}}])
            ),
            TokenUsage {
                input: 3,
                output: 9
            }
        );
    }

    #[test]
    fn bodies() {
        assert_eq!(
            from_body(
                Provider::Anthropic,
                &json!({"usage": {"input_tokens": 3, "output_tokens": 4}})
            ),
            TokenUsage {
                input: 3,
                output: 4
            }
        );
        assert_eq!(
            from_body(
                Provider::OpenAi,
                &json!({"usage": {"prompt_tokens": 3, "completion_tokens": 4}})
            ),
            TokenUsage {
                input: 3,
                output: 4
            }
        );
        assert_eq!(
            from_body(Provider::OpenAi, &json!({"id": "x"})),
            TokenUsage::default()
        );
    }
}
