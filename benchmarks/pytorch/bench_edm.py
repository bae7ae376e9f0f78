"""PyTorch reference for `diff-instruct bench`: the same EDM SongUNet + EDMPrecond train step, and the same
Diff-Instruct iteration, in PyTorch.

Runs NVlabs/edm's own `training/networks.py` (not in this repo: put a checkout's `training/`, `dnnlib/` and
`torch_utils/` on PYTHONPATH, e.g. `scripts/device-pack.sh` copies them into .device/edm) with the
config of our presets, batch 128, 28x28x1, 10 classes, EDM loss (P_mean -1.2, P_std 1.2, sigma_data
0.5), Adam, as EDM's training loop does it (fp32; TF32 off unless --tf32). Prints one JSON line.

`--part distill` times one Diff-Instruct iteration as `bench --parts distill` runs it: a one-step generator
g_θ(z) = D_θ(σ_init·z, σ_init) (σ_init 2.5) initialised from the teacher, a fake score D_φ initialised from
the teacher, the teacher D_p frozen; (1) fake-score step: x0 = g_θ(z) without gradient, EDM's denoising
loss on x0 for D_φ, Adam (β1 0); (2) generator step: x0 = g_θ(z) with gradient, σ lognormal(-1.2, 1.2),
x_σ = x0 + σε, the IKL surrogate w·⟨D_φ(x_σ) − D_p(x_σ), x0⟩ with both scores detached (w = 1, the
'reference' weighting), Adam (β1 0). Dropout on in both networks, as ours. Our own code.

    python3 benchmarks/pytorch/bench_edm.py --preset fmnist-small [--part teacher|distill] [--tf32] [--repeats 50]
"""
import argparse, json, time
import torch
from training.networks import EDMPrecond

PRESETS = {  # must match SONG_UNET_PRESETS in src/nets/song-unet.ts
    'fmnist-small': dict(model_channels=32, channel_mult=[1, 2, 2], channel_mult_emb=4, num_blocks=1, attn_resolutions=[], dropout=0.1),
    'fmnist-base': dict(model_channels=64, channel_mult=[1, 2, 2], channel_mult_emb=4, num_blocks=2, attn_resolutions=[7], dropout=0.1),
    # EDM's CIFAR-10 DDPM++ (train.py --arch=ddpmpp --cond=1; src/nets/edm-presets.ts edm-cifar10), 32x32x3
    'edm-cifar10': dict(model_channels=128, channel_mult=[2, 2, 2], channel_mult_emb=4, num_blocks=4, attn_resolutions=[16], dropout=0.13,
                        augment_dim=9, embedding_type='positional', encoder_type='standard', decoder_type='standard',
                        channel_mult_noise=1, resample_filter=[1, 1]),
}
SHAPES = {'edm-cifar10': (3, 32)}  # (channels, resolution); the others are 28x28x1

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--preset', default='fmnist-small')
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--repeats', type=int, default=50)
    ap.add_argument('--tf32', action='store_true')
    ap.add_argument('--part', default='teacher', choices=['teacher', 'distill'])
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = a.tf32
    torch.backends.cudnn.allow_tf32 = a.tf32
    torch.backends.cudnn.benchmark = True  # as EDM's train.py (--bench default True)
    dev = torch.device('cuda')
    C, R = SHAPES.get(a.preset, (1, 28))
    net = EDMPrecond(img_resolution=R, img_channels=C, label_dim=10, model_type='SongUNet', **PRESETS[a.preset]).to(dev).train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8)
    B = a.batch
    x = torch.rand(B, C, R, R, device=dev) * 2 - 1
    labels = torch.nn.functional.one_hot(torch.randint(0, 10, (B,), device=dev), 10).float()

    def edm_loss(model, x0):
        # EDMLoss (training/loss.py): sigma = exp(randn*P_std + P_mean), weight (s^2+sd^2)/(s*sd)^2
        sigma = (torch.randn(B, 1, 1, 1, device=dev) * 1.2 - 1.2).exp()
        w = (sigma ** 2 + 0.25) / (sigma * 0.5) ** 2
        D = model(x0 + torch.randn_like(x0) * sigma, sigma, labels)
        return (w * (D - x0) ** 2).sum() / B

    if a.part == 'distill':
        import copy
        fake, gen = copy.deepcopy(net), copy.deepcopy(net)
        teacher = net.requires_grad_(False)  # frozen, dropout on as in ours
        opt_f = torch.optim.Adam(fake.parameters(), lr=1e-4, betas=(0.0, 0.999), eps=1e-8)
        opt_g = torch.optim.Adam(gen.parameters(), lr=1e-4, betas=(0.0, 0.999), eps=1e-8)
        s_init = torch.full((B, 1, 1, 1), 2.5, device=dev)

        def step():
            with torch.no_grad():
                x0 = gen(torch.randn(B, C, R, R, device=dev) * 2.5, s_init, labels)
            lf = edm_loss(fake, x0)
            opt_f.zero_grad(set_to_none=True)
            lf.backward()
            opt_f.step()
            x0 = gen(torch.randn(B, C, R, R, device=dev) * 2.5, s_init, labels)
            sigma = (torch.randn(B, 1, 1, 1, device=dev) * 1.2 - 1.2).exp()
            xs = x0.detach() + torch.randn_like(x0) * sigma
            with torch.no_grad():
                diff = fake(xs, sigma, labels) - teacher(xs, sigma, labels)
            lg = (diff * x0).sum() / B
            opt_g.zero_grad(set_to_none=True)
            lg.backward()
            opt_g.step()
            return lg

        return time_and_print(a, step, B, net)

    def step():
        loss = edm_loss(net, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    return time_and_print(a, step, B, net)


def time_and_print(a, step, B, net):
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
    # pipelined: steps back to back, one synchronisation at the end (how a training loop runs)
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(a.repeats):
        step()
    torch.cuda.synchronize()
    pipelined = (time.perf_counter() - t) * 1000 / a.repeats
    params = sum(p.numel() for p in net.parameters())
    print(json.dumps({'framework': f'pytorch {torch.__version__}', 'card': torch.cuda.get_device_name(), 'preset': a.preset, 'params': params,
                      'batch': B, 'tf32': a.tf32, 'part': a.part, 'medianMs': med, 'pipelinedMs': pipelined, 'imagesPerSec': B / med * 1000, 'samplesMs': ms}))

if __name__ == '__main__':
    main()
