"""cuDNN on the convs that benchmarks/gpu/conv-sweep.mjs times with our kernels (issue 26): for each conv
of the list it writes (`--shapes-out`), x [B,C,H,H] and w [O,C,k,k] uniform in [-1, 1), 'same' padding,
stride 1, and the three convs of a training step: forward (conv2d), input gradient and weight gradient
(aten.convolution_backward with one output each, what autograd runs). Each is timed with CUDA events
over `--repeats` back-to-back calls after a warm-up (cudnn.benchmark on, as EDM's training), with TF32
off (fp32, as bench_edm.py by default) and on. Prints one JSON line per conv, kind and TF32 setting:
{preset, C, O, H, k, count, kind, tf32, ms, tflops}. Our own code.

    python3 benchmarks/pytorch/bench_convs.py convs.json [--repeats 20] [--device cuda|cpu]
"""
import argparse, json, time
import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('shapes')
    ap.add_argument('--repeats', type=int, default=20)
    ap.add_argument('--device', default='cuda')
    a = ap.parse_args()
    spec = json.load(open(a.shapes))
    B = spec['batch']
    dev = torch.device(a.device)
    cuda = dev.type == 'cuda'
    torch.backends.cudnn.benchmark = True

    def timed(fn):
        fn()  # warm-up (and cudnn.benchmark's algorithm search)
        if cuda:
            torch.cuda.synchronize()
            t0, t1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            t0.record()
            for _ in range(a.repeats):
                fn()
            t1.record()
            torch.cuda.synchronize()
            return t0.elapsed_time(t1) / a.repeats
        t = time.perf_counter()
        for _ in range(a.repeats):
            fn()
        return (time.perf_counter() - t) * 1e3 / a.repeats

    for c in spec['convs']:
        C, O, H, k = c['C'], c['O'], c['H'], c['k']
        p = k // 2
        x = torch.rand(B, C, H, H, device=dev) * 2 - 1
        w = torch.rand(O, C, k, k, device=dev) * 2 - 1
        dy = torch.rand(B, O, H, H, device=dev) * 2 - 1
        bwd = lambda mask: torch.ops.aten.convolution_backward(dy, x, w, None, [1, 1], [p, p], [1, 1], False, [0, 0], 1, mask)
        kinds = {
            'fwd': lambda: torch.nn.functional.conv2d(x, w, padding=p),
            'dgrad': lambda: bwd([True, False, False]),
            'wgrad': lambda: bwd([False, True, False]),
        }
        flops = 2 * B * O * C * H * H * k * k
        for tf32 in (False, True):
            torch.backends.cudnn.allow_tf32 = tf32
            torch.backends.cuda.matmul.allow_tf32 = tf32
            for kind, fn in kinds.items():
                ms = timed(fn)
                print(json.dumps({**c, 'batch': B, 'kind': kind, 'tf32': tf32, 'ms': round(ms, 5), 'tflops': round(flops / ms / 1e9, 3)}), flush=True)


if __name__ == '__main__':
    main()
