"""Seed compatibility (DESIGN §3 "Seed compatibility"): the routes of the five original design
notes, each a thin mapping onto the v1 core on the board ``default``. One module per seed;
``update`` holds ``POST /api/scores/update``, which seeds 000, 003 and 004 share and which
tells their bodies apart by their members. Every write goes through ``services.scores.submit``.
"""

from __future__ import annotations

from scoreboard_api.http.seeds import seed000, seed001, seed002, seed003, seed004, update

ROUTES = [
    update.update_score,
    *seed000.ROUTES,
    *seed001.ROUTES,
    *seed002.ROUTES,
    *seed003.ROUTES,
    *seed004.ROUTES,
]
