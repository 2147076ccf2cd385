#!/usr/bin/env bash
# Cloud map of the mirror's real Landsat 8 scene (LC80200392015216, 2015-08-04) with a model trained by `eokit train`.
#
#   1. train a small U-Net on 64 px chips of the scene (bands B2-B7, cirrus B9, thermal B10) with cloud labels
#      decoded from the scene's own QA band (pre-Collection BQA: cloud confidence bits 14-15; high = cloud,
#      medium = ignored) — the `raster_segmentation` dataset with qa: landsat8_precollection_bqa_cloud;
#      a seeded 70/10/20 chip split, so the test metrics come from chips the model never saw;
#   2. `eokit predict` the whole 627x603 px scene into a class + confidence COG;
#   3. `eokit quicklook`: a PNG of the scene (true colour) beside the map.
#
# Usage: EOKIT_DATA=/path/to/shared/data examples/predict_cloud_landsat.sh [OUT_DIR]
set -euo pipefail
EOKIT=${EOKIT:-.venv/bin/eokit}
DATA=${EOKIT_DATA:?set EOKIT_DATA to the data mirror (e.g. ../shared/data)}
OUT=${1:-outputs/predict_cloud_landsat}
L8="$DATA/scenes/landsat8_LC80200392015216"
mkdir -p "$OUT"

cat > "$OUT/train.yaml" <<YAML
name: cloud-landsat8
seed: 0
task: {type: segmentation, options: {ignore_index: -1}}
model: {backbone: unet, head: unet, options: {base_channels: 8, depth: 3}}
data:
  dataset: raster_segmentation
  root: $L8
  options:
    image: "l8_B*.tif"
    label: l8_BQA.tif
    sensor: landsat8
    qa: landsat8_precollection_bqa_cloud
    chip_size: 64
  bands: [B2, B3, B4, B5, B6, B7, B9, B10]
  train_split: train
  val_split: val
  test_split: test
  normalize: dataset
  batch_size: 8
  augment: [flip, rot90]
optim: {lr: 0.003}
trainer: {max_epochs: ${EPOCHS:-30}, progress_bar: false, log_every_n_steps: 10, threads: 2}
output_dir: $OUT/run
YAML

"$EOKIT" train "$OUT/train.yaml"
SCENE="$L8/l8_B*.tif"
"$EOKIT" predict "$OUT/run/checkpoint" "$SCENE" -o "$OUT/l8_cloud.tif" --sensor landsat8 \
  --resampling bilinear --reference B2 --crop 128 --stride 112
"$EOKIT" info "$OUT/l8_cloud.tif"
"$EOKIT" quicklook "$L8/l8_B4.tif" "$L8/l8_B3.tif" "$L8/l8_B2.tif" --sensor landsat8 --bands B4,B3,B2 \
  --map "$OUT/l8_cloud.tif" --cmap Greys_r -o "$OUT/l8_cloud.png" --max-size 600
echo "map: $OUT/l8_cloud.tif  quicklook: $OUT/l8_cloud.png  metrics: $OUT/run/metrics.json"
