"""One generic registry used for datasets, models, heads and tasks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from eokit.errors import EokitError, suggest

T = TypeVar("T")


class RegistryError(EokitError, KeyError):
    """Unknown or duplicate registry name."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class Registry(Generic[T]):
    """A name -> object mapping with helpful errors and entry-point plugins."""

    def __init__(self, kind: str, entry_point_group: str | None = None) -> None:
        self.kind = kind
        self.group = entry_point_group
        self._items: dict[str, T] = {}
        self._plugins_loaded = entry_point_group is None

    def register(self, name: str, obj: T, *, overwrite: bool = False) -> T:
        if name in self._items and not overwrite:
            raise RegistryError(f"{self.kind} {name!r} is already registered; pass overwrite=True to replace it")
        self._items[name] = obj
        return obj

    def decorator(self, name: str) -> Callable[[T], T]:
        def wrap(obj: T) -> T:
            return self.register(name, obj)

        return wrap

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        if self.group is None:
            return
        from importlib.metadata import entry_points

        for ep in entry_points(group=self.group):
            ep.load()  # the plugin module registers itself on import

    def get(self, name: str) -> T:
        self._load_plugins()
        try:
            return self._items[name]
        except KeyError:
            names = sorted(self._items)
            raise RegistryError(
                f"unknown {self.kind} {name!r}; known: {names}.{suggest(name, names)}"
            ) from None

    def __contains__(self, name: object) -> bool:
        self._load_plugins()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        self._load_plugins()
        return iter(sorted(self._items))

    def items(self) -> list[tuple[str, T]]:
        self._load_plugins()
        return sorted(self._items.items())

    def names(self) -> list[str]:
        return list(self)
