"""Test support: talkbot's real Slack app run in the test process (talkbot_app) and the CLI called in-process (cli)."""
