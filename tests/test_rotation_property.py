"""Property tests of the rotation pick (SPEC §1.1 b, §1.8), on the same pure functions the database rule uses."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from sales.rotation import Candidate, eligible_pool, may_keep, pick_next
from storage.models import Role

ROLES = st.sampled_from([Role.MANAGER, Role.MANAGER, Role.MANAGER, Role.ADMIN, Role.OWNER])

candidate = st.builds(
    Candidate,
    id=st.integers(1, 40),
    role=ROLES,
    active=st.booleans(),
    away=st.booleans(),
    excluded=st.booleans(),
    open_orders=st.integers(0, 5),
    capacity=st.none() | st.integers(0, 5),
)
staff = st.lists(candidate, max_size=12, unique_by=lambda c: c.id)

# One step of the world between two order creations.
operation = st.one_of(
    st.tuples(st.just("create")),
    st.tuples(st.just("away"), st.integers(0, 11), st.booleans()),
    st.tuples(st.just("exclude"), st.integers(0, 11), st.booleans()),
    st.tuples(st.just("active"), st.integers(0, 11), st.booleans()),
    st.tuples(st.just("role"), st.integers(0, 11), ROLES),
    st.tuples(st.just("capacity"), st.integers(0, 11), st.none() | st.integers(0, 3)),
)


def ineligible(chosen: Candidate, everyone: list[Candidate]) -> bool:
    if not (chosen.active and chosen.role == Role.MANAGER and not chosen.away and not chosen.excluded):
        return True
    someone_has_room = any(c.eligible and c.has_room for c in everyone)
    return someone_has_room and not chosen.has_room


def apply(world: list[Candidate], op: tuple) -> list[Candidate]:
    if op[0] == "create" or not world:
        return world
    index = op[1] % len(world)
    field = {"away": "away", "exclude": "excluded", "active": "active", "role": "role", "capacity": "capacity"}[op[0]]
    world = list(world)
    world[index] = replace(world[index], **{field: op[2]})
    return world


@settings(max_examples=300, deadline=None)
@given(world=staff, operations=st.lists(operation, max_size=60))
def test_no_ineligible_employee_is_ever_chosen(world, operations):
    pointer = None
    for op in operations:
        world = apply(world, op)
        if op[0] != "create":
            continue
        chosen = pick_next(world, pointer)
        if chosen is None:
            assert eligible_pool(world) == []  # the caller falls back to the owner
            continue
        assert not ineligible(chosen, world)
        pointer = chosen.id
        # The order counts against his capacity from now on.
        world = [replace(c, open_orders=c.open_orders + 1) if c.id == chosen.id else c for c in world]


@settings(max_examples=200, deadline=None)
@given(ids=st.lists(st.integers(1, 10_000), min_size=1, max_size=15, unique=True), creations=st.integers(0, 200))
def test_a_stable_pool_gets_counts_that_differ_by_at_most_one(ids, creations):
    world = [Candidate(id=i, role=Role.MANAGER, active=True, away=False, excluded=False) for i in ids]
    counts = dict.fromkeys(ids, 0)
    pointer = None
    for _ in range(creations):
        chosen = pick_next(world, pointer)
        counts[chosen.id] += 1
        pointer = chosen.id
    assert max(counts.values()) - min(counts.values()) <= 1


@settings(max_examples=200, deadline=None)
@given(world=staff)
def test_with_nobody_eligible_the_pick_is_empty(world):
    nobody = [replace(c, away=True) for c in world]
    assert pick_next(nobody, None) is None
    assert eligible_pool(nobody) == []


@settings(max_examples=200, deadline=None)
@given(world=staff, pointer=st.none() | st.integers(0, 41))
def test_sticky_keeps_only_someone_rotation_could_pick(world, pointer):
    for c in world:
        assert may_keep(c, world) == (c in eligible_pool(world))
    chosen = pick_next(world, pointer)
    assert chosen is None or may_keep(chosen, world)
