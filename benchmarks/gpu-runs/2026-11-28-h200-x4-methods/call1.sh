#!/usr/bin/env bash
# GPU call (4×H200, one process per GPU): four generator losses/settings distilling the shipped
# conditional teacher (models/fmnist-cond, FD 10.04) into one-step generators, same budget each;
# FD/KID/precision/recall/class accuracy on 5,000 samples every 8 kimg, then 10,000 samples of each run's
# best snapshot. IKL lr 1e-4 batch 128 is the shipped models/fmnist-cond-onestep recipe (FD 18.55, 10k).
set -u
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
source .device/boot.sh
source scripts/device-lib.sh
R=/tmp/r; mkdir -p $R/runs
di_isolate > $R/smi.txt 2>&1
TRAIN_END=${TRAIN_END:-440}
MD=$(awk -v e=$(el) -v end=$TRAIN_END 'BEGIN{printf "%.2f", (end-e)/60}')
D="node dist/cli.mjs distill --device webgpu --max-minutes $MD --duration 400 --tick 4 --snap 2 --eval-n 5000 --outdir $R/runs --teacher models/fmnist-cond.safetensors"
( gpu 0 $D --loss sid --sigma-dist karras --lr-gen 1e-4 --lr-fake 1e-4 --desc sid-karras-lr1e-4 > $R/distill-0.log 2>&1 ) &
( gpu 1 $D --loss dmd --lr-gen 1e-4 --lr-fake 1e-4 --desc dmd-lr1e-4 > $R/distill-1.log 2>&1 ) &
( gpu 2 $D --loss ikl --lr-gen 5e-5 --lr-fake 5e-5 --desc ikl-lr5e-5 > $R/distill-2.log 2>&1 ) &
( gpu 3 $D --loss ikl --lr-gen 1e-4 --lr-fake 1e-4 --batch 256 --desc ikl-lr1e-4-b256 > $R/distill-3.log 2>&1 ) &
( for k in 1 2 3; do sleep 100; echo "== $(el)s" >> $R/smi-during.txt; nvidia-smi --query-gpu=index,memory.used,utilization.gpu --format=csv,noheader >> $R/smi-during.txt; done ) &
wait $(jobs -p | head -4) 2>/dev/null
echo "training done at $(el)s" >> $R/smi.txt
# 10k-sample evaluation of each run's best (lowest 5k FD) snapshot, one GPU per run
i=0
for d in $R/runs/*/; do
  k=$(grep "metrics @" $d/log.txt | grep -v initial | awk '{print $3, $8}' | sed 's/,//' | sort -k2 -g | head -1 | awk '{printf "%06d", int($1)}')
  best=$d/generator-snapshot-$k.safetensors; [ -f "$best" ] || best=$(ls $d/generator-snapshot-* | tail -1)
  echo "$d best $best" >> $R/smi.txt
  ( gpu $i timeout $((590 - $(el))) node dist/cli.mjs eval --device webgpu --seeds 0-9999 --batch 500 --network $best > $d/eval-best-10k.log 2>&1 ) &
  i=$((i + 1))
done
wait
rm -f $R/runs/*/training-state-* $R/runs/*/events.out.*
for d in $R/runs/*/; do
  last=$(ls $d/generator-snapshot-* 2>/dev/null | tail -1)
  best=$(grep " best " $R/smi.txt | grep "$d" | awk '{print $3}')
  for f in $d/generator-snapshot-*; do [ "$f" = "$last" ] || [ "$f" = "$best" ] || rm -f "$f"; done
done
for f in $R/*.log $R/runs/*/*.log; do grep -v "Warning\|artificially" $f > $f.tmp; mv $f.tmp $f; done
cp $R/smi.txt $OUT/summary.txt; for f in $R/*.log $R/runs/*/eval-best-10k.log $R/smi-during.txt; do echo "=== $f"; tail -4 $f; done >> $OUT/summary.txt 2>/dev/null
(cd $R && tar cf - . | xz -T16 -1 > /tmp/pack.tar.xz) && split -b 15M /tmp/pack.tar.xz $OUT/pack.part-
ls -la $OUT; echo "done at $(el)s"
