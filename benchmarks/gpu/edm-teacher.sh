#!/usr/bin/env bash
# Issue 30: a class-conditional Fashion-MNIST teacher trained by NVlabs/edm's own train.py on the GPU
# machine, in one device call (docs/issue30-plan.md). Steps, each timed into $OUT/summary.txt:
#   1. unpack the dataset (EDM's PNG-folder layout from scripts/edm/fmnist-dataset.ts, carried as tar.xz);
#   2. train: scripts/edm/train_edm.py → EDM's train.py (ddpmpp, EDM preconditioning, 28×28×1, 10 classes;
#      default network = our fmnist-base layout: 64 channels × [1,2,2], 2 blocks, attention at 7, 6.99M
#      parameters) until MINUTES of training, with EDM's final snapshot;
#   3. that pickle → EDM interchange .safetensors (scripts/edm/edm_to_safetensors.py, Python only), which
#      `diff-instruct convert-edm` turns into our teacher (here when node is there, else on the CPU after);
#   4. 1,000 images per class with EDM's sampler (Heun, 18 steps = 35 NFE; scripts/edm/sample_classes.py),
#      which scripts/edm/eval-class-folders.ts scores with our evaluator on any CPU;
#   5. only when node is on PATH (.device carried and booted): convert-edm and our own `eval --network`
#      (Heun 35 NFE, EVAL_SEEDS) on WebGPU.
# Back under $OUT (≤ 8 files, 16 MiB each): summary.txt, run.tar (EDM's log.txt, stats.jsonl,
# training_options.json, our wrapper_options.json), edm-teacher.safetensors.part-aa/ab (split at 15 MiB),
# samples.tar.xz (PNG folders), and with node eval-heun35.json.
#   Run (repo root):  bash benchmarks/gpu/edm-teacher.sh
#   Knobs (environment): DATA=.edmcall/fmnist-train.tar.xz EDM=.edmcall/edm MINUTES=6.5 MIMG=3 BATCH=256
#     CBASE=64 CRES=1,2,2 BLOCKS=2 ATTN=7 LR=1e-3 RAMPUP=10 EMA=0.05 DROPOUT=0.1 FP16=0 LS=1 SEED=0
#     PER_CLASS=1000 EVAL_SEEDS=0-9999 STEPS=18 EVAL_ARGS= RESUME=0 DEVICE=cuda PYTHON=python3 NODE_CLI="node dist/cli.mjs"
# RESUME=1 continues the newest run's final training state on a machine still warm from the last call
# (a warm machine keeps /tmp for 30 s after a call; the 84 MB state cannot come back through $OUT).
# DEVICE=cpu with small MINUTES/BATCH/PER_CLASS is the CPU dry run (docs/issue30-plan.md records one).
set -u -o pipefail
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
DATA=${DATA:-.edmcall/fmnist-train.tar.xz}
EDM=${EDM:-.edmcall/edm}
MINUTES=${MINUTES:-6.5}   # wall-clock training budget; train.py stops at the first tick past it
MIMG=${MIMG:-3}           # EDM's --duration (Mimg): only a cap, since lr and EMA do not depend on it
BATCH=${BATCH:-256}  # our teachers' batch: twice the steps of EDM's 512 in a budget of minutes
CBASE=${CBASE:-64}; CRES=${CRES:-1,2,2}; BLOCKS=${BLOCKS:-2}; ATTN=${ATTN:-7}
LR=${LR:-1e-3}; RAMPUP=${RAMPUP:-10}; EMA=${EMA:-0.05}; DROPOUT=${DROPOUT:-0.1}; FP16=${FP16:-0}; LS=${LS:-1}; SEED=${SEED:-0}
TICK=${TICK:-20}
PER_CLASS=${PER_CLASS:-1000}; EVAL_SEEDS=${EVAL_SEEDS:-0-9999}; STEPS=${STEPS:-18}  # Heun steps: 2·18 − 1 = 35 NFE
DEVICE=${DEVICE:-cuda}; PYTHON=${PYTHON:-python3}; NODE_CLI=${NODE_CLI:-node dist/cli.mjs}
out=${OUT:-/tmp/out}; W=${WORK:-/tmp/edm-teacher}
mkdir -p "$out" "$W"
S=$out/summary.txt
log() { echo "[$(el)s] $*" | tee -a "$S"; }
fail() { log "FAILED: $*"; exit 1; }
[ -f "$DATA" ] || fail "no dataset at $DATA (scripts/edm/pack-teacher-call.sh makes it)"
[ -f "$EDM/train.py" ] && [ -f "$EDM/generate.py" ] || fail "no NVlabs/edm code at $EDM (train.py, generate.py, training/, dnnlib/, torch_utils/)"
export PYTHONUNBUFFERED=1
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"; $PYTHON -c 'import torch; print("torch", torch.__version__)'; } | tee -a "$S"

