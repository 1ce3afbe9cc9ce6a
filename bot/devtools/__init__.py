"""Development tools: a fake Slack as strict as Slack, payload builders, the local console. Tests and local use only:
production code never imports this package (`talkbot console` loads the console lazily)."""
