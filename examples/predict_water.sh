#!/usr/bin/env bash
# Water map of the mirror's real Sentinel-2 scene (tile 18SVG, 2016-01-12) with a model trained by `eokit train`.
#
#   1. train a small U-Net on the real Sen1Floods11 hand-labelled chip (S2 L1C; water / dry), on the
#      20 m NIR/SWIR bands the mirror's scene has (B8A, B11, B12: water is dark there);
#   2. `eokit predict` the 967x973 px scene into a class + confidence COG (tiled, blended, streamed);
#   3. `eokit quicklook`: a PNG of the scene (SWIR/NIR false colour) beside the map.
#
# Usage: EOKIT_DATA=/path/to/shared/data examples/predict_water.sh [OUT_DIR]
set -euo pipefail
EOKIT=${EOKIT:-.venv/bin/eokit}
DATA=${EOKIT_DATA:?set EOKIT_DATA to the data mirror (e.g. ../shared/data)}
OUT=${1:-outputs/predict_water}
mkdir -p "$OUT"

cat > "$OUT/train.yaml" <<YAML
name: water-s2
seed: 0
task: {type: segmentation, options: {ignore_index: -1}}
model: {backbone: unet, head: unet, options: {base_channels: 8, depth: 3}}
data:
  dataset: sen1floods11
  root: $DATA/segmentation/sen1floods11_sample
  bands: [B8A, B11, B12]
  val_split: null
  test_split: null
  batch_size: 8
  crop_size: 128
  augment: [flip, rot90]
optim: {lr: 0.003}
trainer: {max_epochs: ${EPOCHS:-40}, progress_bar: false, log_every_n_steps: 10, threads: 2}
output_dir: $OUT/run
YAML

"$EOKIT" train "$OUT/train.yaml"
SCENE="$DATA/scenes/sentinel2_18SVG_20160112/s2_B*.tif"
"$EOKIT" predict "$OUT/run/checkpoint" "$SCENE" -o "$OUT/s2_water.tif" --dry-run --resampling bilinear --reference B8A
"$EOKIT" predict "$OUT/run/checkpoint" "$SCENE" -o "$OUT/s2_water.tif" --resampling bilinear --reference B8A \
  --crop 256 --stride 224
"$EOKIT" info "$OUT/s2_water.tif"
"$EOKIT" quicklook "$DATA/scenes/sentinel2_18SVG_20160112/s2_B12.tif" \
  "$DATA/scenes/sentinel2_18SVG_20160112/s2_B11.tif" "$DATA/scenes/sentinel2_18SVG_20160112/s2_B8A.tif" \
  --sensor sentinel2_l1c --bands B12,B11,B8A --map "$OUT/s2_water.tif" --cmap Blues -o "$OUT/s2_water.png" --max-size 600
echo "map: $OUT/s2_water.tif  quicklook: $OUT/s2_water.png"
