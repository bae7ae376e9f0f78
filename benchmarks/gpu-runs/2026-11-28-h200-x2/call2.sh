#!/usr/bin/env bash
# GPU call 2 (2×H200): Diff-Instruct from the new conditional teacher (two EMA settings), from the
# unconditional teacher, refinement of gan-small against the new teacher, and a 10k-sample teacher eval.
set -u
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
source .device/boot.sh
source scripts/device-lib.sh
R=/tmp/r; mkdir -p $R/runs
di_isolate > $R/smi.txt 2>&1
END=${END:-510}
MD=$(awk -v e=$(el) -v end=$END 'BEGIN{printf "%.2f", (end-25-e)/60}')
T=models/fmnist-cond.safetensors
D="node dist/cli.mjs distill --device webgpu --max-minutes $MD --tick 4 --snap 2 --eval-n 5000 --lr-gen 1e-4 --lr-fake 1e-4 --outdir $R/runs"
( gpu 0 node dist/cli.mjs eval --device webgpu --seeds 0-9999 --steps 18 --batch 500 --network $T > $R/eval-teacher-10k.log 2>&1 ) &
( gpu 0 $D --teacher $T --desc ikl-v3-lr1e-4 > $R/distill-a.log 2>&1 ) &
( gpu 0 $D --teacher models/fmnist-uncond.safetensors --desc ikl-uncond-lr1e-4 > $R/distill-u.log 2>&1 ) &
( gpu 1 $D --teacher $T --ema-rampup 0.25 --desc ikl-v3-lr1e-4-ema25 > $R/distill-b.log 2>&1 ) &
( gpu 1 node dist/cli.mjs refine --device webgpu --teacher $T --generator models/gan-small.safetensors --tick 4 --snap 2 --eval-n 5000 --batch 64 --lr-gen 1e-5 --lr-fake 1e-5 --max-minutes $MD --desc refine-gan-small-v3 --outdir $R/runs > $R/refine-small.log 2>&1 ) &
( for k in 1 2 3; do sleep 120; echo "== $(el)s" >> $R/smi-during.txt; nvidia-smi --query-gpu=index,memory.used,utilization.gpu --format=csv,noheader >> $R/smi-during.txt; done ) &
while [ $(el) -lt $END ] && [ -n "$(jobs -r | grep -v sleep)" ]; do sleep 3; done
echo "packing at $(el)s" >> $R/smi.txt
pkill -INT -f "dist/cli.mjs" ; sleep 4; pkill -9 -f "dist/cli.mjs"
rm -f $R/runs/*/training-state-* $R/runs/*/events.out.*
# keep, per run, the last snapshot and the one with the lowest FD
for d in $R/runs/*/; do
  last=$(ls $d/generator-snapshot-* 2>/dev/null | tail -1)
  k=$(grep "metrics @" $d/log.txt | grep -v initial | awk '{print $3, $8}' | sort -k2 -g | head -1 | awk '{printf "%06d", int($1)}')
  for f in $d/generator-snapshot-*; do [ "$f" = "$last" ] || [ "$f" = "$d/generator-snapshot-$k.safetensors" ] || rm -f "$f"; done
done
for f in $R/*.log; do grep -v "Warning\|artificially" $f > $f.tmp; mv $f.tmp $f; done
cp $R/smi.txt $OUT/summary.txt; for f in $R/*.log $R/smi-during.txt; do echo "=== $f"; tail -4 $f; done >> $OUT/summary.txt 2>/dev/null
(cd $R && tar cf - . | xz -T16 -1 > /tmp/pack.tar.xz) && split -b 15M /tmp/pack.tar.xz $OUT/pack.part-
ls -la $OUT; echo "done at $(el)s"
