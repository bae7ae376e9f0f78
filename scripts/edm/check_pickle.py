"""Checks an EDM network pickle with NVlabs/edm's own code (used by src/teacher/edm-convert.test.ts).

  python3 scripts/edm/check_pickle.py --edm-dir D --pkl a.pkl --same-as b.pkl
      exits 0 when both pickles' 'ema' networks have the same wrapper, init_kwargs and state_dict
      (every tensor torch.equal), else 1 naming the first difference.
  python3 scripts/edm/check_pickle.py --edm-dir D --pkl a.pkl --sample-in in.safetensors --sample-out out.safetensors [--steps 5]
      runs generate.py's edm_sampler on the pickle's 'ema' network (CPU, S_churn 0) from the file's
      'latents' (and 'class_labels' if present) and writes 'x'.
"""
import argparse
import os
import pickle
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from edmio import import_edm, read_safetensors, write_safetensors  # noqa: E402


def load(path):
    with open(path, 'rb') as f:
        return pickle.load(f)['ema']


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--edm-dir', required=True)
    ap.add_argument('--pkl', required=True)
    ap.add_argument('--same-as', default='')
    ap.add_argument('--sample-in', default='')
    ap.add_argument('--sample-out', default='')
    ap.add_argument('--steps', type=int, default=5)
    a = ap.parse_args()
    import_edm(a.edm_dir)
    import torch
    net = load(a.pkl)
    if a.same_as:
        other = load(a.same_as)
        if type(net).__name__ != type(other).__name__:
            raise SystemExit(f'wrapper {type(net).__name__} != {type(other).__name__}')
        if dict(net.init_kwargs) != dict(other.init_kwargs):
            raise SystemExit(f'init_kwargs differ: {dict(net.init_kwargs)} != {dict(other.init_kwargs)}')
        sa, sb = net.state_dict(), other.state_dict()
        if list(sa) != list(sb):
            raise SystemExit(f'state_dict keys differ: {sorted(set(sa) ^ set(sb))[:5]}')
        for k in sa:
            if sa[k].dtype != sb[k].dtype or not torch.equal(sa[k], sb[k]):
                raise SystemExit(f"tensor '{k}' differs")
        print(f'identical: {type(net).__name__}, {len(sa)} tensors')
    if a.sample_in:
        sys.path.insert(0, os.path.abspath(a.edm_dir))
        from generate import edm_sampler
        t, _ = read_safetensors(a.sample_in)
        labels = torch.from_numpy(t['class_labels']) if 'class_labels' in t else None
        with torch.no_grad():
            x = edm_sampler(net.eval(), torch.from_numpy(t['latents']), labels, num_steps=a.steps)
        write_safetensors(a.sample_out, {'x': x.float().numpy()}, {})
        print(f'sampled {x.shape[0]} images in {a.steps} steps')


if __name__ == '__main__':
    main()
