"""docs/interfaces.md lists every route of the API's route table, so the document cannot fall behind the code."""

from __future__ import annotations

from pathlib import Path

from inbox.routes import DEMO_ENDPOINTS, ENDPOINTS

DOC = (Path(__file__).resolve().parent.parent / "docs" / "interfaces.md").read_text()


def test_every_api_route_is_in_the_interfaces_document():
    # A route is named in backticks, alone or with its query string: `GET /api/v1/clients?search=`.
    missing = [f"{e.method} {e.path}" for e in ENDPOINTS + DEMO_ENDPOINTS
               if f"`{e.method} {e.path}`" not in DOC and f"`{e.method} {e.path}?" not in DOC]
    assert not missing, missing
