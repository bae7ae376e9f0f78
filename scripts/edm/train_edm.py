"""Runs NVlabs/edm's own train.py (Karras et al. 2022) unchanged, with the few training-loop settings that
its command line does not expose, and on a CPU for dry runs. Everything after `--` goes to train.py.

  python3 scripts/edm/train_edm.py --edm-dir edm [--lr-rampup 10] [--num-blocks 2] [--attn 7]
      [--max-minutes 6] [--device cuda|cpu] -- --outdir runs --data fmnist --cond=1 --arch=ddpmpp ...

Why each setting (train.py hard-codes the others in training_loop's defaults or SongUNet's):
  --lr-rampup  training_loop's lr_rampup_kimg is 10,000 kimg (5 % of EDM's 200 Mimg CIFAR-10 runs); a
               one-Mimg run would end at a tenth of its learning rate. Ours (`train-teacher`) ramps 10 kimg.
  --num-blocks, --attn  SongUNet's num_blocks (4) and attn_resolutions ([16]) are not train.py options;
               at 28x28 the levels are 28, 14, 7, so [16] means no attention at all. Our fmnist-base
               preset is 64 channels x [1,2,2], 2 blocks, attention at 7 (src/nets/song-unet.ts).
  --max-minutes  training_loop stops when torch_utils.distributed.should_stop() says so (checked once a
               tick) and then writes its final network-snapshot-*.pkl; EDM's learning rate and EMA do not
               depend on the planned duration, so a run stopped on time equals a run planned that long.
               One process only: each rank would read its own clock.
  --ddp        one process has nothing to average, so by default DistributedDataParallel is replaced by
               the bare module (the same gradients) and the snapshot's cross-rank consistency check by
               nothing; torch.distributed, still initialised for train.py's barriers, uses gloo. Neither
               NCCL nor DDP then starts on the GPU machine, where they have not been tried (and NVlabs/edm
               issue #18 reports its DDP call failing with newer PyTorch). Several processes keep EDM's
               DDP and NCCL.
  --device cpu  a dry run without CUDA: gloo, DistributedDataParallel (if on) without device_ids,
               and CUDA memory statistics read as 0. EDM's files are not modified; the names patched here
               are module attributes that train.py and training_loop.py look up at call time.
On PyTorch >= 2.6 `torch.load` is called with weights_only=False, so that train.py --resume can read the
training state EDM pickles whole (written by an earlier run of this script).
The settings and the measured wall time go to <run dir>/wrapper_options.json beside EDM's
training_options.json. Our code; NVlabs/edm (non-commercial licence) is not part of this repository.
"""
import argparse
import contextlib
import json
import os
import socket
import sys
import time


