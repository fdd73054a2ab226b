import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fakeResults, fig } from '../test-support/fake-results.js';
import { evaluateGoals } from './goals.js';
import { cell, renderMarkdown } from './markdown.js';
import { computeRatios } from './ratios.js';

describe('markdown report', () => {
  const md = renderMarkdown(fakeResults());

  test('states the engine, the command and the machine', () => {
    assert.match(md, /^# Benchmarks/);
    assert.match(md, /Engine: \*\*Linux driver \(namespaces \+ btrfs\)\*\*/);
    assert.match(md, /`npm run bench`/);
    assert.match(md, /\| CPU \| Test CPU \|/);
    assert.match(md, /\| nproc \| 2 \|/);
  });

  test('renders each figure with median, p95, n and its reproduction, pipes escaped', () => {
    assert.match(md, /\| tti\.echo \| 22\.0 ms \| 24\.0 ms \| 3 \| `repro tti\.echo` \|/);
    assert.match(md, /\| ↳ direct \| 1\.00 ms \| 1\.00 ms \| 3 \|/);
    assert.match(md, /`tar -C x -c \. \\\| podman import -`/);
    assert.match(md, /\| fork\.first \| not available in this build \|/);
  });

  test('ratios are peer ÷ mitos medians', () => {
    assert.match(md, /podman run ÷ mitos \| 10\.6x \|/);
  });

  test('goals say met / not met / not measured, with what bounds an unmet one', () => {
    assert.match(md, /\| time to interactive \| <= 5 ms median \| 22\.0 ms median \| not met \|/);
    assert.match(
      md,
      /\| exec round trip \| <= 1 ms median \| 5\.00 ms median \| not met \| the agent's fork\+exec .* 1\.00 ms .* add 4\.00 ms \|/,
    );
    assert.match(md, /\| fork to first exec \| <= 10 ms median \| - \| not measured \| not available in this build \|/);
    assert.match(
      md,
      /create-and-run faster than podman run and than crun run \(issue 19\) \| >= 6x podman and faster than crun \| 10\.6x podman \(mitos 32\.0 ms vs podman 340 ms\) \| not met \|/,
    );
  });

  test('create-and-run is met only with crun in the same run and slower than mitos', () => {
    const goalWith = (crunSamples: number[]) => {
      const r = fakeResults();
      r.figures.push(fig('peer.crun.python', 'crun', crunSamples));
      const ratios = computeRatios(r.figures);
      return evaluateGoals(r.figures, ratios).find((g) => g.id === 'goal.podman');
    };
    assert.equal(goalWith([40, 45, 50])?.status, 'met');
    assert.equal(goalWith([20, 25, 30])?.status, 'not met');
  });

  test('published hosted figures stay in their own labelled table', () => {
    const published = md.indexOf('## Published hosted figures');
    assert.ok(published > md.indexOf('## Goals'));
    assert.match(md.slice(published), /see computesdk\.com benchmarks/);
    assert.match(md.slice(published), /~27 ms/);
    assert.match(md.slice(published), /~104 ms/);
    assert.doesNotMatch(md.slice(0, published), /computesdk/);
  });

  test('a machine busier than its cores gets a warning with the host spawn gauge', () => {
    const busy = fakeResults();
    busy.machine.loadAvg = { start: [6, 5, 4], end: [3, 3, 3] };
    busy.figures.push(fig('peer.host.echo', 'host', [15, 16, 17]));
    assert.match(renderMarkdown(busy), /load average exceeded the 2 cores.*took 16\.0 ms median/);
    assert.doesNotMatch(md, /load average exceeded/);
  });

  test('cell() keeps a table row on one line', () => {
    assert.equal(cell('a | b\n c'), 'a \\| b c');
  });
});
