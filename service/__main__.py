"""``python -m service``: serve the API with uvicorn on PORT (default 8080), in
WEB_CONCURRENCY worker processes (default 1; one per core on a VM)."""

from __future__ import annotations

import logging
import os

import uvicorn

from service import telemetry
from service.config import Settings


def main() -> None:
    telemetry.configure_logging()
    settings = Settings.from_env()  # fail here, once, on a bad configuration
    logging.getLogger("service").info("stage %d, capabilities %s", settings.stage, settings.capabilities())
    uvicorn.run(
        "service.app:create_app_from_env",
        factory=True,
        host="0.0.0.0",
        port=settings.port,
        workers=int(os.environ.get("WEB_CONCURRENCY") or 1),
        loop="uvloop",
        http="httptools",
        proxy_headers=True,
        server_header=False,
        access_log=False,
        # Uvicorn's own loggers then go through the JSON handler above.
        log_config=None,
    )


if __name__ == "__main__":
    main()
