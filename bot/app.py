"""The Slack app: a Bolt `App` whose listeners (bot/listeners/) ack at once and hand the work to bot/answers.py."""

from __future__ import annotations

from slack_bolt import App

from bot.installations import NOT_INSTALLED_MESSAGE
from bot.installations.clients import web_client
from bot.listeners import actions, commands, events, home, shortcuts
from bot.services import Services


def create_app(services: Services) -> App:
    """Token mode for one workspace; with OAuth settings, any workspace that installs talkbot."""
    settings, installations = services.settings, services.installations
    # Socket Mode needs no signing secret; HTTP mode requires one (bot/server/) and verifies every request.
    app = App(
        # Ack from the request thread the moment a request is verified; the answer is worked out afterwards
        # (bot/listeners/errors.py), so a burst of requests never waits for earlier answers to be acked.
        process_before_response=True,
        client=web_client(settings, settings.bot_token),
        signing_secret=settings.signing_secret,
        request_verification_enabled=bool(settings.signing_secret),
        oauth_settings=installations.oauth_settings() if installations else None,
        user_facing_authorize_error_message=NOT_INSTALLED_MESSAGE,
    )
    for listeners in (commands, actions, events, home, shortcuts):
        listeners.register(app, services)
    return app
