import type { ServerResponse } from 'node:http';

const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');
const CR = 0x0d;
const LF = 0x0a;
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');

/**
 * The body of a response, written piece by piece, each piece in ONE socket write.
 *
 * When node chose chunked transfer encoding at writeHead (an HTTP/1.1 client, no Content-Length),
 * the chunks are framed here: node's own chunked encoding sends every write as four pieces (size,
 * CRLF, data, CRLF) through a corked writev, which cost a 200-chunk stream ~15% of the gateway's
 * CPU. Built before writeHead, or without chunked encoding (an HTTP/1.0 client, a fixed length),
 * pieces go to node as they are and node frames them.
 * MUST hold: the bytes on the wire are the same chunked encoding node writes; an empty piece
 * writes nothing (a zero-size chunk would end the body early); `end` writes the last chunk once.
 */
export class ResponseBody {
  /** This object frames the chunks (node's chunked encoding is switched off for the response). */
  private readonly framed: boolean;

  constructor(private readonly res: ServerResponse) {
    // Only node's writeHead sets chunkedEncoding; from here on the framing is ours.
    this.framed = res.chunkedEncoding === true;
    if (this.framed) res.chunkedEncoding = false;
  }

  /** Writes one piece; false when the client's buffer is full (wait for 'drain'). */
  write(piece: Buffer): boolean {
    if (piece.length === 0) return true;
    return this.res.write(this.framed ? chunkOf(piece, false) : piece);
  }

  /** Writes the last piece (may be empty) and ends the response. */
  end(piece: Buffer): void {
    if (!this.framed) return void this.res.end(piece);
    this.res.end(piece.length === 0 ? LAST_CHUNK : chunkOf(piece, true));
  }
}

/** `data` as one chunk of chunked transfer encoding, followed by the last chunk when `last`. */
function chunkOf(data: Buffer, last: boolean): Buffer {
  const length = data.length;
  let digits = 1;
  for (let n = length; n >= 16; n = Math.floor(n / 16)) digits++;
  const start = digits + 2;
  const end = start + length;
  const out = Buffer.allocUnsafe(end + 2 + (last ? LAST_CHUNK.length : 0));
  // The size in hex, written digit by digit (no string made per chunk).
  for (let i = digits - 1, n = length; i >= 0; i--, n = Math.floor(n / 16)) out[i] = HEX_DIGITS[n % 16]!;
  out[start - 2] = CR;
  out[start - 1] = LF;
  out.set(data, start);
  out[end] = CR;
  out[end + 1] = LF;
  if (last) out.set(LAST_CHUNK, end + 2);
  return out;
}
