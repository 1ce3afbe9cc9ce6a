"""How the fake Slack should behave next: planned failures, users, channels, workspaces and their tokens."""

from __future__ import annotations

import copy
import json
import re
import secrets
import time
from http import HTTPStatus
from urllib.parse import urlsplit

from bot.devtools.fake_slack.block_kit import _view_refusal
from bot.devtools.fake_slack.records import (
    DEFAULT_TZ,
    RESPONSE_URL_METHOD,
    SlackCall,
    Workspace,
    _Channel,
    _error,
    _Reply,
    _Token,
    _user,
)


class SlackScenarios:
    """What a test or the console sets up: Slack's answers to come, and the workspace the bot finds."""

    def fail_next(self, method: str, error: str, times: int = 1) -> None:
        """Make the next `times` calls to `method` fail the way Slack reports errors: HTTP 200 with ok=false (for
        "response_url", the way webhooks do: HTTP 400 with the bare code)."""
        if method == RESPONSE_URL_METHOD:
            self._plan(method, _Reply(error, HTTPStatus.BAD_REQUEST), times)
        else:
            self._plan(method, _Reply(_error(error)), times)

    def rate_limit_next(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """Make the next `times` calls to `method` answer HTTP 429 with Retry-After, as Slack's rate limiter does."""
        rate_limited = _error("ratelimited")
        self._plan(method, _Reply(rate_limited, HTTPStatus.TOO_MANY_REQUESTS, {"Retry-After": str(retry_after)}), times)

    def drop_next_connection(self, method: str, times: int = 1) -> None:
        """Read the next `times` requests for `method` (a Web API method, or "response_url"), record them, and close
        the connection without answering: what slack_sdk sees of a network drop (`RemoteDisconnected`, a
        `ConnectionResetError`), the case `ConnectionErrorRetryHandler` retries. The dropped request is not acted on."""
        with self._changed:
            self._drops[method] += times

    def _plan(self, method: str, reply: _Reply, times: int) -> None:
        with self._changed:
            self._planned_replies[method].extend([reply] * times)

    def post_links(
        self, channel: str, text: str, *, user_id: str, domains: tuple[str, ...] = (),
        source: str = "conversations_history",
    ) -> dict:  # fmt: skip
        """A person posts `text` in `channel` (or, with source "composer", is still typing it): the message is kept
        (for chat.unfurl's checks) and the `link_shared` event Slack would send is returned, listing the text's links
        whose host is one of `domains` (the manifest's unfurl_domains, subdomains included; empty: every link)."""
        from bot.devtools.slack_payloads import link_shared, new_ts  # the payload shapes live there

        urls = [url for url in _LINK.findall(text) if _unfurled_domain(url, domains)]
        with self._changed:
            ts = new_ts() if source == "composer" else self._next_ts()
            if source != "composer":
                self._messages[channel].append(
                    {
                        "ts": ts,
                        "channel": channel,
                        "text": text,
                        "blocks": None,
                        "thread_ts": None,
                        "metadata": None,
                        "user": user_id,
                        "bot_id": None,
                    }  # fmt: skip
                )
            unfurl_id = f"{channel}.{ts}.{secrets.token_hex(16)}"
            self._unfurl_ids[unfurl_id] = (channel, ts, source, tuple(urls))
        return link_shared(urls, user_id=user_id, channel_id=channel, message_ts=ts, unfurl_id=unfurl_id, source=source)

    def unfurls_of(self, channel: str, ts: str) -> dict:
        """What chat.unfurl attached to a posted message, by URL (the latest call for a URL wins, as in Slack)."""
        with self._changed:
            return copy.deepcopy(self._unfurls.get((channel, ts), {}))

    def set_user(self, user_id: str, *, tz: str = DEFAULT_TZ, name: str | None = None, is_admin: bool = False) -> None:
        """Set what users.info returns for `user_id` (users never set get the defaults)."""
        with self._changed:
            self._users[user_id] = _user(user_id, tz=tz, name=name, is_admin=is_admin)

    def sign_in(self, workspace: Workspace) -> None:
        """The workspace (and installing user) the browser is signed in to: OAuth consent installs talkbot there."""
        with self._changed:
            self._signed_in = workspace

    def revoke_tokens(self, team_id: str) -> None:
        """Revoke every token issued to a workspace (as uninstalling does); calls with them fail."""
        with self._changed:
            self._revoked |= {token for token, issued in self._tokens.items() if issued.workspace.team_id == team_id}
            self._revoked |= {token for token, (ws, _) in self._refresh_tokens.items() if ws.team_id == team_id}

    def expire_tokens(self, team_id: str) -> None:
        """Make a workspace's current access tokens expired now (calls answer token_expired); a refresh token still
        trades for a new one. For tests of token rotation, without waiting out `token_lifetime`."""
        now = time.time()
        with self._changed:
            for issued in self._tokens.values():
                if issued.workspace.team_id == team_id:
                    issued.expires_at = min(issued.expires_at or now, now)

    def tokens_of(self, team_id: str) -> list[str]:
        """The access tokens issued to a workspace, oldest first."""
        with self._changed:
            return [token for token, issued in self._tokens.items() if issued.workspace.team_id == team_id]

    def bot_user_of(self, team_id: str) -> str:
        """talkbot's bot user id in a workspace: the one its install created, else the default `bot_user_id`."""
        with self._changed:
            issued = [token.workspace for token in self._tokens.values() if token.workspace.team_id == team_id]
        return issued[-1].bot_user_id if issued else self.bot_user_id

    def refresh_tokens_of(self, team_id: str) -> list[str]:
        """The refresh tokens issued to a workspace that have not been used yet (token rotation)."""
        with self._changed:
            return [token for token, (workspace, _) in self._refresh_tokens.items() if workspace.team_id == team_id]

    def set_channel_members(self, channel: str, user_ids: list[str]) -> None:
        """Who is in a channel, for users.conversations, conversations.members and conversations.info's `is_member`.
        The bot is a member only if its user id (`bot_user_id`, or the workspace's) is in `user_ids`. A channel not
        described with set_channel() is a public channel."""
        with self._changed:
            self._channel_members[channel] = set(user_ids)
            self._channels.setdefault(channel, _Channel(channel, channel.lower(), "public"))

    def set_channel(
        self, channel: str, *, name: str | None = None, is_private: bool = False, is_mpim: bool = False,
        is_im: bool = False, is_archived: bool = False, topic: str = "", purpose: str = "", user: str | None = None,
    ) -> None:  # fmt: skip
        """Describe a conversation for conversations.info and the listing methods: a private channel, a group DM
        (mpim), or a DM with `user` (talkbot is always the other side of a DM)."""
        kind = "im" if is_im else "mpim" if is_mpim else "private" if is_private else "public"
        default_name = {"im": user or "", "mpim": f"mpdm-{channel.lower()}-1"}.get(kind, channel.lower())
        with self._changed:
            self._channels[channel] = _Channel(
                channel, name or default_name, kind, is_archived=is_archived, topic=topic, purpose=purpose, user=user
            )
            self._channel_members.setdefault(channel, set())
            if user:
                self._channel_members[channel].add(user)

    def view(self, view_id: str) -> dict:
        """A view as Slack holds it now (opened with views.open, changed by views.update or a response_action)."""
        with self._changed:
            return copy.deepcopy(self._views[view_id])

    def answer_view_submission(self, view_id: str, ack_body: str) -> dict | None:
        """Act on the app's answer to a view_submission as Slack does: `{"response_action": "update", "view": …}`
        replaces the modal (a new hash; the view checked like views.update's), `push` stacks a new one, `errors`
        leaves it open with the messages beside their blocks (each key must be an input block's block_id), `clear`
        or an empty answer closes it.
        Recorded as a call to `view_submission`; returns the errors shown, or None."""
        answer = json.loads(ack_body) if ack_body.strip() else {}
        with self._changed:
            current = self._views[view_id]
            reply: dict = {"ok": True}
            action = answer.get("response_action")
            if action == "update":
                reply = _view_refusal(answer.get("view")) or reply
                if reply["ok"]:
                    token = _Token(Workspace(current["team_id"], bot_id=current["bot_id"]), ())
                    self._views[view_id] = self._view_object({**answer["view"], "id": view_id}, token)
            elif action == "errors":
                inputs = {block.get("block_id") for block in current["blocks"] if block.get("type") == "input"}
                errors = answer.get("errors")
                if not isinstance(errors, dict) or not errors or not set(errors) <= inputs:
                    reply = _error("invalid_arguments")  # Slack shows the person "We had some trouble connecting"
            elif action == "push":  # a new modal on top: checked like views.push
                reply = _view_refusal(answer.get("view")) or reply
                if reply["ok"]:
                    token = _Token(Workspace(current["team_id"], bot_id=current["bot_id"]), ())
                    pushed = self._view_object(answer["view"], token)
                    self._views[pushed["id"]] = pushed
            elif action not in (None, "clear") or (action is None and answer):
                reply = _error("invalid_arguments")
            else:
                del self._views[view_id]  # closed ("clear" closes the whole stack; talkbot opens one modal)
            self._record(SlackCall("view_submission", answer, {}, error=reply.get("error"), answer=reply))
            return answer.get("errors") if action == "errors" and reply["ok"] else None

    def set_page_size_cap(self, size: int | None) -> None:
        """Pages of users.conversations / conversations.members hold at most `size` items whatever `limit` asks, as
        Slack's may ("Fewer than the requested number of items may be returned, even if the end of the list hasn't
        been reached"); None lifts the cap."""
        with self._changed:
            self._page_size_cap = size


_LINK = re.compile(r"https?://[^|>\s<]+")  # a link in message text: bare, <URL> or <URL|label>


def _unfurled_domain(url: str, domains: tuple[str, ...]) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return not domains or any(host == domain or host.endswith("." + domain) for domain in domains)
