#!/usr/bin/env bash
# Packs .edmcall/ (git-ignored), the carry folder of benchmarks/gpu/edm-teacher.sh, and checks that the
# call fits the device's 64 MiB working-tree limit (docs/issue30-plan.md):
#   .edmcall/edm/                 NVlabs/edm's train.py, generate.py, training/, dnnlib/, torch_utils/
#                                 (non-commercial licence: carried for the call, never committed)
#   .edmcall/fmnist-train.tar.xz  our Fashion-MNIST train split in EDM's PNG-folder layout
#                                 (scripts/edm/fmnist-dataset.ts --level 0, so xz sees the raw pixels)
#   EDM_DIR=<NVlabs/edm checkout> bash scripts/edm/pack-teacher-call.sh [--with-device]
# --with-device counts .device/ (scripts/device-pack.sh) too, for a call that also runs our CLI.
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
: "${EDM_DIR:?set EDM_DIR to an NVlabs/edm checkout (git clone https://github.com/NVlabs/edm)}"
[ -f "$EDM_DIR/train.py" ] && [ -f "$EDM_DIR/training/training_loop.py" ] || { echo "pack-teacher-call: $EDM_DIR is not an NVlabs/edm checkout" >&2; exit 1; }
grep -qxF '/.edmcall/' .git/info/exclude 2>/dev/null || echo '/.edmcall/' >> .git/info/exclude
rm -rf .edmcall/edm && mkdir -p .edmcall/edm
cp -r "$EDM_DIR/training" "$EDM_DIR/torch_utils" "$EDM_DIR/dnnlib" "$EDM_DIR/train.py" "$EDM_DIR/generate.py" .edmcall/edm/
find .edmcall/edm -name __pycache__ -prune -exec rm -rf {} +
if [ ! -f .edmcall/fmnist-train.tar.xz ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  npx tsx scripts/edm/fmnist-dataset.ts --out "$tmp/fmnist" --level 0
  tar -C "$tmp/fmnist" -cf - . | xz -T2 -9e > .edmcall/fmnist-train.tar.xz.tmp
  mv .edmcall/fmnist-train.tar.xz.tmp .edmcall/fmnist-train.tar.xz
fi
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
tracked=$(git ls-files -z | xargs -0 stat -c %s 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
untracked=$(git ls-files -z -o --exclude-standard | xargs -0 -r stat -c %s 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
carry=$(du -sb .edmcall | cut -f1)
device=0
[ "${1:-}" = --with-device ] && device=$(du -sb .device | cut -f1)
total=$((tracked + untracked + carry + device))
echo "pack-teacher-call: tracked $(mib "$tracked") + untracked $(mib "$untracked") + .edmcall $(mib "$carry") + .device $(mib "$device") = $(mib "$total") MiB (limit 64)"
[ "$total" -le $((64 * 1048576)) ] || { echo "pack-teacher-call: over the 64 MiB limit: see docs/issue30-plan.md" >&2; exit 1; }
