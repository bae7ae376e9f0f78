#!/usr/bin/env bash
# GPU call 3 (2×H200): GPU0 bench with the fused Adam/guard (phases itemised), PyTorch reference, 10k evals
# of the shipped generator; GPU1 two more unconditional Diff-Instruct runs.
set -u
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
source .device/boot.sh
source scripts/device-lib.sh
R=/tmp/r; mkdir -p $R/runs $R/bench
di_isolate > $R/smi.txt 2>&1
END=${END:-540}
MD=$(awk -v e=$(el) -v end=$END 'BEGIN{printf "%.2f", (end-25-e)/60}')
D="node dist/cli.mjs distill --device webgpu --max-minutes $MD --tick 4 --snap 2 --eval-n 5000 --outdir $R/runs --teacher models/fmnist-uncond.safetensors"
( gpu 1 $D --lr-gen 5e-5 --lr-fake 5e-5 --ema-rampup 0.25 --desc uncond-lr5e-5-ema25 > $R/distill-u1.log 2>&1 ) &
( gpu 1 $D --lr-gen 1e-4 --lr-fake 1e-4 --weighting normalized --desc uncond-lr1e-4-norm > $R/distill-u2.log 2>&1 ) &
( set -x
  gpu 0 timeout 240 node dist/cli.mjs bench --device webgpu --preset fmnist-small --repeats 10 --parts teacher,profile,phases,distill,sample --tag h200-fused-adam --out $R/bench > $R/bench.log 2>&1
  gpu 0 node dist/cli.mjs eval --device webgpu --seeds 0-9999 --batch 500 --network models/fmnist-cond-onestep.safetensors > $R/eval-onestep-10k.log 2>&1
  gpu 0 node dist/cli.mjs eval --device webgpu --seeds 0-9999 --batch 500 --network models/fmnist-uncond-onestep.safetensors > $R/eval-uncond-onestep-10k.log 2>&1
  gpu 0 node dist/cli.mjs eval --device webgpu --seeds 0-9999 --batch 500 --network models/gan-small-refined.safetensors > $R/eval-gan-small-refined-10k.log 2>&1
  gpu 0 node dist/cli.mjs eval --device webgpu --seeds 0-9999 --batch 500 --network models/gan-small.safetensors > $R/eval-gan-small-10k.log 2>&1
  ( cd .device/edm 2>/dev/null || cd /tmp; PYTHONPATH=$PWD gpu 0 timeout 120 python3 $OLDPWD/benchmarks/pytorch/bench_edm.py --preset fmnist-small --repeats 50 ) > $R/pytorch.log 2>&1
) 2> $R/gpu0-trace.log &
( for k in 1 2 3; do sleep 120; echo "== $(el)s" >> $R/smi-during.txt; nvidia-smi --query-gpu=index,memory.used,utilization.gpu --format=csv,noheader >> $R/smi-during.txt; done ) &
while [ $(el) -lt $END ] && [ -n "$(jobs -r | grep -v sleep)" ]; do sleep 3; done
echo "packing at $(el)s" >> $R/smi.txt
pkill -INT -f "dist/cli.mjs" ; sleep 4; pkill -9 -f "dist/cli.mjs"
rm -f $R/runs/*/training-state-* $R/runs/*/events.out.*
for d in $R/runs/*/; do
  last=$(ls $d/generator-snapshot-* 2>/dev/null | tail -1)
  k=$(grep "metrics @" $d/log.txt | grep -v initial | awk '{print $3, $8}' | sort -k2 -g | head -1 | awk '{printf "%06d", int($1)}')
  for f in $d/generator-snapshot-*; do [ "$f" = "$last" ] || [ "$f" = "$d/generator-snapshot-$k.safetensors" ] || rm -f "$f"; done
done
for f in $R/*.log; do grep -v "Warning\|artificially" $f > $f.tmp; mv $f.tmp $f; done
cp $R/smi.txt $OUT/summary.txt; for f in $R/*.log $R/smi-during.txt; do echo "=== $f"; tail -5 $f; done >> $OUT/summary.txt 2>/dev/null
(cd $R && tar cf - . | xz -T16 -1 > /tmp/pack.tar.xz) && split -b 15M /tmp/pack.tar.xz $OUT/pack.part-
ls -la $OUT; echo "done at $(el)s"
