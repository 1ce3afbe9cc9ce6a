"""The health check tells a load balancer whether this replica can reach its database."""

from bot.server import database_health
from db.config import sessions_for
from db.search.engine import SearchEngine


def test_health_is_ok_with_a_database_and_unavailable_without(migrated_database):
    assert database_health(SearchEngine(sessions_for(migrated_database))) == (True, "ok")
    unreachable = SearchEngine(sessions_for("postgresql+psycopg://nobody@127.0.0.1:9/none"))
    assert database_health(unreachable) == (False, "unavailable")
