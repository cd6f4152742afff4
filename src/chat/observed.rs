//! The bot's one door to the chat platform: every text going out is stripped of known secrets
//! (redaction by value), and every call is counted by method, 429s apart.

use std::sync::Arc;

use super::{BotIdentity, ChatError, ChatMessage, ChatPlatform, MessageTag, UserInfo};
use crate::ops::metrics::Metrics;
use crate::ops::redact::Redactor;

pub struct ObservedChat {
    inner: Arc<dyn ChatPlatform>,
    metrics: Arc<Metrics>,
    redactor: Arc<Redactor>,
}

impl ObservedChat {
    pub fn new(
        inner: Arc<dyn ChatPlatform>,
        metrics: Arc<Metrics>,
        redactor: Arc<Redactor>,
    ) -> Self {
        Self {
            inner,
            metrics,
            redactor,
        }
    }

    fn count<T>(&self, method: &str, result: Result<T, ChatError>) -> Result<T, ChatError> {
        let limited = match &result {
            Err(ChatError::RateLimited { .. }) => true,
            Err(ChatError::Api { code, .. }) => code == "ratelimited",
            _ => false,
        };
        self.metrics.slack_call(method, limited);
        result
    }
}

#[async_trait::async_trait]
impl ChatPlatform for ObservedChat {
    async fn identity(&self) -> Result<BotIdentity, ChatError> {
        let r = self.inner.identity().await;
        self.count("auth.test", r)
    }

    async fn post_message(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        text: &str,
    ) -> Result<String, ChatError> {
        let text = self.redactor.apply(text);
        let r = self.inner.post_message(channel, thread_ts, &text).await;
        self.count("chat.postMessage", r)
    }

    async fn post_tagged(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        text: &str,
        tag: &MessageTag,
    ) -> Result<String, ChatError> {
        let text = self.redactor.apply(text);
        let r = self.inner.post_tagged(channel, thread_ts, &text, tag).await;
        self.count("chat.postMessage", r)
    }

    async fn update_message(&self, channel: &str, ts: &str, text: &str) -> Result<(), ChatError> {
        let text = self.redactor.apply(text);
        let r = self.inner.update_message(channel, ts, &text).await;
        self.count("chat.update", r)
    }

    async fn post_ephemeral(
        &self,
        channel: &str,
        user: &str,
        thread_ts: Option<&str>,
        text: &str,
    ) -> Result<(), ChatError> {
        let text = self.redactor.apply(text);
        let r = self
            .inner
            .post_ephemeral(channel, user, thread_ts, &text)
            .await;
        self.count("chat.postEphemeral", r)
    }

    async fn add_reaction(&self, channel: &str, ts: &str, name: &str) -> Result<(), ChatError> {
        let r = self.inner.add_reaction(channel, ts, name).await;
        self.count("reactions.add", r)
    }

    async fn thread_messages(
        &self,
        channel: &str,
        thread_ts: &str,
    ) -> Result<Vec<ChatMessage>, ChatError> {
        let r = self.inner.thread_messages(channel, thread_ts).await;
        self.count("conversations.replies", r)
    }

    async fn user(&self, user: &str) -> Result<UserInfo, ChatError> {
        // Cached below; only the lookups that reach Slack would be calls, so this is not counted.
        self.inner.user(user).await
    }

    async fn permalink(&self, channel: &str, ts: &str) -> Result<String, ChatError> {
        let r = self.inner.permalink(channel, ts).await;
        self.count("chat.getPermalink", r)
    }

    async fn channel(&self, channel: &str) -> Result<super::ChannelInfo, ChatError> {
        // Cached below, like `user`.
        self.inner.channel(channel).await
    }

    async fn publish_home(&self, user: &str, sections: &[String]) -> Result<(), ChatError> {
        let sections: Vec<String> = sections
            .iter()
            .map(|s| self.redactor.apply(s).into_owned())
            .collect();
        let r = self.inner.publish_home(user, &sections).await;
        self.count("views.publish", r)
    }
}
