"""EDM interchange .safetensors → an EDM network pickle that EDM's generate.py samples.

  python3 scripts/edm/safetensors_to_edm.py --edm-dir /path/to/edm --in edm.safetensors --out net.pkl [--state-dict sd.pt]

Builds `training.networks.<precond>(**init_kwargs)` with NVlabs/edm's own code (--edm-dir), loads the
file's tensors with `load_state_dict(strict=True)` (so a missing, extra or mis-shaped tensor fails),
and pickles {'ema': net} as EDM's training loop does. --state-dict also saves the state dict with
torch.save. `diff-instruct convert-edm <ours> <out>.pkl` writes the file and calls this script.
"""
import argparse
import json
import os
import pickle
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from edmio import import_edm, read_safetensors, unjson  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--edm-dir', required=True, help='an NVlabs/edm checkout')
    ap.add_argument('--in', dest='inp', required=True, help='EDM interchange .safetensors (diff-instruct convert-edm writes one)')
    ap.add_argument('--out', required=True, help='network pickle to write')
    ap.add_argument('--state-dict', default='', help='also torch.save the state dict here')
    a = ap.parse_args()
    networks = import_edm(a.edm_dir)
    import torch
    tensors, metadata = read_safetensors(a.inp)
    if 'edm' not in metadata:
        raise SystemExit(f"{a.inp}: no 'edm' metadata (not an EDM interchange file)")
    meta = json.loads(metadata['edm'])
    cls = getattr(networks, meta['precond'], None)
    if cls is None:
        raise SystemExit(f"{a.inp}: EDM has no wrapper {meta['precond']}")
    net = cls(**unjson(meta['init_kwargs']))
    state = {k: torch.from_numpy(v) for k, v in tensors.items() if not k.startswith('fixture.')}
    net.load_state_dict(state, strict=True)
    net.eval().requires_grad_(False)
    with open(a.out, 'wb') as f:
        pickle.dump({'ema': net}, f)
    if a.state_dict:
        torch.save(net.state_dict(), a.state_dict)
    print(f'wrote {a.out}: {meta["precond"]}({meta["init_kwargs"].get("model_type")}), load_state_dict(strict=True) took {len(state)} tensors')


if __name__ == '__main__':
    main()
