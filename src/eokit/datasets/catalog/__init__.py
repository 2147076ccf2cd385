"""Built-in dataset loaders: every module in this package registers its loaders on import."""

import importlib
import pkgutil

for _mod in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_mod.name}")
