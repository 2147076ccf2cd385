"""Tiling plan and blending windows."""

from __future__ import annotations

import numpy as np
import pytest

from eokit.errors import ConfigError
from eokit.infer import BlendWindows, TilePlan, axis_offsets, window_1d


@pytest.mark.parametrize("align", ["even", "snap"])
@pytest.mark.parametrize("size", [64, 65, 100, 257, 1000, 4096])
def test_offsets_cover_the_axis_and_end_at_the_edge(size: int, align: str) -> None:
    offs = axis_offsets(size, 64, 48, align)
    assert offs[0] == 0 and offs[-1] == size - 64
    covered = np.zeros(size, bool)
    for o in offs:
        covered[o:o + 64] = True
    assert covered.all()
    gaps = np.diff(offs)
    assert (gaps <= 48).all() and (gaps > 0).all()  # overlap >= crop - stride everywhere
    assert len(offs) == (1 if size <= 64 else -(-(size - 64) // 48) + 1)


def test_small_scene_gets_one_padded_tile() -> None:
    assert axis_offsets(30, 64, 48) == (0,)
    plan = TilePlan.build(30, 200, 64, 48)
    assert plan.rows == (0,) and plan.cols[-1] == 136


def test_bad_plans_are_refused() -> None:
    with pytest.raises(ConfigError, match="stride 80 is larger than crop 64"):
        axis_offsets(100, 64, 80)
    with pytest.raises(ConfigError, match="unknown tile alignment"):
        axis_offsets(100, 64, 48, "middle")


def test_plan_describe_and_memory_estimate() -> None:
    plan = TilePlan.build(4096, 4096, 256, 224)
    assert plan.n_tiles == 19 * 19
    assert "19 tile rows x 19 tile cols" in plan.describe()
    est = plan.memory_estimate(13, 10, 16)
    assert 0 < est["total"] < 1024 and est["total"] == pytest.approx(sum(v for k, v in est.items() if k != "total"))
    wide = TilePlan.build(4096, 16384, 256, 224).memory_estimate(13, 10, 16)
    key = "input read (per group of tiles)"
    assert wide[key] == pytest.approx(est[key], rel=0.1)  # bounded by the read budget, not the width


def test_windows_have_a_floor_and_flat_scene_edges() -> None:
    w = window_1d(64, "hann", floor=1e-3)
    assert w.min() >= 1e-3 and w.max() <= 1 and np.allclose(w, w[::-1])
    edge = window_1d(64, "hann", taper_start=False)
    assert (edge[:32] == edge.max()).all() and edge[-1] < 0.01
    m = window_1d(64, "linear", margin=4, ramp=16)
    assert (m[:4] == 0).all() and (m[-4:] == 0).all() and m[4] > 0 and m[32] == 1
    bw = BlendWindows(64, "hann")
    corner = bw.for_tile(0, 0, 500, 500)
    assert corner[0, 0] == corner.max()  # scene corner: full weight, not tapered away
    assert bw.for_tile(100, 100, 500, 500)[0, 0] == pytest.approx(1e-6, rel=0.01)
    with pytest.raises(ConfigError, match="unknown blending window"):
        window_1d(64, "gauss")
