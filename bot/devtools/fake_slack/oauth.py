"""Slack's side of an OAuth install, for several workspaces: consent, codes, tokens, refresh tokens."""

from __future__ import annotations

import secrets
import time
from http import HTTPStatus
from urllib.parse import urlencode

from bot.devtools.fake_slack.records import Workspace, _client_credentials, _error, _Reply, _Token


class OAuthMethods:
    """Slack's side of OAuth: the consent page and oauth.v2.access (codes, token rotation)."""

    def _authorize(self, params: dict) -> _Reply:
        """Slack's consent page, approved at once for the signed-in workspace: back to the app with a code."""
        redirect_url = params.get("redirect_uri") or self.redirect_url
        if params.get("client_id") != self.client_id or self._signed_in is None or not redirect_url:
            return _Reply(_error("invalid_authorize_request"), HTTPStatus.BAD_REQUEST)
        code = secrets.token_hex(8)
        scopes = tuple(scope for scope in params.get("scope", "").split(",") if scope) or self.bot_scopes
        with self._changed:
            self._codes[code] = (self._signed_in, scopes)
        location = f"{redirect_url}?{urlencode({'code': code, 'state': params.get('state', '')})}"
        return _Reply({"ok": True}, HTTPStatus.FOUND, {"Location": location})

    def _oauth_v2_access(self, params: dict, headers: dict) -> dict:
        """Trade a code (or, with token rotation, a refresh token) for a new bot token of the workspace.

        Errors as the method reference lists them: invalid_client_id, bad_client_secret, invalid_grant_type,
        invalid_code, invalid_refresh_token. Field names as slack_sdk's TokenRotator and bolt's OAuthFlow read them
        (access_token, refresh_token, expires_in, token_type "bot", bot_user_id, scope, team, enterprise)."""
        client_id, client_secret = _client_credentials(params, headers)
        if client_id != self.client_id:
            return _error("invalid_client_id")
        if client_secret != self.client_secret:
            return _error("bad_client_secret")
        grant_type = params.get("grant_type") or "authorization_code"
        if grant_type == "refresh_token":
            granted = self._refresh_tokens.pop(params.get("refresh_token", ""), None)
            if granted is None or params.get("refresh_token") in self._revoked:
                return _error("invalid_refresh_token")
        elif grant_type == "authorization_code":
            granted = self._codes.pop(params.get("code", ""), None)
            if granted is None:
                return _error("invalid_code")
        else:
            return _error("invalid_grant_type")
        workspace, scopes = granted
        enterprise = {"id": workspace.enterprise_id, "name": "Grid"} if workspace.enterprise_id else None
        answer = {
            "ok": True, "app_id": "ATALKBOT", "scope": ",".join(scopes), "token_type": "bot",
            "access_token": self._issue_token(workspace, scopes), "bot_user_id": workspace.bot_user_id,
            "team": {"id": workspace.team_id, "name": workspace.team_id}, "enterprise": enterprise,
            "is_enterprise_install": False,
        }  # fmt: skip
        if grant_type == "authorization_code":
            answer["authed_user"] = {"id": workspace.installer_id}
        if self.token_rotation:
            refresh_token = f"xoxe-1-{secrets.token_hex(24)}"
            self._refresh_tokens[refresh_token] = (workspace, scopes)
            answer.update(refresh_token=refresh_token, expires_in=int(self.token_lifetime.total_seconds()))
        return answer

    def _issue_token(self, workspace: Workspace, scopes: tuple[str, ...]) -> str:
        if self.token_rotation:
            token = f"xoxe.xoxb-1-{secrets.token_hex(24)}"
            self._tokens[token] = _Token(workspace, scopes, time.time() + self.token_lifetime.total_seconds())
        else:
            token = f"xoxb-{workspace.team_id}-{secrets.token_hex(12)}"
            self._tokens[token] = _Token(workspace, scopes)
        return token
