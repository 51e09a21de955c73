// Reads the .npy files of ../shared/models/reference (little-endian float32 or float64, C order).
export function parseNpy(buffer) {
  const bytes = new Uint8Array(buffer);
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (!magic.every((b, i) => bytes[i] === b)) throw new Error('not a .npy file');
  const major = bytes[6];
  const view = new DataView(buffer);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  const header = new TextDecoder('latin1').decode(bytes.subarray(headerStart, headerStart + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error('.npy in Fortran order is not supported');
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '';
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const offset = headerStart + headerLen;
  let data;
  if (descr === '<f4') {
    data = new Float32Array(buffer.slice(offset, offset + 4 * count));
  } else if (descr === '<f8') {
    data = Float32Array.from(new Float64Array(buffer.slice(offset, offset + 8 * count)));
  } else {
    throw new Error(`.npy dtype ${descr} is not supported`);
  }
  return { shape, data };
}
