"""Drives threadwork's Slack emulator with Slack's official Python SDK (slack_sdk).

If the emulator answers the SDK's WebClient and SocketModeClient the way Slack does, it is
faithful to Slack and not only to our bot. Run by tests/slack_sdk.rs; prints
'sdk: N passed, 0 failed' and exits non-zero on the first broken expectation.
"""

import json
import os
import re
import threading
import time
import urllib.request

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

API = os.environ["SLACK_API_URL"].rstrip("/") + "/"
CONTROL = os.environ["EMU_CONTROL_URL"].rstrip("/")
BOT_TOKEN = os.environ["SLACK_BOT_TOKEN"]
APP_TOKEN = os.environ["SLACK_APP_TOKEN"]
CHANNEL = "C0GENERAL1"
ALICE = "U0ALICE001"
TS = re.compile(r"^\d{10}\.\d{6}$")

passed = 0


def check(name, condition, detail=""):
    global passed
    if not condition:
        raise AssertionError(f"{name}: {detail}")
    passed += 1
    print(f"ok - {name}", flush=True)


def control(path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(CONTROL + path, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as res:
        return json.loads(res.read())


def api_error(call):
    try:
        call()
    except SlackApiError as e:
        return e
    return None


web = WebClient(token=BOT_TOKEN, base_url=API)

auth = web.auth_test()
check("auth.test names the bot", auth["ok"] and auth["user_id"].startswith("U") and auth["team_id"].startswith("T"))
bot_user = auth["user_id"]

posted = web.chat_postMessage(channel=CHANNEL, text="hello from the SDK")
check("chat.postMessage returns a Slack ts", TS.match(posted["ts"]), posted["ts"])
check("chat.postMessage echoes the message", posted["message"]["text"] == "hello from the SDK" and posted["channel"] == CHANNEL)

reply = web.chat_postMessage(channel=CHANNEL, text="a reply", thread_ts=posted["ts"])
thread = web.conversations_replies(channel=CHANNEL, ts=posted["ts"])
check("conversations.replies returns root and reply", [m["text"] for m in thread["messages"]] == ["hello from the SDK", "a reply"])
check("the root carries reply_count", thread["messages"][0].get("reply_count") == 1)
check("replies carry thread_ts", thread["messages"][1]["thread_ts"] == posted["ts"])

page = web.conversations_replies(channel=CHANNEL, ts=posted["ts"], limit=1)
check("pagination gives a next_cursor", page["has_more"] and page["response_metadata"]["next_cursor"])
rest = web.conversations_replies(channel=CHANNEL, ts=posted["ts"], limit=1, cursor=page["response_metadata"]["next_cursor"])
check("the cursor continues the thread", [m["text"] for m in rest["messages"]] == ["a reply"])

updated = web.chat_update(channel=CHANNEL, ts=posted["ts"], text="edited by the SDK")
check("chat.update changes the text", updated["text"] == "edited by the SDK" and updated["ts"] == posted["ts"])

check("reactions.add", web.reactions_add(channel=CHANNEL, name="eyes", timestamp=posted["ts"])["ok"])
e = api_error(lambda: web.reactions_add(channel=CHANNEL, name="eyes", timestamp=posted["ts"]))
check("a second reactions.add is already_reacted", e is not None and e.response["error"] == "already_reacted")
check("reactions.remove", web.reactions_remove(channel=CHANNEL, name="eyes", timestamp=posted["ts"])["ok"])

user = web.users_info(user=ALICE)
check("users.info", user["user"]["name"] == "alice" and user["user"]["profile"]["real_name"])
e = api_error(lambda: web.users_info(user="U404"))
check("users.info of a stranger is user_not_found", e is not None and e.response["error"] == "user_not_found")

link = web.chat_getPermalink(channel=CHANNEL, message_ts=reply["ts"])
check("chat.getPermalink", f"/archives/{CHANNEL}/p" in link["permalink"] and "thread_ts=" in link["permalink"])

eph = web.chat_postEphemeral(channel=CHANNEL, user=ALICE, text="only for alice")
check("chat.postEphemeral returns message_ts", TS.match(eph["message_ts"]))

home = web.views_publish(user_id=ALICE, view={"type": "home", "blocks": [
    {"type": "section", "text": {"type": "mrkdwn", "text": "*hello* from the SDK"}}]})
check("views.publish returns the stored view", home["view"]["type"] == "home" and home["view"]["id"].startswith("V")
      and home["view"]["blocks"][0]["text"]["text"] == "*hello* from the SDK")
shown = control(f"/_emu/home?user={ALICE}")["view"]
check("the Home tab is what was published", shown["blocks"] == home["view"]["blocks"])
e = api_error(lambda: web.views_publish(user_id=ALICE, view={"type": "modal", "blocks": []}))
check("views.publish refuses a non-home view", e is not None and e.response["error"] == "invalid_arguments")

e = api_error(lambda: web.chat_postMessage(channel="C404", text="x"))
check("unknown channel is channel_not_found", e is not None and e.response["error"] == "channel_not_found")
e = api_error(lambda: web.chat_postMessage(channel=CHANNEL, text="x" * 40001))
check("40,001 characters is msg_too_long", e is not None and e.response["error"] == "msg_too_long")
e = api_error(lambda: WebClient(token="xoxb-wrong", base_url=API).auth_test())
check("a wrong token is invalid_auth", e is not None and e.response["error"] == "invalid_auth")
e = api_error(lambda: WebClient(token=APP_TOKEN, base_url=API).chat_postMessage(channel=CHANNEL, text="x"))
check("an app token cannot post", e is not None and e.response["error"] == "not_allowed_token_type")

control("/_emu/ratelimited", {"method": "chat.postMessage", "count": 1, "retry_after": 1})
e = api_error(lambda: web.chat_postMessage(channel=CHANNEL, text="too fast"))
check("a 429 is ratelimited with Retry-After", e is not None and e.response.status_code == 429
      and e.response["error"] == "ratelimited" and e.response.headers.get("Retry-After") in ("1", ["1"]))
control("/_emu/ratelimited", {"method": "chat.postMessage", "count": 1, "retry_after": 1})
patient = WebClient(token=BOT_TOKEN, base_url=API, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)])
started = time.time()
check("the SDK's retry handler waits out Retry-After", patient.chat_postMessage(channel=CHANNEL, text="patient")["ok"]
      and time.time() - started >= 0.9)

