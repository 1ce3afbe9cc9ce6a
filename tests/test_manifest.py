"""The shipped Slack app manifest declares what the app's listeners need."""

from pathlib import Path

import yaml

from bot.installations import BOT_SCOPES, REDIRECT_PATH
from bot.listeners.shortcuts import FIND_TALKS_ABOUT_THIS, SEARCH_TALKS

MANIFEST = yaml.safe_load((Path(__file__).resolve().parents[1] / "manifest.yml").read_text())


def test_manifest_declares_the_command_events_scopes_home_tab_and_interactivity():
    [command] = MANIFEST["features"]["slash_commands"]
    assert command["command"] == "/talk" and "speaker:" in command["usage_hint"]
    assert set(MANIFEST["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_home_opened", "app_mention", "message.im", "app_uninstalled", "tokens_revoked", "link_shared",
    }  # fmt: skip
    # Exactly what the listeners call (each justified in the README, tested below); nothing requested "just in case".
    assert set(MANIFEST["oauth_config"]["scopes"]["bot"]) == {
        "commands", "chat:write", "app_mentions:read", "im:history", "users:read", "channels:history",
        "groups:history", "channels:read", "groups:read", "links:read", "links:write",
    }  # fmt: skip
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True
    urls = {command["url"], MANIFEST["settings"]["interactivity"]["request_url"],
            MANIFEST["settings"]["interactivity"]["message_menu_options_url"],
            MANIFEST["settings"]["event_subscriptions"]["request_url"]}  # fmt: skip
    assert urls == {"https://YOUR-HOST/slack/events"}


def test_the_readme_says_why_each_scope_is_there():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    justified = {
        scope for row in readme.splitlines() if row.startswith("| `") for scope in row.split("|")[1].split("`")[1::2]
    }

    assert justified == set(MANIFEST["oauth_config"]["scopes"]["bot"])


def test_oauth_installs_ask_for_exactly_the_scopes_the_manifest_declares():
    assert sorted(BOT_SCOPES) == sorted(MANIFEST["oauth_config"]["scopes"]["bot"])
    assert MANIFEST["oauth_config"]["redirect_urls"] == [f"https://YOUR-HOST{REDIRECT_PATH}"]


def test_the_shortcuts_are_declared_with_the_callback_ids_talkbot_listens_for():
    declared = {(s["type"], s["callback_id"], s["name"]) for s in MANIFEST["features"]["shortcuts"]}
    assert declared == {("message", FIND_TALKS_ABOUT_THIS, "Find talks about this"),
                        ("global", SEARCH_TALKS, "Search talks")}  # fmt: skip
    assert all(0 < len(shortcut["description"]) <= 80 for shortcut in MANIFEST["features"]["shortcuts"])


def test_unfurl_domains_are_listed_for_link_shared():
    domains = MANIFEST["features"]["unfurl_domains"]
    assert domains and len(domains) <= 5 and all("/" not in domain for domain in domains)
