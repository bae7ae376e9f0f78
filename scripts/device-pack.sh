#!/usr/bin/env bash
# Packs a GPU run into ./.device, smaller than ../shared/device/pack.sh: the CLI is bundled with esbuild
# into dist/cli.mjs (every JS dependency inlined except jax-js and the native `webgpu` package, which
# travel as node_modules), so tsx/esbuild/zod need not travel and the 64 MiB carry limit leaves room for
# data files. Extra paths (models, data caches) are added to the tree as given.
#   bash scripts/device-pack.sh [extra paths...]      then: carry [".device"], command
#   source .device/boot.sh && node dist/cli.mjs <command> ...
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
grep -qxF '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >> .git/info/exclude
shared=$(cd "$root/../shared/device" && pwd)
mkdir -p .device/debs
cp "$shared/boot.sh" .device/boot.sh
# node binary: reuse a packed copy when it is the same node
node_bin=$(readlink -f "$(command -v node)")
stamp="$(node --version) $(stat -c %s "$node_bin")"
if [ ! -f .device/node.xz ] || [ "$(cat .device/node.stamp 2>/dev/null)" != "$stamp" ]; then
  xz -T2 -6 -c "$node_bin" > .device/node.xz && echo "$stamp" > .device/node.stamp
fi
# Vulkan/EGL loaders for Dawn on the GPU machine
lists=/tmp/device-apt-lists
if [ -z "$(ls /tmp/device-debs 2>/dev/null)" ]; then
  mkdir -p /tmp/device-debs "$lists/partial"
  o="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$lists"
  apt-get $o update -qq >/dev/null 2>&1 || true
  (cd /tmp/device-debs && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null 2>&1) || true
fi
rm -f .device/debs/*.deb; cp /tmp/device-debs/*.deb .device/debs/ 2>/dev/null || echo "device-pack: warning: no Vulkan loader packages" >&2

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
node_modules/.bin/esbuild src/cli/main.ts --bundle --platform=node --format=esm --target=node20 \
  --external:webgpu --external:@jax-js/jax --outfile="$stage/dist/cli.mjs" \
  --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" --log-level=warning
# the conv kernel checks (issue 26: f16 against f32, f32 tile variants), bundled the same way: dist/<name>.mjs
for tool in f16-check conv-sweep; do
  node_modules/.bin/esbuild "benchmarks/gpu/$tool.mjs" --bundle --platform=node --format=esm --target=node20 \
    --external:webgpu --external:@jax-js/jax --outfile="$stage/dist/$tool.mjs" \
    --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" --log-level=warning
done
mkdir -p "$stage/node_modules/@jax-js" "$stage/node_modules/webgpu/dist"
cp -r node_modules/@jax-js/jax "$stage/node_modules/@jax-js/jax"
cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$stage/node_modules/webgpu/"
cp -r node_modules/webgpu/dist/linux-x64 "$stage/node_modules/webgpu/dist/"
for dep in debug ms; do [ -d "node_modules/$dep" ] && cp -r "node_modules/$dep" "$stage/node_modules/$dep"; done
cp package.json "$stage/package.json"
# the presets quickstart reads (configs/quickstart-fmnist-*.json) and the example configs: a few KiB
cp -r configs "$stage/configs"
# PyTorch reference bench (benchmarks/pytorch/bench_edm.py) and EDM's own training/sampling
# (benchmarks/gpu/edm-teacher.sh) need NVlabs/edm's code: not in this repo; EDM_DIR=<checkout> packs its
# train.py, generate.py, training/, torch_utils/ and dnnlib/ into edm/ (~0.2 MB).
if [ -n "${EDM_DIR:-}" ]; then
  mkdir -p "$stage/edm"
  cp -r "$EDM_DIR/training" "$EDM_DIR/torch_utils" "$EDM_DIR/dnnlib" "$EDM_DIR/train.py" "$EDM_DIR/generate.py" "$stage/edm/"
  find "$stage/edm" -name __pycache__ -prune -exec rm -rf {} +
fi
for extra in "$@"; do mkdir -p "$stage/$(dirname "$extra")"; cp -r "$extra" "$stage/$extra"; done
tar -C "$stage" -cf - . | xz -T2 -3 > .device/tree.tar.xz
du -sh .device/* | sed 's/^/device-pack: /'
echo "device-pack: .device holds $(du -sm .device | cut -f1) MiB (the carry limit is 64 MiB with the tracked files)"