# Socket Mode with the SDK's own client.
received = []
lock = threading.Lock()


def on_request(client: SocketModeClient, req: SocketModeRequest):
    client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
    with lock:
        received.append(req)


sm = SocketModeClient(app_token=APP_TOKEN, web_client=WebClient(base_url=API), auto_reconnect_enabled=True,
                      ping_interval=2)
sm.socket_mode_request_listeners.append(on_request)
sm.connect()


def wait_for(pred, what, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with lock:
            found = [r for r in received if pred(r)]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; received {[r.payload.get('event', {}).get('type') for r in received]}")


deadline = time.time() + 30
while not sm.is_connected() and time.time() < deadline:
    time.sleep(0.05)
check("SocketModeClient connects", sm.is_connected())
while control("/_emu/stats")["connections"] < 1 and time.time() < deadline:
    time.sleep(0.05)

control("/_emu/post", {"user": "alice", "channel": "general", "text": f"<@{bot_user}> hi from socket mode"})
mention = wait_for(lambda r: r.type == "events_api" and r.payload["event"]["type"] == "app_mention", "an app_mention")
check("events_api envelope shape", mention.envelope_id and mention.payload["type"] == "event_callback"
      and mention.payload["event_id"].startswith("Ev") and mention.retry_attempt == 0)
check("the app_mention event carries user, text, ts, channel",
      mention.payload["event"]["user"] == ALICE and "hi from socket mode" in mention.payload["event"]["text"]
      and TS.match(mention.payload["event"]["ts"]) and mention.payload["event"]["channel"] == CHANNEL)
wait_for(lambda r: r.type == "events_api" and r.payload["event"]["type"] == "message"
         and "hi from socket mode" in r.payload["event"].get("text", ""), "the message event")
check("the message event arrives too", True)

# Every envelope sent is acked by the SDK's own ack frames (waited for, not slept on: a slow
# ack is not a failure; the emulator's ack timeout is long enough that it is not redelivered).
deadline = time.time() + 30
while time.time() < deadline:
    stats = control("/_emu/stats")["stats"]
    if stats["acks"] >= 2 and stats["acks"] == stats["envelopes_sent"]:
        break
    time.sleep(0.05)
check("the SDK's acks are counted; nothing redelivered or undelivered",
      stats["acks"] >= 2 and stats["acks"] == stats["envelopes_sent"]
      and stats["redeliveries"] == 0 and stats["undelivered"] == 0, stats)
with lock:
    ids = [r.payload["event_id"] for r in received if r.type == "events_api"]
check("each event reached the SDK once", len(ids) >= 2 and len(ids) == len(set(ids)), ids)

opened = control("/_emu/stats")["stats"]["connections_opened"]
control("/_emu/disconnect", {"reason": "refresh_requested"})
deadline = time.time() + 30
while control("/_emu/stats")["stats"]["connections_opened"] <= opened and time.time() < deadline:
    time.sleep(0.05)
control("/_emu/post", {"user": "bob", "channel": "general", "text": f"<@{bot_user}> after the refresh"})
after = wait_for(lambda r: r.type == "events_api" and "after the refresh" in r.payload["event"].get("text", ""),
                 "an event after a disconnect", timeout=30)
check("the SDK reconnects after a disconnect message and gets events", after is not None)

control("/_emu/home", {"user": "alice"})
opened = wait_for(lambda r: r.type == "events_api" and r.payload["event"]["type"] == "app_home_opened", "app_home_opened")
check("app_home_opened carries user and tab", opened.payload["event"]["user"] == ALICE and opened.payload["event"]["tab"] == "home")

sm.close()
print(f"sdk: {passed} passed, 0 failed", flush=True)
