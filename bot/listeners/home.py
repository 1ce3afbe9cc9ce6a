"""App Home: the saved talks and the digests of the channels the user is in."""

from __future__ import annotations

from slack_bolt import App
from slack_sdk import WebClient

from bot.answers import Answers
from bot.listeners.errors import after_ack
from bot.listeners.slack_reads import channels_of
from bot.services import Services


def register(app: App, services: Services) -> None:
    @after_ack(services.sessions)(app.event("app_home_opened"))
    def home_opened(event: dict, body: dict, client: WebClient) -> None:
        if event.get("tab", "home") == "home":
            publish_home(client, services.answers, body.get("team_id", ""), event["user"])


def publish_home(client: WebClient, answers: Answers, team_id: str, user_id: str) -> None:
    """The Home tab, with the digests of the channels the user is in (none if Slack will not list them)."""
    client.views_publish(user_id=user_id, view=answers.home(team_id, user_id, channels_of(client, user_id)))
