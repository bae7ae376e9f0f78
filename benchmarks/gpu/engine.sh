#!/usr/bin/env bash
# The engine comparison on the GPU machine, in one device call (issues 25/26). Per preset:
#   engine: our `bench` as shipped (step executor, eager submission, our conv kernels), with a check that
#           the executor gives the stock path's numbers ('verify') and, where PROFILE names the preset,
#           the per-kernel profile of the same step;
#   PyTorch (NVlabs/edm's SongUNet, benchmarks/pytorch/bench_edm.py) on the same card right after;
#   lazy (presets in $LAZY): the engine with jax-js's lazy submission (DI_EAGER_SUBMIT=0);
#   toggles (presets in $TOGGLES): the engine with Dawn's disable_robustness, disable_workgroup_init and
#           skip_validation added (no bounds clamping in shaders, no zeroing of workgroup memory, no
#           per-call validation: ../shared/probes/dispatch.mjs measured 4.5 → 3.5 µs per dispatch);
#   f16 (presets in $F16): the engine with our convs on f16 subgroup matrices (DI_F16=1; tensor cores);
#   noview (presets in $NOVIEW): views of buffers copied as stock jax-js does (DI_VIEW_READS=0);
#   norecompute (presets in $NORECOMPUTE): cheap elementwise values read by several kernels materialized as
#           stock jax-js does (DI_RECOMPUTE=0, the 'recompute' patch off);
#   split1024 (presets in $SPLIT1024): few-output reductions split only from 1,024 loop iterations, as
#           before src/engine/reduce-split.ts (DI_REDUCE_SPLIT_MIN=1024);
#   noconv (NOCONV=1): the executor with jax-js's generic conv kernels, teacher step only;
#   tile (presets in $TILE, with TILE_ENV, e.g. "DI_CONV_TILE=m128n64-v4", "DI_CONV_TILES=<conv-sweep.json>"
#           or "DI_F16=1 DI_F16_TILE=m128n64"):
#           the engine with another conv tiling, as conv-sweep.mjs picked it;
#   stock (presets in $STOCK, default none): jax-js's own dispatch and kernels, with its kernel profile.
# Extras, each only when asked: CONVSWEEP=1 every conv of fmnist-base (CONVSWEEP_PRESETS, comma-separated) timed with each f32 tile variant of
# our kernels and the f16 one (dist/conv-sweep.mjs) and with cuDNN right after (bench_convs.py, TF32 off
# and on), first, since it is what the next kernel choice rests on; CPUPROF=1 a V8 CPU profile of the fmnist-small engine teacher step
# (top functions by self time in cpuprof.txt); QUICKSTART=1 the shipped GPU quick start timed (40 kimg);
# CIFAR=1 the edm-cifar10 (DDPM++, 56M) teacher step beside PyTorch's.
# Results under $OUT/res (JSON per run, pytorch.jsonl, gpu.txt, logs); benchmarks/gpu/combine.mjs turns
# them into one JSON with "ratios". Run:  EDM_DIR=<edm checkout> bash scripts/device-pack.sh, then on the
# device:  source .device/boot.sh && LAZY=fmnist-small bash benchmarks/gpu/engine.sh "fmnist-small fmnist-base" 8
set -u
presets=${1:-"fmnist-small fmnist-base"}  # "none": only the extras asked for
[ "$presets" = none ] && presets=""
repeats=${2:-8}
out=${OUT:-/tmp/out}
mkdir -p "$out/res"
export PYTHONPATH=$PWD/edm${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv | tee "$out/res/gpu.txt"
bench() { node dist/cli.mjs bench --device webgpu --repeats "$repeats" --outdir "$out/res" "$@" 2>&1 | grep -v '^Warning: max'; }
torch() { PYTHONUNBUFFERED=1 python3 benchmarks/pytorch/bench_edm.py "$@" --repeats 30 | tee -a "$out/res/pytorch.jsonl"; }
if [ "${CONVSWEEP:-0}" = 1 ]; then
  timeout 300 node dist/conv-sweep.mjs --presets "${CONVSWEEP_PRESETS:-fmnist-base}" --batch 128 --reps 20 --budget-s "${CONVSWEEP_BUDGET:-200}" --shapes-out "$out/res/conv-shapes.json" > "$out/res/conv-sweep.json" 2> "$out/res/conv-sweep.log"; echo "conv-sweep exit $?"
  grep -E '^conv-sweep: fmnist-[a-z]+:' "$out/res/conv-sweep.log" | cut -c1-400
  [ -s "$out/res/conv-shapes.json" ] && timeout 200 python3 benchmarks/pytorch/bench_convs.py "$out/res/conv-shapes.json" --repeats 20 > "$out/res/conv-torch.jsonl"; echo "bench_convs exit $?"
fi
# Ordered so that a call cut short still brings back each preset's engine run beside its PyTorch peer.
for p in $presets; do
  parts=verify,teacher,distill
  case " ${PROFILE:-} " in *" $p "*) parts=$parts,profile ;; esac
  bench --preset "$p" --parts "$parts" --tag "engine-$p"
  for part in teacher distill; do torch --preset "$p" --part "$part"; done
  case " ${TOGGLES:-} " in *" $p "*) DAWN_TOGGLES="$DAWN_TOGGLES,disable_robustness,disable_workgroup_init,skip_validation" bench --preset "$p" --parts verify,teacher,distill --tag "toggles-$p" ;; esac
  case " ${F16:-} " in *" $p "*) DI_F16=1 bench --preset "$p" --parts verify,teacher,distill --tag "f16-$p" ;; esac
  case " ${NOVIEW:-} " in *" $p "*) DI_VIEW_READS=0 bench --preset "$p" --parts teacher,distill --tag "noview-$p" ;; esac
  case " ${TILE:-} " in *" $p "*) (export ${TILE_ENV:?TILE needs TILE_ENV}; bench --preset "$p" --parts verify,teacher,distill --tag "tile-$p") ;; esac
  case " ${NORECOMPUTE:-} " in *" $p "*) DI_RECOMPUTE=0 bench --preset "$p" --parts teacher,distill --tag "norecompute-$p" ;; esac
  case " ${SPLIT1024:-} " in *" $p "*) DI_REDUCE_SPLIT_MIN=1024 bench --preset "$p" --parts teacher --tag "split1024-$p" ;; esac
  case " ${LAZY:-} " in *" $p "*) DI_EAGER_SUBMIT=0 bench --preset "$p" --parts teacher,distill --tag "lazy-$p" ;; esac
  [ "${NOCONV:-0}" = 1 ] && DI_CUSTOM_KERNELS=0 bench --preset "$p" --parts teacher --tag "noconv-$p"
