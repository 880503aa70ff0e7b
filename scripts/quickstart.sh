#!/usr/bin/env bash
# Set up ./.venv and run qwave end to end on its embedded defaults, writing everything into ./out/:
# teacher -> dataset -> (a short) training -> evaluation of the shipped model -> ONNX export -> a
# TensorFlow-free forecast compared with the solver.  About 5 minutes on 2 cores after installation.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
q=.venv/bin/qwave
mkdir -p out
# 1. the teacher: packets at a rectangular barrier, and the space-time picture
$q simulate --potential barrier -p height=5 -p width=7 --x0 20 --s0 2 --e0 3,6 -o out/simulation.npz --plot out/simulation.png
# 2. the curriculum as a TFDS dataset (the small 'tiny' config; 'demo' is the paper's grid, ~10 min)
$q dataset build --config tiny --data-dir out/tensorflow_datasets
$q dataset info --config tiny --data-dir out/tensorflow_datasets
# 3. a short training run on it (the shipped model's full recipe: see qwave/pretrained/default/COMMAND.txt)
rm -rf out/run_tiny
$q train --out out/run_tiny --data tfds:tiny --data-dir out/tensorflow_datasets --steps 200 --steps-per-epoch 100 --batch-size 256
# 4. the shipped emulator on one held-out case of every test family, 400 frames
$q evaluate --model qwave/pretrained/default --tests curriculum:demo --cases 1 --out out/eval_default
# 5. export it (model.keras, SavedModel, window.onnx, step.onnx, metadata.json) ...
rm -rf out/exported
$q export --out out/exported
# 6. ... and forecast with ONNX Runtime alone, against the solver
$q predict --model out/exported --potential double --x0 18 --e0 4 --frames 400 --compare -o out/forecast.npz --plot out/forecast.png
