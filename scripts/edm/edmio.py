"""Shared helpers of the EDM converter scripts (scripts/edm/*.py): a dependency-free safetensors
reader/writer (numpy only; the `safetensors` package is not needed) and the NVlabs/edm import.

The scripts use NVlabs/edm's own code from a checkout the user names with --edm-dir (its licence is
non-commercial, so this repository does not ship it). The EDM *interchange file* they read and write is
a safetensors file holding a wrapper's full state_dict under EDM's names with __metadata__.edm =
JSON {precond, init_kwargs, model_kwargs, sigma_min, sigma_max}; `diff-instruct convert-edm` turns it
into our checkpoints and back (docs/convert-edm-checkpoint.md).
"""
import inspect
import json
import math
import os
import struct
import sys

import numpy as np

DTYPES = {'F32': np.float32, 'F64': np.float64, 'F16': np.float16, 'I64': np.int64, 'I32': np.int32}
NAMES = {np.dtype(v): k for k, v in DTYPES.items()}


def read_safetensors(path):
    """(tensors {name: np.ndarray}, metadata {str: str}) of a safetensors file."""
    with open(path, 'rb') as f:
        data = f.read()
    n = struct.unpack('<Q', data[:8])[0]
    header = json.loads(data[8:8 + n])
    metadata = header.pop('__metadata__', {}) or {}
    tensors = {}
    for name, info in header.items():
        if info['dtype'] not in DTYPES:
            raise SystemExit(f"{path}: tensor '{name}' has dtype {info['dtype']} (supported: {', '.join(DTYPES)})")
        begin, end = info['data_offsets']
        tensors[name] = np.frombuffer(data[8 + n + begin:8 + n + end], dtype=DTYPES[info['dtype']]).reshape(info['shape']).copy()
    return tensors, metadata


def write_safetensors(path, tensors, metadata):
    """Writes {name: np.ndarray} in the given order with string metadata (atomically: temp file, rename)."""
    header, chunks, offset = {}, [], 0
    for name, t in tensors.items():
        t = np.ascontiguousarray(t)
        if t.dtype not in NAMES:
            raise SystemExit(f"tensor '{name}' has dtype {t.dtype}, which this writer does not support")
        b = t.tobytes()
        header[name] = {'dtype': NAMES[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(b)]}
        chunks.append(b)
        offset += len(b)
    header['__metadata__'] = metadata
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * (-len(h) % 8)
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in chunks:
            f.write(b)
    os.replace(tmp, path)


def import_edm(edm_dir):
    """Puts an NVlabs/edm checkout on sys.path (dnnlib, torch_utils, training) and returns training.networks."""
    if not edm_dir or not os.path.isfile(os.path.join(edm_dir, 'training', 'networks.py')):
        raise SystemExit(f"--edm-dir {edm_dir!r} is not an NVlabs/edm checkout (no training/networks.py): git clone https://github.com/NVlabs/edm")
    sys.path.insert(0, os.path.abspath(edm_dir))
    try:
        import torch  # noqa: F401
    except ImportError:
        raise SystemExit('PyTorch is not installed for this Python (Debian: apt-get install python3-torch; or set DI_PYTHON to a Python that has it)')
    from training import networks
    return networks


def wrapped_class(obj):
    """The class EDM's @persistent_class decorated: its __init__ carries the defaults. The decorator's
    own __init__ is (*args, **kwargs), which is why reading defaults from type(obj) finds none (the
    KeyError: 'embedding_type' of the first converter)."""
    cls = type(obj)
    if hasattr(cls, '_orig_class_name'):  # torch_utils.persistence's Decorator subclass
        cls = cls.__bases__[0]
    return cls


def constructor_args(obj):
    """Full constructor arguments of a persistent EDM module: the wrapped class's defaults, then the
    keyword arguments EDM's persistence recorded (init_kwargs). Positional init_args are refused."""
    if getattr(obj, 'init_args', ()):
        raise SystemExit(f'{type(obj).__name__} was built with positional arguments; only keyword arguments are supported')
    params = inspect.signature(wrapped_class(obj).__init__).parameters
    args = {k: p.default for k, p in params.items() if p.default is not inspect.Parameter.empty}
    args.update(dict(obj.init_kwargs))
    return args


def jsonable(v):
    """JSON-safe copy: tuples → lists, numpy scalars → Python, ±inf → the strings 'inf'/'-inf'."""
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and math.isinf(v):
        return 'inf' if v > 0 else '-inf'
    return v


def unjson(v):
    """Inverse of `jsonable` for the constructor: 'inf' → float('inf')."""
    if isinstance(v, dict):
        return {k: unjson(x) for k, x in v.items()}
    if isinstance(v, list):
        return [unjson(x) for x in v]
    if v in ('inf', '-inf'):
        return float(v)
    return v


def edm_meta(net):
    """__metadata__.edm of a wrapper: class, recorded init_kwargs, the network's full arguments, σ range."""
    model_kwargs = constructor_args(net.model)
    for k in ('img_resolution', 'in_channels', 'out_channels', 'label_dim'):
        model_kwargs.pop(k, None)
    return {
        'precond': type(net).__name__,
        'init_kwargs': jsonable(dict(net.init_kwargs)),
        'model_kwargs': jsonable(model_kwargs),
        'model_type': type(net.model).__name__,
        'sigma_min': jsonable(float(net.sigma_min)),
        'sigma_max': jsonable(float(net.sigma_max)),
    }


def state_dict_arrays(net):
    """The wrapper's state_dict as float32 numpy arrays, in EDM's order."""
    return {k: v.detach().cpu().float().numpy() for k, v in net.state_dict().items()}