done
# F16CHECK=1: f16 against f32 conv kernels (error, time) and a teacher step's gradients (dist/f16-check.mjs)
if [ "${F16CHECK:-0}" = 1 ]; then
  timeout 240 node dist/f16-check.mjs ${F16CHECK_ARGS:-} > "$out/res/f16-check.json" 2> "$out/res/f16-check.log"; echo "f16-check exit $?"
  head -c 2000 "$out/res/f16-check.json"; echo
fi
if [ "${CPUPROF:-0}" = 1 ]; then
  mkdir -p /tmp/cpuprof
  node --cpu-prof --cpu-prof-dir=/tmp/cpuprof dist/cli.mjs bench --device webgpu --preset fmnist-small --parts teacher --repeats 20 --outdir /tmp/cpuprof 2>&1 | grep -v '^Warning: max'
  node benchmarks/gpu/cpuprof-top.mjs /tmp/cpuprof/*.cpuprofile 60 > "$out/res/cpuprof.txt"
  head -30 "$out/res/cpuprof.txt"
fi
if [ "${QUICKSTART:-0}" = 1 ]; then
  start=$(date +%s.%N)
  timeout 300 node dist/cli.mjs quickstart --outdir /tmp/qs 2>&1 | grep -v '^Warning: max' | grep -v '^train ' | tee "$out/res/quickstart.log"
  echo "quickstart wall: $(echo "$(date +%s.%N) - $start" | bc) s" | tee -a "$out/res/quickstart.log"
  find /tmp/qs -name stats.jsonl -exec cp {} "$out/res/quickstart-stats.jsonl" \;
fi
if [ "${CIFAR:-0}" = 1 ]; then
  bench --preset edm-cifar10 --batch 64 --repeats 5 --parts teacher --tag engine-edm-cifar10
  torch --preset edm-cifar10 --part teacher --batch 64
fi
for p in ${STOCK:-}; do
  DI_EXECUTOR=0 DI_CUSTOM_KERNELS=0 bench --preset "$p" --parts teacher,distill,profile --tag "stock-$p"
done
