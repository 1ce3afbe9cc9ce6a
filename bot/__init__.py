"""talkbot's surfaces: the command line now; Slack and the digests build on the same core."""
