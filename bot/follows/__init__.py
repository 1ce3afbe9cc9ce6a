"""Follows: `/talk follow …` and the DMs an import sends followers."""
