#!/usr/bin/env bash
# GPU call 1 (2×H200): GPU0 two teacher continuations from models/fmnist-cond (lr 1e-3 and 3e-4, batch 256)
# then Heun-35 eval of each; GPU1 Diff-Instruct (IKL, lr 1e-4) from models/fmnist-cond and refinement of gan-base.
set -u
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
source .device/boot.sh
source scripts/device-lib.sh
di_dataset carry/fashion-mnist-train.raw.xz
R=/tmp/r; mkdir -p $R/runs
di_isolate > $R/smi.txt 2>&1
echo "training starts $(el)s" >> $R/smi.txt
T=models/fmnist-cond.safetensors
END=${END:-500}
M=$(awk -v e=$(el) -v end=$END 'BEGIN{printf "%.2f", (end-60-e)/60}')
MD=$(awk -v e=$(el) -v end=$END 'BEGIN{printf "%.2f", (end-20-e)/60}')
teach() { # <lr> <desc>
  gpu 0 node dist/cli.mjs train-teacher --device webgpu --arch fmnist-small --init $T --duration 5000 --tick 20 --snap 5 --max-minutes $M --batch 256 --lr $1 --desc $2 --outdir $R/runs > $R/$2.log 2>&1
  gpu 0 node dist/cli.mjs eval --device webgpu --seeds 0-2999 --steps 18 --batch 500 --network $(ls $R/runs/*-$2/network-snapshot-*.safetensors | tail -1) > $R/eval-$2.log 2>&1
}
( teach 0.001 cond-v3-lr1e-3 ) &
( teach 0.0003 cond-v3-lr3e-4 ) &
( gpu 1 node dist/cli.mjs distill --device webgpu --teacher $T --max-minutes $MD --tick 4 --snap 2 --eval-n 5000 --lr-gen 1e-4 --lr-fake 1e-4 --desc ikl-v2-lr1e-4 --outdir $R/runs > $R/distill.log 2>&1 ) &
( gpu 1 node dist/cli.mjs refine --device webgpu --teacher $T --generator models/gan-base.safetensors --tick 4 --snap 2 --eval-n 5000 --batch 64 --lr-gen 1e-5 --lr-fake 1e-5 --max-minutes $MD --desc refine-gan-base --outdir $R/runs > $R/refine-base.log 2>&1 ) &
( for k in 1 2 3; do sleep 120; echo "== $(el)s" >> $R/smi-during.txt; nvidia-smi --query-gpu=index,memory.used,utilization.gpu --format=csv,noheader >> $R/smi-during.txt; done ) &
while [ $(el) -lt $END ] && [ -n "$(jobs -r | grep -v sleep)" ]; do sleep 3; done
echo "packing at $(el)s" >> $R/smi.txt
pkill -INT -f "dist/cli.mjs" ; sleep 4; pkill -9 -f "dist/cli.mjs"
rm -f $R/runs/*/training-state-* $R/runs/*/events.out.*
for d in $R/runs/*-refine-gan-base/ $R/runs/*-cond-v3-*/; do for p in network-snapshot generator-snapshot; do ls $d/$p-* 2>/dev/null | head -n -1 | xargs -r rm -f; done; done
for f in $R/*.log; do grep -v "Warning\|artificially" $f > $f.tmp; mv $f.tmp $f; done
cp $R/smi.txt $OUT/summary.txt; for f in $R/*.log $R/smi-during.txt; do echo "=== $f"; tail -6 $f; done >> $OUT/summary.txt 2>/dev/null
(cd $R && tar cf - . | xz -T16 -1 > /tmp/pack.tar.xz) && split -b 15M /tmp/pack.tar.xz $OUT/pack.part-
ls -la $OUT; echo "done at $(el)s"
