/**
 * EDM's published network configurations (Karras et al. 2022, NVlabs/edm train.py `--arch`), as our
 * net specs: the CIFAR-10 32×32 DDPM++ (`--arch=ddpmpp --cond=1`: SongUNet, 128 channels × [2,2,2],
 * 4 blocks, attention at 16, dropout 0.13, augment_dim 9 with the default `--augment=0.12`; ≈56M
 * parameters) and the ImageNet-64 ADM (`--arch=adm --dropout=0.10 --augment=0 --cond=1`: DhariwalUNet,
 * 192 × [1,2,3,4], 3 blocks, attention at 32/16/8, 1000 classes). Both use EDMPrecond. A converted
 * EDM checkpoint of either (docs/convert-edm-checkpoint.md) has exactly this config.
 */
import { SONG_UNET_DEFAULTS, type SongUNetConfig } from './song-unet.js';
import type { DhariwalUNetConfig } from './dhariwal-unet.js';

export type EdmPreset = 'edm-cifar10' | 'edm-imagenet64';
export const EDM_PRESET_NAMES = ['edm-cifar10', 'edm-imagenet64'] as const satisfies readonly EdmPreset[];

export type EdmPresetSpec = { net: 'song-unet'; netConfig: SongUNetConfig } | { net: 'dhariwal-unet'; netConfig: DhariwalUNetConfig };

/** The net spec of an EDM preset; `labelDim` 0 gives the unconditional variant. */
export function edmPresetSpec(preset: EdmPreset, labelDim?: number): EdmPresetSpec {
  if (preset === 'edm-cifar10') {
    return {
      net: 'song-unet',
      netConfig: {
        ...SONG_UNET_DEFAULTS,
        resampleFilter: [1, 1],
        imgResolution: 32,
        inChannels: 3,
        outChannels: 3,
        labelDim: labelDim ?? 10,
        modelChannels: 128,
        channelMult: [2, 2, 2],
        channelMultEmb: 4,
        numBlocks: 4,
        attnResolutions: [16],
        dropout: 0.13,
        augmentDim: 9,
      },
    };
  }
  if (preset === 'edm-imagenet64') {
    return {
      net: 'dhariwal-unet',
      netConfig: {
        imgResolution: 64,
        inChannels: 3,
        outChannels: 3,
        labelDim: labelDim ?? 1000,
        augmentDim: 0,
        modelChannels: 192,
        channelMult: [1, 2, 3, 4],
        channelMultEmb: 4,
        numBlocks: 3,
        attnResolutions: [32, 16, 8],
        dropout: 0.1,
        labelDropout: 0,
      },
    };
  }
  throw new Error(`unknown EDM preset '${preset}' (known: ${EDM_PRESET_NAMES.join(', ')})`);
}

export const isEdmPreset = (p: string): p is EdmPreset => (EDM_PRESET_NAMES as readonly string[]).includes(p);
