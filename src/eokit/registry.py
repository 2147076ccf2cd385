"""Named catalogues (datasets, models, weights, heads, tasks, sensors) and their one loading hook.

A :class:`Registry` maps names to objects. Its :class:`Loader` fills it once, lazily, on the
first lookup or listing: first the catalogue's built-in modules (imported by name, so the
module that defines a registry never imports the modules that register into it), then every
plugin named by an ``importlib.metadata`` entry point of the catalogue's groups (e.g.
``eokit.datasets``, ``eokit.models``). Importing a plugin's module is what registers it. A
plugin that fails to import is logged, listed in :attr:`Loader.failures` and named in lookup
errors; the built-ins and the other plugins still load.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from eokit.errors import EokitError, suggest

T = TypeVar("T")

log = logging.getLogger(__name__)

_NEW, _LOADING, _DONE = "new", "loading", "done"


class RegistryError(EokitError, KeyError):
    """Unknown or duplicate registry name, or a built-in catalogue module that does not import."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class PluginFailure:
    """An entry-point plugin that could not be imported."""

    group: str
    name: str
    value: str  # "module" or "module:attr", as the entry point names it
    error: str  # "ExceptionType: message"

    def __str__(self) -> str:
        return (
            f"plugin {self.name!r} (entry point {self.value!r} in group {self.group!r}) is unavailable: "
            f"{self.error}; fix or uninstall the package that provides it"
        )


class Loader:
    """Imports a catalogue's built-in modules, then its entry-point plugins: once, on first use.

    Several registries may share one loader (architectures, weights and heads do), so that
    whichever is looked up first loads them all, built-ins before plugins. While loading,
    lookups from the loading thread see what is registered so far (a built-in module may check
    its own entries); other threads wait until loading is done.
    """

    def __init__(self, kind: str, builtins: Sequence[str] = (), groups: Sequence[str] = ()) -> None:
        self.kind = kind
        self.builtins = tuple(builtins)
        self.groups = tuple(groups)
        self.failures: list[PluginFailure] = []
        self.plugins: list[str] = []  # "group:name" of every plugin that loaded
        self._state = _NEW
        self._error: RegistryError | None = None
        self._lock = threading.RLock()

    @property
    def loaded(self) -> bool:
        return self._state == _DONE

    def load(self) -> None:
        """Load the built-ins and plugins unless done (or under way); re-raise a built-in's failure."""
        if self._state == _DONE and self._error is None:
            return
        with self._lock:
            if self._state != _NEW:
                if self._error is not None:
                    raise self._error
                return
            self._state = _LOADING
            self._load()

    def _load(self) -> None:
        try:
            for module in self.builtins:
                try:
                    importlib.import_module(module)
                except Exception as exc:
                    self._error = RegistryError(
                        f"the built-in {self.kind} module {module!r} failed to import: "
                        f"{type(exc).__name__}: {exc} (a broken install or a missing dependency)"
                    )
                    raise self._error from exc
            for group in self.groups:
                for ep in entry_points(group=group):
                    try:
                        ep.load()
                    except Exception as exc:
                        failure = PluginFailure(group, ep.name, ep.value, f"{type(exc).__name__}: {exc}")
                        self.failures.append(failure)
                        log.warning("%s", failure)
                    else:
                        self.plugins.append(f"{group}:{ep.name}")
        finally:
            self._state = _DONE


class Registry(Generic[T]):
    """A name -> object mapping with helpful errors, filled by its :class:`Loader` on first use.

    ``Registry("dataset", "eokit.datasets", builtins=("eokit.datasets.catalog",))`` loads the
    catalogue package and the ``eokit.datasets`` plugins on the first ``get``/``in``/listing;
    ``Registry("model weights", loader=other.loader)`` shares another registry's loading.
    Registering never triggers loading.
    """

    def __init__(
        self,
        kind: str,
        entry_point_group: str | None = None,
        *,
        builtins: Sequence[str] = (),
        loader: Loader | None = None,
    ) -> None:
        if loader is not None and (builtins or entry_point_group):
            raise ValueError("pass either a shared loader or builtins/entry_point_group, not both")
        self.kind = kind
        groups = (entry_point_group,) if entry_point_group else ()
        self.loader = loader if loader is not None else Loader(kind, builtins, groups)
        self._items: dict[str, T] = {}

    def register(self, name: str, obj: T, *, overwrite: bool = False) -> T:
        if name in self._items and not overwrite:
            raise RegistryError(f"{self.kind} {name!r} is already registered; pass overwrite=True to replace it")
        self._items[name] = obj
        return obj

    def decorator(self, name: str) -> Callable[[T], T]:
        def wrap(obj: T) -> T:
            return self.register(name, obj)

        return wrap

    @property
    def unavailable(self) -> list[PluginFailure]:
        """The plugins of this registry's loader that failed to import (after loading)."""
        self.loader.load()
        return list(self.loader.failures)

    def get(self, name: str) -> T:
        self.loader.load()
        try:
            return self._items[name]
        except KeyError:
            names = sorted(self._items)
            broken = "".join(f" ({f})" for f in self.loader.failures)
            raise RegistryError(
                f"unknown {self.kind} {name!r}; known: {names}.{suggest(name, names)}{broken}"
            ) from None

    def __contains__(self, name: object) -> bool:
        self.loader.load()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        self.loader.load()
        return iter(sorted(self._items))

    def __len__(self) -> int:
        self.loader.load()
        return len(self._items)

    def items(self) -> list[tuple[str, T]]:
        self.loader.load()
        return sorted(self._items.items())

    def names(self) -> list[str]:
        return list(self)