RESUME=${RESUME:-0}; resume=()
if [ "$RESUME" = 1 ]; then  # the machine is still warm from the last call: its $W is there
  state=$(ls "$W"/runs/*/training-state-*.pt 2>/dev/null | sort | tail -1)
  [ -n "$state" ] && [ -d "$W/fmnist" ] || fail "RESUME=1 but no training state under $W/runs (a fresh machine: the warm one was given back)"
  resume=(--resume="$state"); log "1. resuming from $state"
else
  log "1. dataset: unpacking $DATA"
  rm -rf "$W/fmnist" "$W/runs" && mkdir -p "$W/fmnist" && tar -C "$W/fmnist" -xJf "$DATA" || fail "cannot unpack $DATA"
  log "   $(find "$W/fmnist" -name '*.png' | wc -l) PNGs"
fi

log "2. training: EDM train.py, ${MINUTES} min budget, batch $BATCH, cbase $CBASE cres $CRES blocks $BLOCKS attn $ATTN fp16 $FP16"
train() {
  $PYTHON scripts/edm/train_edm.py --edm-dir "$EDM" --device "$DEVICE" --lr-rampup "$RAMPUP" \
    --num-blocks "$BLOCKS" --attn "$ATTN" --max-minutes "$MINUTES" -- \
    --outdir "$W/runs" --data "$W/fmnist" --cond=1 --arch=ddpmpp --precond=edm --cbase="$CBASE" --cres="$CRES" \
    --batch="$BATCH" --duration="$MIMG" --lr="$LR" --ema="$EMA" --dropout="$DROPOUT" --augment=0 --fp16="$FP16" --ls="$LS" \
    --tick="$TICK" --snap=25 --dump=100000 --seed="$SEED" --workers=2 --desc=fmnist-issue30 "${resume[@]}" 2>&1 | grep --line-buffered -v "Warning" > "$W/train.log"
}
train
RUN=$(ls -d "$W"/runs/*/ 2>/dev/null | sort | tail -1)
PKL=$(ls "$RUN"network-snapshot-*.pkl 2>/dev/null | tail -1)
grep -E "^tick|Aborting|Exiting|Error|error" "$W/train.log" | tail -4 | tee -a "$S"
(cd "$RUN" 2>/dev/null && tar cf "$out/run.tar" log.txt stats.jsonl training_options.json wrapper_options.json 2>/dev/null)
[ -n "$PKL" ] || { tail -30 "$W/train.log" >> "$S"; fail "training left no network snapshot"; }
log "   snapshot $(basename "$PKL") ($(du -m "$PKL" | cut -f1) MB)"

log "3. EDM interchange file"
$PYTHON scripts/edm/edm_to_safetensors.py --edm-dir "$EDM" --pkl "$PKL" --out "$W/edm-teacher.safetensors" 2>&1 | tee -a "$S"
split -b 15M "$W/edm-teacher.safetensors" "$out/edm-teacher.safetensors.part-"
sha256sum "$W/edm-teacher.safetensors" | tee -a "$S"

log "4. EDM sampler: $PER_CLASS per class, Heun $STEPS steps"
$PYTHON scripts/edm/sample_classes.py --edm-dir "$EDM" --pkl "$PKL" --out "$W/samples" --per-class "$PER_CLASS" --steps "$STEPS" --device "$DEVICE" 2>&1 | tee -a "$S"
tar -C "$W" -cf - samples | xz -T0 -1 > "$out/samples.tar.xz"  # tar alone pads each 0.3 KB PNG to 1 KB

if command -v node >/dev/null 2>&1 && [ -f dist/cli.mjs -o "$NODE_CLI" != "node dist/cli.mjs" ]; then
  log "5. convert-edm and our eval (Heun $STEPS steps, seeds $EVAL_SEEDS)"
  dev=$([ "$DEVICE" = cuda ] && echo webgpu || echo wasm)
  $NODE_CLI convert-edm "$W/edm-teacher.safetensors" "$W/teacher.safetensors" 2>&1 | tee -a "$S"
  $NODE_CLI eval --device $dev --network "$W/teacher.safetensors" --dataset fashion-mnist --seeds "$EVAL_SEEDS" --steps "$STEPS" \
    ${EVAL_ARGS:-} 2>&1 | grep -v "^Warning\|artificially" | tee "$W/eval.log" | tail -3 >> "$S"
  if grep -q '^{' "$W/eval.log"; then grep '^{' "$W/eval.log" | tail -1 > "$out/eval-heun35.json"; else log "   eval gave no metrics (its last lines are above)"; fi
else
  log "5. skipped: no node here (.device not carried); convert and eval after the call (docs/issue30-plan.md)"
fi
log "done"
ls -la "$out" >> "$S"
