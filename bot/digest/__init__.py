"""Talk of the week: channel subscriptions, the pick, and posting each period's digest exactly once."""
