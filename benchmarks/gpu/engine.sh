#!/usr/bin/env bash
# The engine comparison on the GPU machine, in one device call (issues 25/26): for each preset, our
# `bench` with the step executor (DI_EXECUTOR=1) and with jax-js's stock dispatch (DI_EXECUTOR=0, plus
# its kernel profile), a check that both give the same numbers, and PyTorch (NVlabs/edm's SongUNet,
# benchmarks/pytorch/bench_edm.py) on the same card right after. Results under $OUT (JSON per run,
# pytorch.jsonl, log.txt); benchmarks/gpu/combine.mjs turns them into one JSON with "ratios".
# Run:  bash scripts/device-pack.sh (with EDM_DIR set)  then, on the device:
#       source .device/boot.sh && bash benchmarks/gpu/engine.sh "fmnist-small fmnist-base" 8
set -u
presets=${1:-"fmnist-small fmnist-base"}
repeats=${2:-8}
out=${OUT:-/tmp/out}
mkdir -p "$out/res"
export PYTHONPATH=$PWD/edm${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv | tee "$out/res/gpu.txt"
for p in $presets; do
  DI_EXECUTOR=1 node dist/cli.mjs bench --device webgpu --preset "$p" --parts verify,teacher,distill --repeats "$repeats" --outdir "$out/res" --tag "executor-$p" 2>&1 | grep -v '^Warning: max'
  DI_EXECUTOR=0 node dist/cli.mjs bench --device webgpu --preset "$p" --parts teacher,distill,profile --repeats "$repeats" --outdir "$out/res" --tag "stock-$p" 2>&1 | grep -v '^Warning: max'
  for part in teacher distill; do
    PYTHONUNBUFFERED=1 python3 benchmarks/pytorch/bench_edm.py --preset "$p" --part "$part" --repeats 30 | tee -a "$out/res/pytorch.jsonl"
  done
done
