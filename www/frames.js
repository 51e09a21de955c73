// Which live frames a run sends (issue 13). Every step's progress still goes to the page, but its frame (RGBA
// copied out of the engine, posted, drawn) only every FRAME_MS at most, at the steps the page's strip of frames
// keeps (checkpoints) and at the last step: at one frame a step, the page spent ~10% of a class visualization's
// time on frames nobody could see (a step takes ~60 ms; a screen shows a new picture every ~16 ms).
export const FRAME_MS = 100;

// The iterations the strip under a live image shows: the first, each quarter and the last.
export function checkpoints(total) {
  const marks = [1, Math.round(total / 4), Math.round(total / 2), Math.round((3 * total) / 4), total];
  return marks.map((m) => Math.min(total, Math.max(1, m)));
}

// Whether the frame of this step goes out, `sinceLast` ms after the previous one.
export function frameDue(step, total, done, sinceLast) {
  return done || sinceLast >= FRAME_MS || checkpoints(total).includes(step);
}
