"""Bolt listeners, one module per kind of Slack request; each module's `register(app, services)` adds its own."""