def main():
    argv = sys.argv[1:]
    if '--' not in argv:
        raise SystemExit('train_edm.py: put train.py\'s own options after "--" (e.g. -- --outdir runs --data fmnist --cond=1)')
    cut = argv.index('--')
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--edm-dir', required=True, help='an NVlabs/edm checkout (train.py, training/, dnnlib/, torch_utils/)')
    ap.add_argument('--device', choices=['cuda', 'cpu'], default='cuda', help='cpu: a dry run without CUDA')
    ap.add_argument('--lr-rampup', type=float, default=10, help='linear learning-rate warm-up in kimg (EDM: 10000)')
    ap.add_argument('--num-blocks', type=int, default=None, help='SongUNet residual blocks per level (EDM: 4)')
    ap.add_argument('--attn', default=None, help='comma list of resolutions with self-attention, "" for none (EDM: 16)')
    ap.add_argument('--max-minutes', type=float, default=0, help='stop at the first tick after this many minutes, with a final snapshot (0: none)')
    ap.add_argument('--ddp', choices=['auto', 'on', 'off'], default='auto', help='DistributedDataParallel (auto: off for one process, on for several)')
    ap.add_argument('--dist-backend', choices=['nccl', 'gloo'], default=None, help='torch.distributed backend (default: nccl for several CUDA processes as EDM, else gloo)')
    a = ap.parse_args(argv[:cut])
    edm_args = argv[cut + 1:]
    if not os.path.isfile(os.path.join(a.edm_dir, 'train.py')) or not os.path.isfile(os.path.join(a.edm_dir, 'training', 'training_loop.py')):
        raise SystemExit(f'--edm-dir {a.edm_dir!r} has no train.py and training/training_loop.py: an NVlabs/edm checkout is needed')
    if a.lr_rampup < 0 or a.max_minutes < 0 or (a.num_blocks is not None and a.num_blocks < 1):
        raise SystemExit('train_edm.py: --lr-rampup and --max-minutes must be >= 0, --num-blocks >= 1')
    attn = None
    if a.attn is not None:
        try:
            attn = [int(r) for r in a.attn.split(',') if r.strip()]
        except ValueError:
            raise SystemExit(f'--attn {a.attn!r}: expected a comma list of resolutions, e.g. 7 or 14,7')
    several = int(os.environ.get('WORLD_SIZE', '1')) > 1
    ddp_on = a.ddp == 'on' or (a.ddp == 'auto' and several)
    backend = a.dist_backend or ('nccl' if a.device == 'cuda' and several else 'gloo')

    sys.path.insert(0, os.path.abspath(a.edm_dir))
    import torch
    from torch_utils import distributed as dist
    from training import training_loop as loop_module
    import train as edm_train

    start = time.time()
    device = torch.device(a.device)
    if a.device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('train_edm.py: --device cuda but torch sees no CUDA device (use --device cpu for a dry run)')

    def init():  # torch_utils.distributed.init with the backend chosen here (EDM: nccl; gloo on Windows)
        if not several and 'MASTER_PORT' not in os.environ:  # EDM's fixed 29500 clashes with any other run here
            with socket.socket() as sock:
                sock.bind(('localhost', 0))
                os.environ['MASTER_PORT'] = str(sock.getsockname()[1])
        for k, v in (('MASTER_ADDR', 'localhost'), ('MASTER_PORT', '29500'), ('RANK', '0'), ('LOCAL_RANK', '0'), ('WORLD_SIZE', '1')):
            os.environ.setdefault(k, v)
        torch.distributed.init_process_group(backend=backend, init_method='env://')
        if a.device == 'cuda':
            torch.cuda.set_device(int(os.environ['LOCAL_RANK']))
        from torch_utils import training_stats
        training_stats.init_multiprocessing(rank=dist.get_rank(), sync_device=device if dist.get_world_size() > 1 else None)
    dist.init = init

    # PyTorch >= 2.6 loads weights only by default; EDM's training state (--resume) pickles the whole
    # network module, written by this same run, so it needs the full unpickler EDM was written for.
    torch_load = torch.load
    torch.load = lambda *args, **kw: torch_load(*args, **{'weights_only': False, **kw})

    if a.max_minutes:
        if several:
            raise SystemExit('train_edm.py: --max-minutes needs a single process (each rank would stop on its own clock)')
        dist.should_stop = lambda: time.time() - start > a.max_minutes * 60

    if not ddp_on:
        class SingleProcess(torch.nn.Module):  # what DDP computes for one process: the module itself
            def __init__(self, module, **kw):
                super().__init__()
                self.module = module

            def forward(self, *args, **kw):
                return self.module(*args, **kw)

            @contextlib.contextmanager
            def no_sync(self):  # misc.ddp_sync skips the gradient all-reduce between accumulation rounds
                yield
        torch.nn.parallel.DistributedDataParallel = SingleProcess
        from torch_utils import misc
        misc.check_ddp_consistency = lambda module, ignore_regex=None: None  # compares ranks: one process agrees with itself
    elif a.device == 'cpu':
        ddp = torch.nn.parallel.DistributedDataParallel

        class CpuDDP(ddp):  # DDP takes device_ids only for CUDA modules
            def __init__(self, module, device_ids=None, **kw):
                super().__init__(module, device_ids=None, **kw)
        torch.nn.parallel.DistributedDataParallel = CpuDDP
    if a.device == 'cpu':
        for name in ('max_memory_allocated', 'max_memory_reserved'):
            setattr(torch.cuda, name, lambda *args, **kw: 0)
        torch.cuda.reset_peak_memory_stats = lambda *args, **kw: None

    edm_loop = loop_module.training_loop

    def training_loop(**c):
        c['lr_rampup_kimg'] = a.lr_rampup
        c['device'] = device
        if a.num_blocks is not None:
            c['network_kwargs']['num_blocks'] = a.num_blocks
        if attn is not None:
            c['network_kwargs']['attn_resolutions'] = attn
        run_dir = c.get('run_dir')
        record = dict(edm_args=edm_args, device=a.device, dist_backend=backend, ddp=ddp_on, lr_rampup_kimg=a.lr_rampup,
                      num_blocks=a.num_blocks, attn_resolutions=attn, max_minutes=a.max_minutes,
                      torch=torch.__version__, card=torch.cuda.get_device_name() if a.device == 'cuda' else 'cpu')
        write = lambda: run_dir and open(os.path.join(run_dir, 'wrapper_options.json'), 'w').write(json.dumps(record, indent=2) + '\n')
        write()
        t0 = time.time()
        edm_loop(**c)
        record['training_loop_seconds'] = round(time.time() - t0, 1)
        write()
    loop_module.training_loop = training_loop

    edm_train.main.main(args=edm_args, prog_name='train.py', standalone_mode=True)


if __name__ == '__main__':
    main()
