#!/usr/bin/env bash
# The engine comparison on the GPU machine, in one device call (issues 25/26). Per preset:
#   engine: our `bench` as shipped (step executor + our conv kernels), with a check that the executor
#           gives the stock path's numbers ('verify');
#   stock:  jax-js's stock dispatch and kernels (DI_EXECUTOR=0 DI_CUSTOM_KERNELS=0), with its kernel profile;
#   noconv (NOCONV=1): the executor with jax-js's generic conv kernels (teacher step only: attribution);
#   PyTorch (NVlabs/edm's SongUNet, benchmarks/pytorch/bench_edm.py) on the same card right after.
# Results under $OUT/res (JSON per run, pytorch.jsonl, gpu.txt); benchmarks/gpu/combine.mjs turns them
# into one JSON with "ratios". Run:  EDM_DIR=<edm checkout> bash scripts/device-pack.sh, then on the device
#   source .device/boot.sh && bash benchmarks/gpu/engine.sh "fmnist-small fmnist-base" 8
set -u
presets=${1:-"fmnist-small fmnist-base"}
repeats=${2:-8}
out=${OUT:-/tmp/out}
mkdir -p "$out/res"
export PYTHONPATH=$PWD/edm${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv | tee "$out/res/gpu.txt"
bench() { node dist/cli.mjs bench --device webgpu --repeats "$repeats" --outdir "$out/res" "$@" 2>&1 | grep -v '^Warning: max'; }
# Ordered so that a call cut short still brings back each preset's engine run beside its PyTorch peer;
# the stock runs (slow) come last, for the presets in $STOCK (default: all).
for p in $presets; do
  bench --preset "$p" --parts verify,teacher,distill --tag "engine-$p"
  for part in teacher distill; do
    PYTHONUNBUFFERED=1 python3 benchmarks/pytorch/bench_edm.py --preset "$p" --part "$part" --repeats 30 | tee -a "$out/res/pytorch.jsonl"
  done
  [ "${NOCONV:-0}" = 1 ] && DI_CUSTOM_KERNELS=0 bench --preset "$p" --parts teacher --tag "noconv-$p"
done
for p in ${STOCK:-$presets}; do
  DI_EXECUTOR=0 DI_CUSTOM_KERNELS=0 bench --preset "$p" --parts teacher,distill,profile --tag "stock-$p"
done
