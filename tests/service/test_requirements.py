"""The suite errors, rather than skips, when MariaDB or Redis is not there."""

from __future__ import annotations

import pytest

from service.run_local import free_port
from tests.service.conftest import MYSQL_PORT, REDIS_PORT, require_local_servers


@pytest.mark.parametrize("missing", ["mariadb", "redis"])
def test_a_missing_server_fails_the_run_instead_of_skipping(missing: str) -> None:
    closed = free_port()
    ports = (closed, REDIS_PORT) if missing == "mariadb" else (MYSQL_PORT, closed)
    with pytest.raises(pytest.fail.Exception, match="must be running") as raised:
        require_local_servers(*ports)
    assert not isinstance(raised.value, pytest.skip.Exception)
