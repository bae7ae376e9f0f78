"""PyTorch reference for `diff-instruct bench`: the same EDM SongUNet + EDMPrecond train step in PyTorch.

Runs NVlabs/edm's own `training/networks.py` (not in this repo: put a checkout's `training/`, `dnnlib/` and
`torch_utils/` on PYTHONPATH, e.g. `scripts/device-pack.sh` copies them into .device/edm) with the
config of our presets, batch 128, 28x28x1, 10 classes, EDM loss (P_mean -1.2, P_std 1.2, sigma_data
0.5), Adam, as EDM's training loop does it (fp32; TF32 off unless --tf32). Prints one JSON line.

    python3 benchmarks/pytorch/bench_edm.py --preset fmnist-small [--tf32] [--repeats 50]
"""
import argparse, json, time
import torch
from training.networks import EDMPrecond

PRESETS = {  # must match SONG_UNET_PRESETS in src/nets/song-unet.ts
    'fmnist-small': dict(model_channels=32, channel_mult=[1, 2, 2], channel_mult_emb=4, num_blocks=1, attn_resolutions=[], dropout=0.1),
    'fmnist-base': dict(model_channels=64, channel_mult=[1, 2, 2], channel_mult_emb=4, num_blocks=2, attn_resolutions=[7], dropout=0.1),
}

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--preset', default='fmnist-small')
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--repeats', type=int, default=50)
    ap.add_argument('--tf32', action='store_true')
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = a.tf32
    torch.backends.cudnn.allow_tf32 = a.tf32
    torch.backends.cudnn.benchmark = True  # as EDM's train.py (--bench default True)
    dev = torch.device('cuda')
    net = EDMPrecond(img_resolution=28, img_channels=1, label_dim=10, model_type='SongUNet', **PRESETS[a.preset]).to(dev).train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8)
    B = a.batch
    x = torch.rand(B, 1, 28, 28, device=dev) * 2 - 1
    labels = torch.nn.functional.one_hot(torch.randint(0, 10, (B,), device=dev), 10).float()

    def step():
        # EDMLoss (training/loss.py): sigma = exp(randn*P_std + P_mean), weight (s^2+sd^2)/(s*sd)^2
        sigma = (torch.randn(B, 1, 1, 1, device=dev) * 1.2 - 1.2).exp()
        w = (sigma ** 2 + 0.25) / (sigma * 0.5) ** 2
        n = torch.randn_like(x) * sigma
        D = net(x + n, sigma, labels)
        loss = (w * (D - x) ** 2).sum() / B
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    for _ in range(5):
        step()
    torch.cuda.synchronize()
    ms = []
    for _ in range(a.repeats):
        t = time.perf_counter()
        step().item()
        torch.cuda.synchronize()
        ms.append((time.perf_counter() - t) * 1000)
    ms.sort()
    med = ms[len(ms) // 2]
    params = sum(p.numel() for p in net.parameters())
    print(json.dumps({'framework': f'pytorch {torch.__version__}', 'card': torch.cuda.get_device_name(), 'preset': a.preset, 'params': params,
                      'batch': B, 'tf32': a.tf32, 'medianMs': med, 'imagesPerSec': B / med * 1000, 'samplesMs': ms}))

if __name__ == '__main__':
    main()
