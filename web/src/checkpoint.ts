/**
 * Fetches a self-describing denoiser checkpoint (safetensors + `diff_instruct` JSON metadata: a teacher
 * snapshot, or a one-step generator that adds `sigmaInit`) and turns it into a ready denoiser, in the
 * browser: `parseSafetensors` on the fetched bytes, the SongUNet its metadata describes, its EDM
 * preconditioning. Shapes are checked against that network before anything reaches the device.
 */
import { params as ckpt, precond, safetensors, songUNet } from 'diff-instruct';
import type { generator } from 'diff-instruct';

export interface LoadedCheckpoint {
  url: string;
  bytes: number;
  meta: Record<string, any>;
  netConfig: songUNet.SongUNetConfig;
  denoiser: precond.Denoiser;
  /** On the default device; owned by the caller. */
  params: generator.Params;
  paramCount: number;
}

export type FetchResult = { status: 'missing'; url: string; message: string } | { status: 'ok'; ckpt: LoadedCheckpoint };

/**
 * The bytes of a file served next to the page, or why it is missing: a failed fetch, a 404, or the HTML
 * fallback page some static hosts serve for any path.
 */
export async function fetchBytes(url: string): Promise<{ bytes: Uint8Array } | { missing: string }> {
  let res: Response;
  try {
    res = await fetch(url, { cache: 'no-cache' });
  } catch (e) {
    return { missing: `could not fetch ${url} (${(e as Error).message})` };
  }
  const type = res.headers.get('content-type') ?? '';
  if (!res.ok || type.includes('text/html')) return { missing: `model file not found: ${url}` };
  return { bytes: new Uint8Array(await res.arrayBuffer()) };
}

/**
 * Fetches `url` and loads it as a denoiser of kind `kind` ('teacher' or 'generator'). A missing file
 * (404, or an HTML fallback page from a static host) is `{status: 'missing'}`; a file that is there but
 * wrong throws a one-line error naming the URL.
 */
export async function fetchCheckpoint(url: string, kind: 'teacher' | 'generator'): Promise<FetchResult> {
  const got = await fetchBytes(url);
  if ('missing' in got) return { status: 'missing', url, message: got.missing };
  const { bytes } = got;
  const parsed = safetensors.parseSafetensors(bytes, url);
  const meta = ckpt.parseMeta(url, parsed.metadata);
  if (!meta || typeof meta !== 'object') throw new Error(`'${url}' has no diff_instruct metadata`);
  if (meta.kind !== kind) throw new Error(`'${url}' holds a ${meta.kind ?? 'unknown'} checkpoint, expected ${kind}`);
  if (meta.net !== 'song-unet') throw new Error(`'${url}': metadata 'net' is ${JSON.stringify(meta.net)}, the gallery shows song-unet image models`);
  if (!(precond.PRECOND_KINDS as readonly string[]).includes(meta.precond)) throw new Error(`'${url}': metadata 'precond' is ${JSON.stringify(meta.precond)}`);
  if (!(typeof meta.sigmaData === 'number' && meta.sigmaData > 0)) throw new Error(`'${url}': metadata 'sigmaData' is ${JSON.stringify(meta.sigmaData)}`);
  if (kind === 'generator' && !(typeof meta.sigmaInit === 'number' && meta.sigmaInit > 0)) throw new Error(`'${url}': a generator needs metadata 'sigmaInit'`);
  // Checkpoints written before the NCSN++ fields existed are DDPM++: fill them in.
  const netConfig = songUNet.withSongUNetDefaults(meta.netConfig as Partial<songUNet.SongUNetConfig>);
  songUNet.validateSongUNetConfig(netConfig);
  const shapes = songUNet.songUNetShapes(netConfig);
  const { params } = ckpt.paramsFromSafetensors(parsed, url, { expect: shapes });
  const raw: precond.RawNet = (p, x, n, l, o) => songUNet.songUNet(netConfig, p, x, n, l, o);
  return {
    status: 'ok',
    ckpt: {
      url,
      bytes: bytes.length,
      meta,
      netConfig,
      denoiser: precond.precondition(meta.precond, raw, { sigmaData: meta.sigmaData }),
      params,
      paramCount: Object.values(shapes).reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0),
    },
  };
}
