import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import type { Page } from 'playwright-core';

// What the chat page's withdrawal QR code holds. A single QR code: the text it encodes (the
// img's data-qr-text, the string handed to the QR encoder; pixels are not scanned). An animated
// one: every BC-UR frame it shows, decoded in Node by the same bc-ur library Cashu wallets use.

type Decode = (parts: string[]) => string;

/**
 * @gandlaf21/bc-ur's Node entry requires an ESM-only dependency (cborg), so its ES module build
 * is bundled for Node here, as esbuild bundles it for the page.
 */
async function urDecoder(): Promise<Decode> {
  const dir = await mkdtemp(join(tmpdir(), 'owlrun-ur-'));
  try {
    const out = join(dir, 'ur.mjs');
    await build({
      stdin: {
        contents: `import { URDecoder } from '@gandlaf21/bc-ur';
export function decode(parts) {
  const d = new URDecoder();
  for (const p of parts) { d.receivePart(p); if (d.isComplete()) break; }
  if (!d.isComplete() || !d.isSuccess()) throw new Error('frames incomplete: ' + d.resultError?.());
  return new TextDecoder().decode(d.resultUR().decodeCBOR());
}`,
        resolveDir: process.cwd(),
      },
      bundle: true,
      platform: 'node',
      format: 'esm',
      mainFields: ['module', 'main'],
      outfile: out,
      logLevel: 'warning',
    });
    return ((await import(pathToFileURL(out).href)) as { decode: Decode }).decode;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The text the QR code in `selector` carries, read frame by frame when it is animated. */
export async function qrText(page: Page, selector: string): Promise<{ text: string; frames: number }> {
  const frames = Number((await page.getAttribute(selector, 'data-frames')) ?? 0);
  if (frames === 0) return { text: (await page.getAttribute(selector, 'data-qr-text')) ?? '', frames: 0 };
  await page.evaluate((sel) => {
    const img = document.querySelector(sel) as HTMLImageElement;
    const seen = new Set<string>();
    (window as unknown as { __qrParts: Set<string> }).__qrParts = seen;
    new MutationObserver(() => img.dataset.qrText && seen.add(img.dataset.qrText)).observe(img, { attributes: true, attributeFilter: ['data-qr-text'] });
  }, selector);
  const decode = await urDecoder();
  // Fountain frames: any `frames` of them plus a few usually suffice; read more until they do.
  for (let want = frames + 2; ; want += frames) {
    await page.waitForFunction((n) => (window as unknown as { __qrParts: Set<string> }).__qrParts.size >= n, want);
    const parts = await page.evaluate(() => [...(window as unknown as { __qrParts: Set<string> }).__qrParts]);
    try {
      return { text: decode(parts), frames };
    } catch (err) {
      if (want > frames * 6) throw err;
    }
  }
}
