#!/usr/bin/env bash
# One prepared call for a lent GPU window (the workplace's `device` tool, 15 minutes a task): continue
# one shipped model's training for BUDGET seconds, time GPU decoding, and bring the weights back.
#
# What travels to the device is capped at 64 MiB (tracked files included) and what comes back at
# 16 MiB per file, while one weights file is ~25 MB and weights/ holds ~110 MB. So:
#
#   here:    bash scripts/device_window.sh prepare MODEL
#            packs the data into .gpu_data (ignored), fetches the two wheels the device lacks into
#            .whl (ignored), and moves every weights file but MODEL's out of the tree (to
#            ~/.gcodec-weights-stash; `collect` puts them back). Prints what will travel.
#   device:  run(command="bash scripts/device_window.sh run MODEL BUDGET [train options]",
#                carry=[".gpu_data/gc", ".whl"] for a GC model, [".gpu_data/camvid", ".whl"] for SC,
#                timeout_s=BUDGET+150)
#            continues MODEL (`gcodec train gc --init-from MODEL`, the shipped model's recipe plus
#            any train options given), exports it, times GPU decoding; returns $OUT/MODEL.part-*,
#            $OUT/log.jsonl and $OUT/bench_decode.txt.
#   here:    bash scripts/device_window.sh collect MODEL FILES_AT
#            joins the parts into new_weights/MODEL.safetensors (+ .json card) and puts weights/ back.
#            Then learn its context tables (scripts/learn_context_tables.py) and evaluate before
#            shipping anything.
set -euo pipefail
cd "$(dirname "$0")/.."
STASH=~/.gcodec-weights-stash

kind_of() { case "$1" in sc-*) echo sc ;; gc-*) echo gc ;; *) echo "unknown model $1 (gc-* or sc-*)" >&2; exit 2 ;; esac; }

prepare() {
  local model=$1 kind
  kind=$(kind_of "$model")
  [ -f "weights/$model.safetensors" ] || { echo "no weights/$model.safetensors" >&2; exit 2; }
  [ -d .gpu_data ] || python scripts/pack_training_data.py ../shared/data .gpu_data
  mkdir -p .whl
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl "constriction~=0.5.0" "pytorch-msssim>=1.0"
  mkdir -p "$STASH"
  for f in weights/*.safetensors; do
    [ "$f" = "weights/$model.safetensors" ] || mv "$f" "$STASH/"
  done
  local data=.gpu_data/gc
  [ "$kind" = sc ] && data=.gpu_data/camvid
  echo "travels: $(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1) bytes of tracked files," \
       "$(du -sb "$data" | cut -f1) of $data, $(du -sb .whl | cut -f1) of .whl (limit 67108864 together)"
  echo "carry: [\"$data\", \".whl\"]"
}

run_on_device() {
  local model=$1 budget=$2 kind
  shift 2
  kind=$(kind_of "$model")
  if ! python3 -c "import gcodec" 2>/dev/null; then  # a bare device: the wheels, then gcodec itself
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
    python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --target /tmp/site .
    export PYTHONPATH=/tmp/site PATH=/tmp/site/bin:$PATH
  fi
  export PYTHONUNBUFFERED=1
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
  local args
  if [ "$kind" = gc ]; then  # the recipe of the shipped GC models (README, Training), GAN on from the start
    args=(--data .gpu_data/gc --batch 16 --crop 256 --bf16 --msssim-weight 5 --warmup-frac 0)
  else  # the recipe of sc-camvid-c6's continuation runs
    args=(--data .gpu_data/camvid/train/images --labels .gpu_data/camvid/train/labels --crop 192 --batch 8
          --msssim-weight 5 --bf16 --warmup-frac 0.03 --lr 5e-5 --lr-warmup 200 --synth-distortion 0.3
          --gan-weight 0.3)
  fi
  gcodec train gc --init-from "$model" --out /tmp/run --time-budget "$budget" --val-every 120 \
    --ckpt-every 120 "${args[@]}" "$@" 2>&1 | tr '\r' '\n' | grep -v '^train gc:' || true
  gcodec export /tmp/run -o "/tmp/export/$model.safetensors" --force \
    --trained-on "one NVIDIA GPU (device window), bf16 autocast"
  cp /tmp/run/log.jsonl "$OUT/log.jsonl"
  cp "/tmp/export/$model.json" "$OUT/$model.json"
  split -b 15M -d "/tmp/export/$model.safetensors" "$OUT/$model.part-"
  if [ "$kind" = gc ] && python3 -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then
    python3 scripts/bench_decode.py --device cuda --repeats 10 | tee "$OUT/bench_decode.txt"
  fi
}

collect() {
  local model=$1 from=$2
  mkdir -p new_weights
  cat "$from/$model".part-* > "new_weights/$model.safetensors"
  cp "$from/$model.json" "new_weights/$model.json"
  [ -d "$STASH" ] && mv "$STASH"/*.safetensors weights/ 2>/dev/null || true
  git ls-files -dz weights/ | xargs -0r git checkout --  # only what the stash no longer holds
  python - "$model" <<'EOF'
import sys
from gcodec.codec.model_store import load_weights
state, card = load_weights(f"new_weights/{sys.argv[1]}.safetensors")  # verifies the card's sha256
print(f"new_weights/{sys.argv[1]}.safetensors: {len(state)} tensors, {card['training']['steps']} more steps")
EOF
}

case "${1:-}" in
  prepare) prepare "${2:?MODEL}" ;;
  run) run_on_device "${2:?MODEL}" "${3:?BUDGET seconds}" "${@:4}" ;;
  collect) collect "${2:?MODEL}" "${3:?FILES_AT folder}" ;;
  *) echo "usage: $0 prepare MODEL | run MODEL BUDGET [train options] | collect MODEL FILES_AT" >&2; exit 2 ;;
esac
