// The page's URL settings (web/src/url-settings.ts): every bad value and unknown key is named on one line
// and replaced by its default; good values pass through; nothing throws.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseUrlSettings } from '../src/url-settings.ts';
import { playgroundConfig } from '../src/toy-config.ts';

test('bad URL settings are named, one line each, and their defaults used', () => {
  const bad: [string, RegExp][] = [
    ['toy=nonexistent', /toy=nonexistent is not valid \(teacher 'toy:nonexistent' is not a 2-D teacher here: use one of ring8/],
    ['toy=moons', /toy=moons is not valid .*only Gaussian mixtures/],
    ['device=foo', /device=foo is not valid/],
    ['steps=abc', /steps=abc is not valid/],
    ['steps=', /steps= is not valid/],
    ['distillLoss=bogus', /distillLoss=bogus is not valid/],
    ['teacherSteps=0', /teacherSteps=0 is not valid/],
    ['galleryBatch=1000', /galleryBatch=1000 is not valid/],
    ['lrGen=-1', /lrGen=-1 is not valid/],
    ['fakeSteps=0', /fakeSteps=0 is not valid \(fake : generator steps 0 is only valid with loss SDS/],
    ['frobnicate=3', /frobnicate=3 is not known: ignored \(known: device, /],
  ];
  const defaults = parseUrlSettings('');
  assert.deepEqual(defaults.problems, []);
  for (const [q, want] of bad) {
    const s = parseUrlSettings(`?${q}`);
    assert.equal(s.problems.length, 1, `${q}: ${s.problems.join(' | ')}`);
    assert.match(s.problems[0], want);
    assert.doesNotMatch(s.problems[0], /\n/);
    assert.deepEqual(s.page, defaults.page, `${q} leaves the page settings at their defaults`);
    assert.deepEqual(s.playground, {}, `${q} leaves the playground at its defaults`);
  }
});

test('good URL settings pass; clashing ones are dropped together', () => {
  const s = parseUrlSettings('?toy=grid25&loss=sid&steps=500&device=wasm&teacherSteps=2&distillLoss=dmd&distillLrGen=1e-4&seed=3');
  assert.deepEqual(s.problems, []);
  assert.deepEqual(s.playground, { teacher: 'toy:grid25', loss: 'sid', seed: 3 });
  assert.equal(s.page.steps, 500);
  assert.equal(s.page.device, 'wasm');
  assert.equal(s.page.teacherSteps, 2);
  assert.equal(s.page.distillLoss, 'dmd');
  assert.equal(s.page.distillLrGen, 1e-4);
  const clash = parseUrlSettings('?sigmaDist=karras&sigmaMin=5&sigmaMax=1&loss=dmd');
  assert.equal(clash.problems.length, 1);
  assert.match(clash.problems[0], /do not fit together \(σ_min 5 must be below σ_max 1\)/);
  assert.deepEqual(clash.playground, {});
});

test('playgroundConfig refuses σ_min ≥ σ_max for the distributions that use them, and non-mixture toys', () => {
  assert.throws(() => playgroundConfig({ sigmaDist: 'loguniform', sigmaMin: 2, sigmaMax: 2 }), /σ_min 2 must be below σ_max 2/);
  assert.doesNotThrow(() => playgroundConfig({ sigmaDist: 'lognormal', sigmaMin: 2, sigmaMax: 1 }));
  assert.throws(() => playgroundConfig({ teacher: 'toy:' }), /not a 2-D teacher/);
});
