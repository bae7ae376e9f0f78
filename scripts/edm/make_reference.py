"""Makes an EDM parity reference file (and optionally an EDM network pickle) with NVlabs/edm's own code.

  /usr/bin/python3 scripts/edm/make_reference.py --edm-dir /path/to/edm --precond EDMPrecond \
      --kwargs '{"img_resolution":16,"img_channels":3,"label_dim":10,"model_type":"DhariwalUNet",
                 "model_channels":64,"channel_mult":[1,2],"num_blocks":1,"attn_resolutions":[8]}' \
      --out test-data/edm-reference/adm-attn-cond-edm.safetensors [--pickle net.pkl] [--seed 0]

The network is built as EDM's train.py builds it (`<precond>(**kwargs)`), randomly initialised and then
perturbed (every parameter + N(0, 0.05²)) so that no weight is ~0, put in eval mode (no dropout). The file
holds the wrapper's full state_dict under EDM's names plus `fixture.*` tensors (test-data/edm-reference/
README.md): inputs x, sigma (0.002, 0.3, 2.5, 80), class_labels; D32 = net(x, sigma, labels) in float32;
c_in_x, c_noise from the wrapper's formulas in float64; F64 = the raw network in float64 on them;
latents and heun5 = generate.py's edm_sampler(net, latents, labels, num_steps=5). --pickle also writes
{'ema': net} as EDM's training loop does, which EDM's generate.py samples.
"""
import argparse
import copy
import json
import pickle
import sys
import os

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from edmio import edm_meta, import_edm, state_dict_arrays, write_safetensors  # noqa: E402


def scalings64(net, sigma):
    """(c_in, c_noise) of the wrapper in float64 (training/networks.py's formulas)."""
    import torch
    s = sigma.to(torch.float64)
    name = type(net).__name__
    if name == 'EDMPrecond':
        return 1 / (net.sigma_data ** 2 + s ** 2).sqrt(), s.log() / 4
    if name == 'VPPrecond':
        inv = ((net.beta_min ** 2 + 2 * net.beta_d * (1 + s ** 2).log()).sqrt() - net.beta_min) / net.beta_d
        return 1 / (s ** 2 + 1).sqrt(), (net.M - 1) * inv
    if name == 'VEPrecond':
        return torch.ones_like(s), (0.5 * s).log()
    raise SystemExit(f'{name} is not supported (EDMPrecond, VPPrecond, VEPrecond)')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--edm-dir', required=True, help='an NVlabs/edm checkout')
    ap.add_argument('--precond', required=True, choices=['EDMPrecond', 'VPPrecond', 'VEPrecond'])
    ap.add_argument('--kwargs', required=True, help='JSON keyword arguments of the wrapper (img_resolution, img_channels, label_dim, model_type, network arguments)')
    ap.add_argument('--out', required=True, help='reference .safetensors to write')
    ap.add_argument('--pickle', default='', help='also write an EDM network pickle {"ema": net}')
    ap.add_argument('--seed', type=int, default=0)
    a = ap.parse_args()
    networks = import_edm(a.edm_dir)
    import torch
    sys.path.insert(0, os.path.abspath(a.edm_dir))
    from generate import edm_sampler

    torch.manual_seed(a.seed)
    kwargs = json.loads(a.kwargs)
    net = getattr(networks, a.precond)(**kwargs)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    net.eval().requires_grad_(False)

    C, R, L = net.img_channels, net.img_resolution, net.label_dim
    g = torch.Generator().manual_seed(a.seed + 1)
    sigma = torch.tensor([0.002, 0.3, 2.5, 80.0])
    x = 0.5 * torch.randn([4, C, R, R], generator=g) + sigma.reshape(-1, 1, 1, 1) * torch.randn([4, C, R, R], generator=g)
    labels = torch.eye(L)[torch.arange(4) % L] if L else None
    latents = torch.randn([4, C, R, R], generator=g)
    with torch.no_grad():
        D32 = net(x, sigma, labels)
        c_in, c_noise = scalings64(net, sigma)
        c_in_x = c_in.reshape(-1, 1, 1, 1) * x.to(torch.float64)
        model64 = copy.deepcopy(net.model).double()
        F64 = model64(c_in_x, c_noise, None if labels is None else labels.double())
        heun5 = edm_sampler(net, latents, labels, num_steps=5)

    tensors = state_dict_arrays(net)
    fixture = {'x': x, 'sigma': sigma, 'D32': D32, 'c_in_x': c_in_x, 'c_noise': c_noise, 'F64': F64, 'latents': latents, 'heun5': heun5}
    if labels is not None:
        fixture['class_labels'] = labels
    for k, v in fixture.items():
        tensors[f'fixture.{k}'] = v.detach().float().numpy()
    meta = edm_meta(net)
    meta.update(torch=torch.__version__, seed=a.seed, note='eval mode; D32 = EDM forward in float32; F64 = raw model in float64; made by scripts/edm/make_reference.py')
    write_safetensors(a.out, tensors, {'edm': json.dumps(meta)})
    print(f'wrote {a.out}: {len(tensors)} tensors ({type(net).__name__}, {type(net.model).__name__})')
    if a.pickle:
        with open(a.pickle, 'wb') as f:
            pickle.dump({'ema': net}, f)
        print(f'wrote {a.pickle}')


if __name__ == '__main__':
    main()
