"""aiogram's models are built on first use in a closer process (core/aiogram_models.py), and every one of them can
be: a model that could not be built would otherwise fail only when a bot first meets it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from bench.common import ROOT


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_closer_process_builds_an_aiogram_model_when_it_first_uses_it():
    out = _run("""
        import closer.cli
        from aiogram.types import Message, Update
        print(Update.__pydantic_complete__, Message.__pydantic_complete__)
        update = Update.model_validate({"update_id": 7, "message": {
            "message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"}, "text": "hi",
            "reply_to_message": {"message_id": 0, "date": 0, "chat": {"id": 5, "type": "private"}, "text": "q"}}})
        print(Update.__pydantic_complete__, update.message.reply_to_message.text)
    """)
    assert out.split() == ["False", "False", "True", "q"]


def test_every_aiogram_type_and_method_can_be_built_when_deferred():
    out = _run("""
        import closer
        import aiogram.methods, aiogram.types
        deferred = built = 0
        for module in (aiogram.types, aiogram.methods):
            for name in module.__all__:
                model = getattr(module, name)
                if isinstance(model, type) and hasattr(model, "model_rebuild") and not (
                        model.__pydantic_generic_metadata__["parameters"]):
                    deferred += not model.__pydantic_complete__
                    assert model.model_rebuild(force=True), name
                    built += 1
        print(deferred, built)
    """)
    deferred, built = map(int, out.split())
    assert deferred > 500 and built >= deferred


def test_before_serving_a_process_builds_the_models_of_an_update_and_a_send():
    # Built on a first use in the middle of sends, they held the loop long enough that sends paced for separate
    # slots left together (tests/test_pacing_processes.py).
    out = _run("""
        import closer.cli
        from core import aiogram_models
        from aiogram.methods import SendMessage
        from aiogram.types import Message, Update
        print(Update.__pydantic_complete__, Message.__pydantic_complete__, SendMessage.__pydantic_complete__)
        aiogram_models.warm()
        print(Update.__pydantic_complete__, Message.__pydantic_complete__, SendMessage.__pydantic_complete__)
    """)
    assert out.split() == ["False", "False", "False", "True", "True", "True"]
