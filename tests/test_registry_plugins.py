"""The registries' one loading hook: built-ins and entry-point plugins load once, lazily.

Plugins are faked as a distribution: a temporary ``*.dist-info/entry_points.txt`` and the
plugin modules on ``sys.path`` (in process for the generic :class:`Registry`, and in a fresh
interpreter for the real dataset, model and sensor catalogues).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import eokit
from eokit.registry import Loader, Registry, RegistryError

SRC = Path(eokit.__file__).resolve().parents[1]


def make_distribution(root: Path, entry_points: str, modules: dict[str, str]) -> Path:
    """Write a fake installed distribution (dist-info with entry points) and its modules under root."""
    info = root / "fake_eokit_plugins-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-eokit-plugins\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    for name, source in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(source))
    return root


# -- the generic registry, in process ------------------------------------------------------
@pytest.fixture
def widgets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Registry[str]:
    """A registry with one built-in module, one working plugin and one broken plugin."""
    make_distribution(
        tmp_path,
        """
        [eokit_test.widgets]
        good = regtest_good_plugin
        broken = regtest_broken_plugin:thing
        """,
        {
            "regtest_builtin_widgets": """
                import regtest_registry_holder as h
                h.REG.register("spanner", "built-in")
                h.SEEN.append("builtin")
            """,
            "regtest_good_plugin": """
                import regtest_registry_holder as h
                h.SEEN.append("plugin saw spanner" if "spanner" in h.REG else "plugin ran first")
                h.REG.register("gizmo", "plugin")
            """,
            "regtest_broken_plugin": """
                raise RuntimeError("boom: needs libfoo")
            """,
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    reg: Registry[str] = Registry("widget", "eokit_test.widgets", builtins=("regtest_builtin_widgets",))
    holder = type(sys)("regtest_registry_holder")
    holder.REG, holder.SEEN = reg, []  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "regtest_registry_holder", holder)
    for name in ("regtest_builtin_widgets", "regtest_good_plugin", "regtest_broken_plugin"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    return reg


def test_registry_loads_builtins_then_plugins_once_on_first_lookup(widgets: Registry[str]) -> None:
    seen = sys.modules["regtest_registry_holder"].SEEN
    widgets.register("hammer", "user")  # registering does not load anything
    assert seen == [] and not widgets.loader.loaded
    assert widgets.get("gizmo") == "plugin"
    assert seen == ["builtin", "plugin saw spanner"]  # built-ins first, plugins see them
    assert widgets.names() == ["gizmo", "hammer", "spanner"]
    assert seen == ["builtin", "plugin saw spanner"]  # loaded once
    assert widgets.loader.plugins == ["eokit_test.widgets:good"]


def test_registry_reports_a_broken_plugin_and_keeps_the_rest(
    widgets: Registry[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="eokit.registry")  # another test may have quietened 'eokit'
    assert "spanner" in widgets and "gizmo" in widgets
    (failure,) = widgets.unavailable
    assert (failure.name, failure.group, failure.value) == ("broken", "eokit_test.widgets", "regtest_broken_plugin:thing")
    assert failure.error == "RuntimeError: boom: needs libfoo"
    assert "plugin 'broken'" in caplog.text and "boom: needs libfoo" in caplog.text
    with pytest.raises(RegistryError, match=r"unknown widget 'gizmoo'.*gizmo.*plugin 'broken'.*boom"):
        widgets.get("gizmoo")


def test_registry_names_a_built_in_module_that_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "regtest_bad_builtin.py").write_text("import regtest_no_such_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg: Registry[int] = Registry("gadget", builtins=("regtest_bad_builtin",))
    for _ in range(2):  # the same clear error on every lookup, not a half-filled registry
        with pytest.raises(RegistryError, match=r"built-in gadget module 'regtest_bad_builtin'.*No module named"):
            reg.get("x")


def test_registries_sharing_a_loader_load_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "regtest_shared_builtins.py").write_text(
        "import regtest_registry_pair as p\np.A.register('a', 1)\np.B.register('b', 2)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    loader = Loader("pair", builtins=("regtest_shared_builtins",))
    pair = type(sys)("regtest_registry_pair")
    pair.A, pair.B = Registry("first", loader=loader), Registry("second", loader=loader)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "regtest_registry_pair", pair)
    monkeypatch.delitem(sys.modules, "regtest_shared_builtins", raising=False)
    assert pair.B.get("b") == 2 and pair.A.names() == ["a"]  # type: ignore[attr-defined]
    with pytest.raises(RegistryError, match="already registered"):
        pair.A.register("a", 3)  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="shared loader"):
        Registry("third", "eokit_test.x", loader=loader)


def test_registry_other_threads_wait_for_loading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "regtest_slow_builtins.py").write_text(
        "import time, regtest_registry_slow as s\ntime.sleep(0.3)\ns.REG.register('late', 1)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    slow = type(sys)("regtest_registry_slow")
    slow.REG = Registry("slow thing", builtins=("regtest_slow_builtins",))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "regtest_registry_slow", slow)
    monkeypatch.delitem(sys.modules, "regtest_slow_builtins", raising=False)
    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(lambda _: slow.REG.get("late"), range(4)))  # type: ignore[attr-defined]
    assert found == [1, 1, 1, 1]


# -- the real catalogues, in a fresh interpreter ------------------------------------------
PLUGIN_DATASET = """
    import torch
    from eokit.datasets import DatasetSpec, EODataset, register

    @register
    class FakePluginDataset(EODataset):
        spec = DatasetSpec(name="fake_plugin_ds", task="classification", sensor=None, bands=("red",),
                           classes=("a", "b"), splits=("train",))

        def _index(self):
            return [0, 1]

        def _load(self, item):
            return {"image": torch.zeros(1, 2, 2), "label": item}
