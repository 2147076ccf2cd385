"""``eokit.env.local_cluster``: loopback workers forked from a preloaded forkserver, with the
driver's environment of the moment, and the ``EOKIT_WORKER_START`` switch."""

from __future__ import annotations

import os
import sys

import pytest

from eokit import env
from eokit.errors import ConfigError


def _seen() -> dict[str, object]:
    return {"cache": os.environ.get("EOKIT_CACHE"), "rasterio": "rasterio" in sys.modules,
            "threads": os.environ.get("OMP_NUM_THREADS"), "malloc": os.environ.get("MALLOC_TRIM_THRESHOLD_")}


@pytest.mark.slow
def test_forked_workers_see_the_environment_of_each_start(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from distributed import Client

    monkeypatch.delenv("EOKIT_WORKER_START", raising=False)
    monkeypatch.delenv("EOKIT_MALLOC_TUNING", raising=False)
    import multiprocessing.forkserver as mpfs

    env.prepare_workers(("eokit.io",))  # started ahead (e.g. while a bench suite is planned)
    server = mpfs._forkserver._forkserver_pid
    assert server is not None and os.waitpid(server, os.WNOHANG) == (0, 0)  # running
    for i in range(2):  # both clusters fork from that one server
        monkeypatch.setenv("EOKIT_CACHE", str(tmp_path / f"cache{i}"))
        cluster = env.local_cluster(1, preload=("eokit.io",))
        try:
            assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
            with Client(cluster) as client:
                ((addr, seen),) = client.run(_seen).items()
                assert seen["rasterio"] is True, "the worker did not come from the preloaded forkserver"
        finally:
            cluster.close()
        assert addr.startswith("tcp://127.0.0.1:")
        assert seen["cache"] == str(tmp_path / f"cache{i}")  # not the server's environment
        assert seen["threads"] == "1"
        assert mpfs._forkserver._forkserver_pid == server
        if env.allocator_env():
            assert seen["malloc"] == env.allocator_env()["MALLOC_TRIM_THRESHOLD_"]


def test_worker_start_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EOKIT_WORKER_START", "spawn")
    assert env.worker_start_method() == "spawn"
    monkeypatch.setenv("EOKIT_WORKER_START", "")
    assert env.worker_start_method() in ("forkserver", "spawn")
    monkeypatch.setenv("EOKIT_WORKER_START", "fork")
    with pytest.raises(ConfigError, match=r"EOKIT_WORKER_START='fork'.*'forkserver', 'spawn'"):
        env.worker_start_method()
