"""aiogram's Telegram types and methods, each built the first time it is used instead of all at import (issue 14).

aiogram builds pydantic's validator and serializer for each of its 400-odd types and 160-odd methods as it is
imported: about 110 MB of a process's memory, native (pydantic-core), of which a process that serves customer
messages uses a few dozen models (aiogram/aiogram#1513, open). pydantic can build a model on its first use instead
(`defer_build`). `defer()`, called before aiogram is first imported, turns it on for aiogram's two base classes, and
lets aiogram's own pass that builds every type at the end of its import only record what that pass resolves.

A deferred model that cannot be built would fail at its first use, not at import: `tests/test_aiogram_models.py`
builds every one of them.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from types import ModuleType
from typing import Any

# aiogram's modules whose base class every type (or method) derives from, defined before any of them.
_BASES = {"aiogram.types.base": "TelegramObject", "aiogram.methods.base": "TelegramMethod"}


def defer() -> None:
    """Before aiogram is imported: its models are built on first use. Once imported, nothing changes (the memory is
    spent), so this is called first by the process's entry points."""
    if "aiogram" in sys.modules or any(isinstance(finder, _Finder) for finder in sys.meta_path):
        return
    sys.meta_path.insert(0, _Finder())


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any, target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if name not in _BASES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader, _BASES[name])
        return spec


class _Loader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader, base: str) -> None:
        self._loader = loader
        self._base = base

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        base = getattr(module, self._base)
        # A subclass takes its base's configuration as it is when the subclass is made: every type and method is
        # made after this.
        base.model_config["defer_build"] = True
        if self._base == "TelegramObject":
            base.model_rebuild = classmethod(_rebuild_later)


def _rebuild_later(cls: Any, *, _types_namespace: Any = None, **kwargs: Any) -> bool | None:
    from pydantic import BaseModel

    if _types_namespace is not None and not cls.__pydantic_complete__ and not kwargs.get("force"):
        # aiogram's pass at the end of its import: it names every type, because a type's module imports the types
        # of its fields for type checking only. The names go into that module, where pydantic looks when it builds
        # the model on first use, alone or inside another model.
        namespace = vars(sys.modules[cls.__module__])
        for name, value in _types_namespace.items():
            namespace.setdefault(name, value)
        return None
    return BaseModel.model_rebuild.__func__(cls, _types_namespace=_types_namespace, **kwargs)


def warm() -> None:
    """Builds, before a process serves, the models every process uses from its first update or send on: the update
    a webhook or a poll reads, a sent message and Telegram's answers. Built on first use instead, they would hold
    the event loop for about half a second in the middle of the first requests.

    aiogram asks for `Response[X]` anew on every request, and pydantic keeps such a class only while something
    refers to it: once collected, the next request builds it again, which takes ~180 ms while `X`'s own model is
    not built (12 ms once it is). So `Message` is built on its own, and the answers every process reads are kept."""
    from aiogram.methods import Response, SendMessage
    from aiogram.types import Message, Update

    for model in (Update, Message, SendMessage):
        model.model_rebuild()
    _KEPT.update({Response[Message], Response[bool], Response[list[Update]]})


_KEPT: set[type] = set()