"""

PLUGIN_MODEL = """
    from eokit.models import ArchSpec, WeightSpec, register_arch, register_weights

    register_arch(ArchSpec("fake_plugin_arch", lambda **kw: None, "fake", "a plugin architecture"))
    register_weights(WeightSpec("resnet18", "fake_plugin", description="plugin weights for a built-in arch"))
"""

PLUGIN_SENSOR = """
    from eokit.sensors import Band, Sensor, register_sensor

    register_sensor(Sensor("fakesat", (Band("B1", 560.0, 40.0, 3.0, "green"),), aliases=("fsat",)))
"""

PROBE = """
import json, sys
from eokit.datasets import get_dataset
from eokit.errors import DatasetNotFoundError

out = {}
try:
    get_dataset("eurosat_rgb", root=sys.argv[1] + "/absent")
except DatasetNotFoundError as exc:
    out["builtin_dataset"] = "found the loader: " + str(exc)[:40]
ds = get_dataset("fake_plugin_ds", root=sys.argv[1])
out["plugin_dataset"] = [len(ds), int(ds[1]["label"])]
from eokit.datasets import DATASETS
out["unavailable"] = [[f.name, f.group, f.error] for f in DATASETS.unavailable]
from eokit.models import get_arch, get_weight_spec
out["builtin_arch"] = get_arch("resnet18").family
out["plugin_arch"] = get_arch("fake_plugin_arch").family
out["plugin_weights"] = get_weight_spec("resnet18.fake_plugin").name
from eokit.sensors import get_sensor
out["plugin_sensor"] = get_sensor("fsat").name
out["builtin_sensor"] = get_sensor("sentinel2_l2a").name
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def fresh_interpreter(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    """Run PROBE in a fresh interpreter with the fake plugin distribution on its path."""
    root = make_distribution(
        tmp_path_factory.mktemp("plugins"),
        """
        [eokit.datasets]
        fake = regtest_plugin_dataset
        broken = regtest_plugin_broken

        [eokit.models]
        fake = regtest_plugin_model

        [eokit.sensors]
        fake = regtest_plugin_sensor
        """,
        {
            "regtest_plugin_dataset": PLUGIN_DATASET,
            "regtest_plugin_model": PLUGIN_MODEL,
            "regtest_plugin_sensor": PLUGIN_SENSOR,
            "regtest_plugin_broken": "raise ImportError('regtest plugin needs libbar')\n",
        },
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(SRC)])}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(root)], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def test_fresh_interpreter_finds_builtins_through_the_public_lookups(fresh_interpreter: tuple[dict, str]) -> None:
    out, _ = fresh_interpreter
    assert out["builtin_dataset"].startswith("found the loader: dataset 'eurosat_rgb' not found")
    assert out["builtin_arch"] == "resnet"
    assert out["builtin_sensor"] == "sentinel2_l2a"


def test_fresh_interpreter_registers_entry_point_plugins(fresh_interpreter: tuple[dict, str]) -> None:
    out, _ = fresh_interpreter
    assert out["plugin_dataset"] == [2, 1]
    assert out["plugin_arch"] == "fake"
    assert out["plugin_weights"] == "resnet18.fake_plugin"  # the plugin loaded after the built-ins
    assert out["plugin_sensor"] == "fakesat"


def test_fresh_interpreter_reports_a_broken_plugin(fresh_interpreter: tuple[dict, str]) -> None:
    out, stderr = fresh_interpreter
    assert out["unavailable"] == [["broken", "eokit.datasets", "ImportError: regtest plugin needs libbar"]]
    assert "plugin 'broken'" in stderr and "regtest plugin needs libbar" in stderr
