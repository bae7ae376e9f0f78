"""Samples a class-conditional EDM network pickle with NVlabs/edm's own sampler, class by class, into PNG
folders that `scripts/edm/eval-class-folders.ts` scores with our evaluator (FD-FMNIST, class accuracy):

  python3 scripts/edm/sample_classes.py --edm-dir edm --pkl network-snapshot.pkl --out samples
      [--per-class 1000] [--steps 18] [--batch 500] [--device cuda|cpu]

writes <out>/<class>/<seed, 6 digits>.png, class c taking seeds c·per_class … (c+1)·per_class − 1. Each
image has its own seed through generate.py's StackedRandomGenerator (image k is the same at any batch
size), the sampler is generate.py's `edm_sampler` with its defaults (Heun, `steps` steps = 2·steps − 1
network evaluations, σ 0.002…80, ρ 7, no churn) and the pixels are generate.py's
`(x·127.5 + 128).clip(0, 255)` as uint8. Our code; NVlabs/edm is not part of this repository.
"""
import argparse
import os
import pickle
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from edmio import import_edm  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--edm-dir', required=True, help='an NVlabs/edm checkout (generate.py, dnnlib/, torch_utils/)')
    ap.add_argument('--pkl', required=True, help="network pickle with an 'ema' entry, as EDM's training loop writes")
    ap.add_argument('--out', required=True, help='folder for <class>/<seed>.png')
    ap.add_argument('--per-class', type=int, default=1000, help='images per class')
    ap.add_argument('--steps', type=int, default=18, help='Heun steps (2·steps − 1 network evaluations)')
    ap.add_argument('--batch', type=int, default=500, help='images per network call')
    ap.add_argument('--device', choices=['cuda', 'cpu'], default='cuda')
    a = ap.parse_args()
    if a.per_class < 1 or a.steps < 2 or a.batch < 1:
        raise SystemExit('sample_classes.py: --per-class and --batch must be >= 1, --steps >= 2')
    import_edm(a.edm_dir)  # also puts generate.py on the path
    import numpy as np
    import PIL.Image
    import torch
    from generate import StackedRandomGenerator, edm_sampler

    device = torch.device(a.device)
    with open(a.pkl, 'rb') as f:
        net = pickle.load(f)['ema'].eval().to(device)
    if net.label_dim == 0:
        raise SystemExit(f'{a.pkl}: the network is unconditional (label_dim 0); this script samples per class')
    t0 = time.time()
    for c in range(net.label_dim):
        os.makedirs(os.path.join(a.out, str(c)), exist_ok=True)
        seeds = list(range(c * a.per_class, (c + 1) * a.per_class))
        for i in range(0, len(seeds), a.batch):
            batch_seeds = seeds[i:i + a.batch]
            rnd = StackedRandomGenerator(device, batch_seeds)
            latents = rnd.randn([len(batch_seeds), net.img_channels, net.img_resolution, net.img_resolution], device=device)
            labels = torch.zeros([len(batch_seeds), net.label_dim], device=device)
            labels[:, c] = 1
            with torch.no_grad():
                x = edm_sampler(net, latents, labels, randn_like=rnd.randn_like, num_steps=a.steps)
            u8 = (x * 127.5 + 128).clip(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
            for seed, im in zip(batch_seeds, u8):
                PIL.Image.fromarray(im[:, :, 0] if im.shape[2] == 1 else im, 'L' if im.shape[2] == 1 else 'RGB').save(os.path.join(a.out, str(c), f'{seed:06d}.png'))
    n = a.per_class * net.label_dim
    print(f'sampled {n} images ({a.per_class} per class, {a.steps} Heun steps) in {time.time() - t0:.1f} s on {a.device}')


if __name__ == '__main__':
    main()
