# Helpers for GPU runs on the device machine (source after .device/boot.sh):
#   source scripts/device-lib.sh
#   di_dataset carry/fashion-mnist-train.raw.xz     # unpack a dataset carried as raw xz (see below)
#   di_isolate                                       # one private /dev per GPU (multi-GPU machines)
#   gpu 2 node dist/cli.mjs train-teacher ...        # run on GPU 2 only (GPU 0 when not isolated)
#
# Why: Dawn (WebGPU) always takes the first adapter, so on a machine with several GPUs every process
# lands on GPU 0. `gpu N cmd` runs cmd in a mount namespace whose /dev holds only /dev/nvidiaN (plus
# the control nodes), read-only so the driver cannot recreate the others; measured on a 4×H200 machine
# (2026-11-28): four processes, four busy GPUs. The dataset: the carry limit is 64 MiB with the tracked
# files, and the Fashion-MNIST training cache compresses to 22.6 MB as raw xz against 26.5 MB as .didata:
#   gzip -dc .cache/datasets/fashion-mnist-train.didata | xz -9e > carry/fashion-mnist-train.raw.xz

di_dataset() { # <file.raw.xz>: writes .cache/datasets/<name>.didata and points DI_DATA_DIR there
  local src=$1 name
  name=$(basename "$src" .raw.xz)
  mkdir -p .cache/datasets && xz -dc "$src" | gzip -1 > ".cache/datasets/$name.didata"
  export DI_DATA_DIR=$PWD/.cache/datasets
}

DI_ISO=0
di_isolate() {
  local n i d
  n=$(nvidia-smi -L 2>/dev/null | wc -l)
  [ "$n" -gt 1 ] || return 0
  for i in $(seq 0 $((n - 1))); do
    d=/tmp/gdev$i
    mkdir -p $d && mount -t tmpfs -o mode=755 tmpfs $d && cp -a /dev/. $d/ 2>/dev/null
    for f in $d/nvidia[0-9]*; do [ "$f" = "$d/nvidia$i" ] || rm -f "$f"; done
    mount -o remount,ro $d
  done
  DI_ISO=1
  # probe: a process isolated to GPU 1 must still see an NVIDIA adapter
  gpu 1 node dist/cli.mjs devices 2>/dev/null | grep -qi "webgpu.*nvidia" || DI_ISO=0
  echo "device-lib: $n GPUs, isolation $([ $DI_ISO = 1 ] && echo on || echo OFF: every job shares GPU 0)"
}

gpu() { # <index> <command...>
  local i=$1
  shift
  if [ "$DI_ISO" = 1 ]; then
    CUDA_VISIBLE_DEVICES=$i unshare -m bash -c "mount --bind /tmp/gdev$i /dev && mount -t tmpfs tmpfs /dev/shm && exec \"\$@\"" gpu "$@"
  else
    "$@"
  fi
}
