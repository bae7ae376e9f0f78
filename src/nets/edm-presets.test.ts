/**
 * EDM presets: parameter counts equal those of NVlabs/edm's own networks, counted with PyTorch 1.13
 * (`sum(p.numel() for p in EDMPrecond(...).parameters())`, 2026-12-07):
 *   EDMPrecond(32, 3, label_dim=10, model_type='SongUNet', model_channels=128, channel_mult=[2,2,2],
 *              augment_dim=9, dropout=0.13)                                     → 55,735,299
 *   EDMPrecond(64, 3, label_dim=1000, model_type='DhariwalUNet', model_channels=192,
 *              channel_mult=[1,2,3,4], dropout=0.1)                              → 295,899,267
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { teacherNet } from '../teacher/net.js';
import { edmPresetSpec } from './edm-presets.js';

const count = (shapes: Record<string, number[]>) => Object.values(shapes).reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);

test("EDM presets have the parameter counts of EDM's own networks", () => {
  assert.equal(count(teacherNet(edmPresetSpec('edm-cifar10')).shapes), 55_735_299);
  assert.equal(count(teacherNet(edmPresetSpec('edm-imagenet64')).shapes), 295_899_267);
  assert.throws(() => edmPresetSpec('edm-lsun' as never), /unknown EDM preset 'edm-lsun'/);
});
