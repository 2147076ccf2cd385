"""Write eokit's seeded, stratified 60/20/20 split of EuroSAT (27,000 images) as package data.

The split is eokit's own rule (``eokit.datasets.splits.assign_splits``: per class, items in
``sha256("0:<stem>")`` order, each to the split furthest below its share), applied to the
official file stems ``<Class>_<n>`` (n = 1..count) of the EuroSAT release, so it needs no
images and gives train/val/test = 16,200/5,400/5,400, exactly 60/20/20 in every class.
It is the default split of ``eurosat_rgb``/``eurosat_ms`` where the published lists
(``eurosat-{train,val,test}.txt``) are not in the dataset folder.

    python scripts/make_eurosat_split.py            # (re)writes the file
    python scripts/make_eurosat_split.py --check    # exit 1 if the committed file differs
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from eokit.datasets.catalog.classification import (
    EUROSAT_SEEDED_SPLIT,
    eurosat_seeded_split_payload,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed file, write nothing")
    args = parser.parse_args()
    text = eurosat_seeded_split_payload()
    path = Path(EUROSAT_SEEDED_SPLIT)
    if args.check:
        same = path.exists() and path.read_text() == text
        print(f"{path}: {'up to date' if same else 'DIFFERS from the rule; rerun without --check'}")
        return 0 if same else 1
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    print(f"wrote {path} ({len(text):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
