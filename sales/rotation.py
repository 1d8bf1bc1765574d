"""Who may be auto-assigned, and the round-robin pick (SPEC §1.1 b, §1.8). Pure: no database here.

The rotation is a pointer over the member list ordered by employee id: the next pick is the first member after the
last one picked. A manager back from holiday simply rejoins the circle; nobody "catches up" (unlike lifetime
counters).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from storage.models import Role


@dataclass(frozen=True)
class Candidate:
    id: int
    role: Role
    active: bool
    away: bool
    excluded: bool
    open_orders: int = 0
    capacity: int | None = None

    @property
    def eligible(self) -> bool:
        # Admins are never auto-assigned; the owner only through the fallback.
        return self.active and self.role == Role.MANAGER and not self.away and not self.excluded

    @property
    def has_room(self) -> bool:
        return self.capacity is None or self.open_orders < self.capacity


def eligible_pool(candidates: Sequence[Candidate]) -> list[Candidate]:
    """The eligible members, in rotation order, narrowed to those with room while anyone has room."""
    eligible = sorted((c for c in candidates if c.eligible), key=lambda c: c.id)
    with_room = [c for c in eligible if c.has_room]
    # When everyone is full, capacity is ignored: an order is never left without a manager.
    return with_room or eligible


def pick_next(candidates: Sequence[Candidate], last_employee_id: int | None) -> Candidate | None:
    pool = eligible_pool(candidates)
    if not pool:
        return None
    if last_employee_id is not None:
        for candidate in pool:
            if candidate.id > last_employee_id:
                return candidate
    return pool[0]


def may_keep(candidate: Candidate, candidates: Sequence[Candidate]) -> bool:
    """Whether a client's previous manager may get his new order (sticky): eligible, and with room if anyone has."""
    return any(c.id == candidate.id for c in eligible_pool(candidates))
