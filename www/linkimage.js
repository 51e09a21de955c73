// The image a share link carries, and the page showing that very image (issue 31). A user's photo travels in a
// link as a JPEG copy: when a link is made (Copy link, Show QR) the page switches to that copy, so the sender and
// whoever opens the link see the same numbers; the crop's caption says so for as long as it is on show. A QR code
// holds at most 2,953 bytes: when one is asked for a link too long for it, the photo is re-encoded smaller
// (size and quality stepped down, www/input.js smallerCopy) until the whole link fits, and the page switches to it.
import { emit, on } from './bus.js';
import { input, useLinkCopy, smallerCopy } from './input.js';
import { bytesToBase64url } from './share.js';
import { state } from './state.js';

// classroom.js asks for a link that fits a QR code ('qr-link-wanted' {maxBytes}, www/protocol.js).
// The answer, 'qr-link-made': {note} (the QR carries a copy, said in the dialog) or {problem} (no copy fits).

const userPhoto = () => input.current && input.current.source.kind !== 'sample' && state.image?.kind === 'jpeg';

/** Before a link is copied: the page shows the JPEG the link carries (a no-op for samples and for that copy). */
export async function showLinkImage() {
  if (!userPhoto() || input.current.source.kind !== 'file') return;
  const { bytes, copy } = state.image;
  await useLinkCopy(bytes, copy ?? null);
}

async function qrLink({ maxBytes }) {
  if (!userPhoto()) {
    emit('qr-link-made', { problem: 'This link is too long for a QR code.' });
    return;
  }
  // Everything but the image, in bytes: the image's base64 takes ⌈4n/3⌉ characters of the rest.
  const rest = new TextEncoder().encode(location.href).length - bytesToBase64url(state.image.bytes).length;
  const made = await smallerCopy((n) => rest + Math.ceil((4 * n) / 3) <= maxBytes);
  if (!made) {
    emit('qr-link-made', { problem: `Even a 48×48 copy of your photo does not fit in a QR code (${maxBytes} bytes). Copy the link instead.` });
    return;
  }
  const { width, height, bytes } = made.copy;
  if (!(await useLinkCopy(made.bytes, made.copy))) {
    emit('qr-link-made', { problem: 'The smaller copy of your photo could not be used. Copy the link instead.' });
    return;
  }
  emit('qr-link-made', {
    note: `The QR carries a ${width}×${height} copy of your photo (${(bytes / 1024).toFixed(1)} KB JPEG); this page now shows that copy too, so both screens show the same numbers.`,
  });
}

export function setupLinkImage() {
  on('qr-link-wanted', qrLink);
}
