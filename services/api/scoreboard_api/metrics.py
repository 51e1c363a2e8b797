"""The api's own Prometheus metrics (docs/architecture.md). Labels never carry a user or IP."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

SCORE_WRITES = Counter(
    "scoreboard_score_writes_total", "Accepted (committed) score submissions.", ["board"]
)
SCORE_POINTS = Counter("scoreboard_score_points_total", "Points added.", ["board"])
SCORE_REPLAYS = Counter(
    "scoreboard_score_replays_total", "Submissions answered as idempotent replays.", ["board"]
)
RATE_LIMITED = Counter(
    "scoreboard_rate_limited_total", "Requests refused by a rate limit.", ["board", "scope"]
)
FRAUD_HITS = Counter("scoreboard_fraud_hits_total", "Fraud rule hits.", ["board", "rule", "action"])
AUTH_FAILURES = Counter(
    "scoreboard_auth_failures_total", "Refused credentials by reason.", ["reason"]
)
PASSWORD_REHASHES = Counter(
    "scoreboard_password_rehashes_total",
    "Stored password hashes replaced on sign-in because the configured argon2 cost changed.",
)
CACHE_REQUESTS = Counter("scoreboard_cache_requests_total", "Cache lookups.", ["cache", "result"])
BOARD_REBUILDS = Counter(
    "scoreboard_board_rebuilds_total",
    "Boards whose Redis state this replica rebuilt from PostgreSQL, by why: created, reset, "
    "missing (its keys vanished or hold an older season) or dirty (a Redis update failed). "
    "A steady rate of missing or dirty means Redis keeps losing data or failing writes.",
    ["board", "reason"],
)
BOARD_PLAYERS = Gauge("scoreboard_board_players", "Players on the board.", ["board"])
BOARD_TOP_SCORE = Gauge("scoreboard_board_top_score", "Highest total on the board.", ["board"])
DB_POOL_EXHAUSTED = Counter(
    "scoreboard_db_pool_exhausted_total",
    "Requests that got no PostgreSQL connection within DB_POOL_ACQUIRE_TIMEOUT_SECONDS (503).",
)
WRITE_BATCH_SIZE = Histogram(
    "scoreboard_write_batch_size",
    "Submissions per group commit (stage=commit) and script calls per Redis pipeline "
    "(stage=redis) on the write path: small batches under load mean more CPU per write.",
    ["stage"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
