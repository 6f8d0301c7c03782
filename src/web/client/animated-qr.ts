// A token too long for one phone-scannable QR code is shown as an animated QR code of BC-UR
// fountain frames ("ur:bytes/…", the format Cashu wallets such as cashu.me read); a short one as
// a single QR code. The text shown in the image is also in its data-qr-text attribute.
import { UR, UREncoder } from '@gandlaf21/bc-ur';
import { qrDataUrl } from './qr.js';

/** Longer than this, one QR code gets too dense for a phone camera to read reliably. */
export const STATIC_QR_MAX_CHARS = 400;
/** Bytes of the token per frame, and how long each frame shows (cashu.me's defaults are alike). */
const FRAGMENT_BYTES = 150;
const FRAME_MS = 250;

let stopCurrent: (() => void) | undefined;

async function show(img: HTMLImageElement, text: string): Promise<boolean> {
  const src = await qrDataUrl(text);
  if (!src) return false;
  img.src = src;
  img.dataset.qrText = text;
  return true;
}

/**
 * Shows `text` in `img`: one QR code, or frames cycling until the next call. Returns 'static',
 * 'animated', or null when not even a frame fits a QR code.
 */
export async function showQr(img: HTMLImageElement, text: string): Promise<'static' | 'animated' | null> {
  stopCurrent?.();
  stopCurrent = undefined;
  delete img.dataset.qrText;
  if (text.length <= STATIC_QR_MAX_CHARS) return (await show(img, text)) ? 'static' : null;
  const encoder = new UREncoder(UR.from(text) /* its UTF-8 bytes */, FRAGMENT_BYTES, 0);
  if (!(await show(img, encoder.nextPart()))) return null;
  img.dataset.frames = String(encoder.fragmentsLength);
  let running = true;
  const timer = setInterval(() => {
    if (running) void show(img, encoder.nextPart());
  }, FRAME_MS);
  stopCurrent = () => {
    running = false;
    clearInterval(timer);
    delete img.dataset.frames;
  };
  return 'animated';
}
