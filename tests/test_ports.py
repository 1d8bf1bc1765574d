"""The test harness's ports: two pytest-xdist workers of one run never start servers on the same port."""

from __future__ import annotations

import socket

import pytest

from harness.processes import free_port


def test_a_free_port_can_be_listened_on():
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()


@pytest.mark.parametrize("worker", ["gw0", "gw1", "gw2"])
def test_each_worker_takes_only_its_own_share_of_the_ports(monkeypatch, worker):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "3")
    assert {free_port() % 3 for _ in range(30)} == {int(worker[2:])}
