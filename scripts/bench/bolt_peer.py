"""The benchmark's peer: what a team would otherwise write, a minimal Bolt for Python app in
Socket Mode. For a mention it does the same visible work as threadwork's first step: ack
(Bolt does it), add 👀 to the mention, and reply once in the thread. Other messages are acked
and ignored. Pointed at the Slack emulator by SLACK_API_URL; started by `threadwork bench slack`.
"""

import logging
import os

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient

logging.basicConfig(level=logging.WARNING)

client = WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"].rstrip("/") + "/")
app = App(client=client)


@app.event("app_mention")
def on_mention(event, client):
    client.reactions_add(channel=event["channel"], timestamp=event["ts"], name="eyes")
    client.chat_postMessage(
        channel=event["channel"],
        thread_ts=event.get("thread_ts") or event["ts"],
        text="On it.",
    )


@app.event("message")
def on_message():
    pass


if __name__ == "__main__":
    print("peer: connecting", flush=True)
    SocketModeHandler(app, os.environ["SLACK_APP_TOKEN"]).start()
