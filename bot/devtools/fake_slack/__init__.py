"""A local fake of the Slack Web API, so the test-suite and `talkbot console` run talkbot without reaching Slack.

Point slack_sdk at it with `WebClient(base_url=fake.api_url)` (or `SLACK_API_URL=fake.api_url`): it serves plain HTTP on
127.0.0.1, records every call, keeps the messages the bot posts and answers the methods talkbot uses the way Slack does.
Any other method answers `{"ok": true}`, so new features work against the fake before it models them.

It is as strict as Slack about what it is sent: messages, views and response_url posts that Slack would refuse
(malformed or over-long blocks, duplicate ids, too many blocks, no fallback text) are refused with Slack's own error,
and the refused call is recorded too (`SlackCall.error`), so a test sees both what talkbot sent and what Slack said.

It also plays Slack's side of OAuth for several workspaces: `sign_in()` picks the workspace a browser approves an
install for, `/oauth/v2/authorize` redirects back with a code, `oauth.v2.access` trades it for that workspace's own
bot token (with token rotation, an expiring `xoxe.xoxb-` token and a refresh token), and every call made with a token
is answered as that workspace (`revoke_tokens()` and `expire_tokens()` make them fail).

Where each Slack behaviour modelled here was checked is noted beside it; "talkbot policy" marks the few places where
the fake is deliberately stricter than Slack.
"""

from bot.devtools.fake_slack.block_kit import block_kit_problems
from bot.devtools.fake_slack.fake import FakeSlack
from bot.devtools.fake_slack.records import MAX_MESSAGE_TEXT, SlackCall, Workspace

__all__ = ["MAX_MESSAGE_TEXT", "FakeSlack", "SlackCall", "Workspace", "block_kit_problems"]
