// The worker's frame pacing (www/frames.js): paced frames, but never the strip's checkpoints or the last step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkpoints, frameDue, FRAME_MS } from '../../www/frames.js';

test('checkpoints: the first, each quarter and the last iteration', () => {
  assert.deepEqual(checkpoints(100), [1, 25, 50, 75, 100]);
  assert.deepEqual(checkpoints(2), [1, 1, 1, 2, 2]);
});

test('frames at most every FRAME_MS, except checkpoints and the last step', () => {
  assert.equal(frameDue(10, 100, false, FRAME_MS - 1), false);
  assert.equal(frameDue(10, 100, false, FRAME_MS), true);
  for (const step of checkpoints(100)) assert.equal(frameDue(step, 100, false, 0), true, `checkpoint ${step}`);
  assert.equal(frameDue(37, 100, true, 0), true, 'the last step (stopped early) always has its frame');
});
