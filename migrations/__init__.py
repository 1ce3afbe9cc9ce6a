"""Alembic migrations for the talkbot catalog (shipped with the package so a fresh install can migrate)."""
