// A fake camera for Chromium (`--use-fake-device-for-media-stream --use-file-for-fake-video-capture=FILE.y4m`):
// a .y4m (a text header, then raw I420 frames) made from image files, each shown for a while, looped by the
// browser. Used by tests/browser/live.test.mjs and bench/run-browser.mjs (live mode, issue 26).
import { readFileSync, writeFileSync } from 'node:fs';

/** RGB bytes of an image file, its centre square scaled to side×side (decoded by the browser). */
export async function squareRgb(page, file, side) {
  const b64 = readFileSync(file).toString('base64');
  const rgba = await page.evaluate(async ([data, side]) => {
    const bin = atob(data);
    const u8 = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) u8[i] = bin.charCodeAt(i);
    const bmp = await createImageBitmap(new Blob([u8]));
    const s = Math.min(bmp.width, bmp.height);
    const c = new OffscreenCanvas(side, side);
    c.getContext('2d').drawImage(bmp, (bmp.width - s) / 2, (bmp.height - s) / 2, s, s, 0, 0, side, side);
    return Array.from(c.getContext('2d').getImageData(0, 0, side, side).data);
  }, [b64, side]);
  const rgb = new Uint8Array(side * side * 3);
  for (let i = 0; i < side * side; i++) for (let c = 0; c < 3; c++) rgb[i * 3 + c] = rgba[i * 4 + c];
  return rgb;
}

/** One I420 frame (BT.601 studio range, as Chromium's y4m reader expects) of side×side RGB. */
export function i420(rgb, side) {
  const clamp = (v) => Math.max(0, Math.min(255, Math.round(v)));
  const y = new Uint8Array(side * side);
  const u = new Uint8Array((side / 2) ** 2);
  const v = new Uint8Array((side / 2) ** 2);
  for (let i = 0; i < side * side; i++) {
    const [r, g, b] = [rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2]];
    y[i] = clamp(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255);
  }
  for (let by = 0; by < side / 2; by++) {
    for (let bx = 0; bx < side / 2; bx++) {
      let [r, g, b] = [0, 0, 0];
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
        const i = ((by * 2 + dy) * side + bx * 2 + dx) * 3;
        r += rgb[i] / 4;
        g += rgb[i + 1] / 4;
        b += rgb[i + 2] / 4;
      }
      u[by * (side / 2) + bx] = clamp(128 + (-37.797 * r - 74.203 * g + 112 * b) / 255);
      v[by * (side / 2) + bx] = clamp(128 + (112 * r - 93.786 * g - 18.214 * b) / 255);
    }
  }
  return Buffer.concat([Buffer.from('FRAME\n'), y, u, v]);
}

/**
 * Writes `file`: each of `scenes` ({rgb, seconds}: side×side RGB bytes from squareRgb) for its seconds at `fps`.
 * A square frame makes the model's crop torchvision's centre 224 of 256 when side is 256.
 */
export function writeY4m(file, scenes, { side, fps }) {
  const header = Buffer.from(`YUV4MPEG2 W${side} H${side} F${fps}:1 Ip A1:1 C420jpeg\n`);
  const frames = scenes.flatMap(({ rgb, seconds }) => Array(Math.round(seconds * fps)).fill(i420(rgb, side)));
  writeFileSync(file, Buffer.concat([header, ...frames]));
}
