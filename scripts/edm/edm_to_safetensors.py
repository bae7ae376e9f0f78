"""EDM network pickle → EDM interchange .safetensors (the wrapper's full state_dict + __metadata__.edm).

  python3 scripts/edm/edm_to_safetensors.py --edm-dir /path/to/edm --pkl edm-cifar10-32x32-cond-vp.pkl --out edm.safetensors

Unpickling uses NVlabs/edm's own dnnlib/torch_utils (--edm-dir). The network is the pickle's 'ema' entry
(what EDM's generate.py samples). Constructor arguments come from the wrapped class's defaults plus the
recorded init_kwargs (scripts/edm/edmio.py `constructor_args`). `diff-instruct convert-edm` then makes
our checkpoint from the file; it also calls this script itself when given a .pkl.
"""
import argparse
import json
import os
import pickle
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from edmio import edm_meta, import_edm, state_dict_arrays, write_safetensors  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--edm-dir', required=True, help='an NVlabs/edm checkout')
    ap.add_argument('--pkl', required=True, help="EDM network pickle (a dict with 'ema', as EDM's training loop writes)")
    ap.add_argument('--out', required=True, help='.safetensors to write')
    ap.add_argument('--key', default='ema', help="which entry of the pickle (default 'ema')")
    a = ap.parse_args()
    import_edm(a.edm_dir)
    with open(a.pkl, 'rb') as f:
        data = pickle.load(f)
    net = data[a.key] if isinstance(data, dict) else data
    if type(net).__name__ not in ('EDMPrecond', 'VPPrecond', 'VEPrecond'):
        raise SystemExit(f"{a.pkl}: '{a.key}' is a {type(net).__name__}, expected EDMPrecond, VPPrecond or VEPrecond")
    meta = edm_meta(net)
    meta['source'] = os.path.basename(a.pkl)
    write_safetensors(a.out, state_dict_arrays(net), {'edm': json.dumps(meta)})
    print(f'wrote {a.out}: {type(net).__name__}({meta["model_type"]})')


if __name__ == '__main__':
    main()
