// QR codes as SVG images (data: URLs): crisp at any size, no canvas.
import QRCode from 'qrcode';

/** An <img> src for `text` as a QR code; null when the text is too long for one QR code. */
export async function qrDataUrl(text: string): Promise<string | null> {
  try {
    const svg = await QRCode.toString(text, { type: 'svg', errorCorrectionLevel: 'L', margin: 2 });
    return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
  } catch {
    return null;
  }
}

/** A bolt11 invoice in a QR code: upper case fits the smaller alphanumeric mode, as wallets expect. */
export function lightningUri(invoice: string): string {
  return `lightning:${invoice}`.toUpperCase();
}
