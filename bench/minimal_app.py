"""The read-path baselines: Litestar's own minimal JSON endpoint, served exactly like the api
(``python -m bench.minimal_app --app NAME``: the api CLI's uvicorn settings), so a ratio isolates
the api's own cost.

* ``bare``: the endpoint alone.
* ``request_context``: with the api's request-context middleware alone (request id, client IP,
  security headers, access log), ``metrics``: with the HTTP metrics middleware alone (what
  realtime runs), to price each.
* ``middleware``: with the same middleware as the api (request context recording the metrics).
"""

from __future__ import annotations

import argparse
from typing import Any

from litestar import Litestar, get
from scoreboard_api.http.middleware import RequestContextMiddleware
from scoreboard_common.gc_tuning import settle_heap
from scoreboard_common.metrics import HttpMetrics, HttpMetricsMiddleware


@get("/minimal", sync_to_thread=False)
def minimal() -> dict[str, object]:
    return {"leaderboard": "bench", "entries": [{"rank": 1, "user_id": "u", "score": 1}]}


@get("/healthz", sync_to_thread=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _litestar() -> Litestar:
    # settle_heap after start-up, as the api does (scoreboard_common.gc_tuning)
    return Litestar(
        [minimal, healthz], openapi_config=None, logging_config=None, on_startup=[settle_heap]
    )


def build(name: str) -> Any:
    if name == "bare":
        return _litestar()
    if name == "request_context":
        return RequestContextMiddleware(_litestar(), ())
    if name == "metrics":
        return HttpMetricsMiddleware(_litestar(), "api")
    if name == "middleware":  # as scoreboard_api.app.create_app stacks them
        return RequestContextMiddleware(_litestar(), (), metrics=HttpMetrics("api"))
    raise ValueError(name)


APPS = ("bare", "request_context", "metrics", "middleware")
app = _litestar()  # `uvicorn bench.minimal_app:app`


def main() -> None:
    import uvicorn
    from scoreboard_common.http_server import GuardedHttpToolsProtocol
    from scoreboard_common.logs import configure_logging

    parser = argparse.ArgumentParser(prog="python -m bench.minimal_app")
    parser.add_argument("--app", choices=APPS, default="bare")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    configure_logging(args.log_level, "baseline")
    uvicorn.run(
        build(args.app),
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http=GuardedHttpToolsProtocol,
        proxy_headers=False,
        server_header=False,
        access_log=False,
        log_config=None,
    )


if __name__ == "__main__":
    main()
