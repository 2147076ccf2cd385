"""Write the foundation-model table of docs/models.md from the model registry.

Usage: ``python docs/gen_models.py`` (rewrite the table between the markers) or
``python docs/gen_models.py --check`` (exit 1 when it is out of date). One row per family:
its weights entries (``arch.tag``), input bands, licence (non-commercial flagged) and how
eokit proves it loads the published checkpoints (``WeightSpec.proof``).
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

DOC = Path(__file__).resolve().parent / "models.md"
START, END = "<!-- fm-table:start -->", "<!-- fm-table:end -->"


def render() -> str:
    from eokit.models import list_models

    by_family = defaultdict(list)
    for s in list_models(pretrained=True):
        if s.family:
            by_family[s.family].append(s)
    lines = [START, "", f"{sum(map(len, by_family.values()))} weights entries in {len(by_family)} families "
             "(`eokit models info NAME` shows one entry whole).", "",
             "| family | weights (`arch.tag`) | bands (sensor) | licence | how proven |",
             "|---|---|---|---|---|"]
    for family in sorted(by_family, key=str.lower):
        specs = sorted(by_family[family], key=lambda s: s.name)
        names = "<br>".join(f"`{s.name}`" for s in specs)
        bands = "<br>".join(sorted({f"{len(s.bands)} × {s.sensor}" for s in specs}))
        lic = "<br>".join(sorted({s.license + (" **(non-commercial)**" if s.noncommercial else "") for s in specs}))
        proofs = "<br>".join(sorted({s.proof for s in specs}))
        lines.append(f"| {family} | {names} | {bands} | {lic} | {proofs} |")
    return "\n".join([*lines, "", END])


def updated(text: str) -> str:
    if START not in text or END not in text:
        raise SystemExit(f"{DOC}: markers {START} ... {END} are missing")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return head + render() + tail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/models.md is out of date")
    args = parser.parse_args()
    text = DOC.read_text()
    new = updated(text)
    if args.check:
        if new != text:
            print("docs/models.md: the foundation-model table is out of date; run python docs/gen_models.py")
            return 1
        return 0
    DOC.write_text(new)
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
