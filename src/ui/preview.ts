// The live preview: the latest `preview` event (RGB) as an image where the terminal speaks an image protocol
// (kitty graphics, iTerm2 inline images), else as coloured half-block text (each cell = 2 pixels: the upper one
// as foreground of '▀', the lower one as background).
import { crc32, deflateSync } from 'node:zlib';

export type ImageProtocol = 'kitty' | 'iterm' | 'text' | 'none';

/** Picks the protocol from the environment (kitty and iTerm2 announce themselves; tmux passes neither through). */
export function detectImageProtocol(env: NodeJS.ProcessEnv = process.env): ImageProtocol {
  if (env.CNEXT_PREVIEW === 'none' || env.CNEXT_PREVIEW === 'text' || env.CNEXT_PREVIEW === 'kitty' || env.CNEXT_PREVIEW === 'iterm') {
    return env.CNEXT_PREVIEW;
  }
  if (env.TMUX || (env.TERM ?? '').startsWith('screen')) return 'text';
  if (env.KITTY_WINDOW_ID || env.TERM === 'xterm-kitty' || env.TERM_PROGRAM === 'WezTerm' || env.TERM_PROGRAM === 'ghostty') return 'kitty';
  if (env.TERM_PROGRAM === 'iTerm.app' || env.LC_TERMINAL === 'iTerm2') return 'iterm';
  return 'text';
}

/**
 * How a preview is shrunk: `mean` (box average) for photos and generated frames; `max` (max-pooling, per channel)
 * for pose maps, whose thin lines on black would average away to nothing.
 */
export type Downscale = 'mean' | 'max';

/** The downscale for a preview of `stage`: pose maps (render) keep their lines. */
export const downscaleFor = (stage: string): Downscale => (stage === 'render' ? 'max' : 'mean');

/** Box-averages (or max-pools) an RGB image down, or nearest-neighbours it up, to w×h. */
export function resample(rgb: Uint8Array, width: number, height: number, w: number, h: number, mode: Downscale = 'mean'): Uint8Array {
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const y0 = Math.floor((y * height) / h);
    const y1 = Math.max(y0 + 1, Math.floor(((y + 1) * height) / h));
    for (let x = 0; x < w; x++) {
      const x0 = Math.floor((x * width) / w);
      const x1 = Math.max(x0 + 1, Math.floor(((x + 1) * width) / w));
      let r = 0, g = 0, b = 0;
      for (let yy = y0; yy < y1; yy++) {
        for (let xx = x0; xx < x1; xx++) {
          const i = (yy * width + xx) * 3;
          if (mode === 'max') {
            r = Math.max(r, rgb[i]!);
            g = Math.max(g, rgb[i + 1]!);
            b = Math.max(b, rgb[i + 2]!);
          } else {
            r += rgb[i]!;
            g += rgb[i + 1]!;
            b += rgb[i + 2]!;
          }
        }
      }
      const n = mode === 'max' ? 1 : (y1 - y0) * (x1 - x0);
      const o = (y * w + x) * 3;
      out[o] = Math.round(r / n);
      out[o + 1] = Math.round(g / n);
      out[o + 2] = Math.round(b / n);
    }
  }
  return out;
}

/** The cell size (cols × rows) that fits the image in a box, keeping its aspect (a cell is ~1:2). */
export function fitCells(width: number, height: number, maxCols: number, maxRows: number): { cols: number; rows: number } {
  const aspect = width / height; // cols / (rows·2) = aspect
  let cols = maxCols;
  let rows = Math.round(cols / aspect / 2);
  if (rows > maxRows) {
    rows = maxRows;
    cols = Math.max(1, Math.round(rows * 2 * aspect));
  }
  return { cols: Math.max(1, cols), rows: Math.max(1, rows) };
}

/** Half-block lines (24-bit colour escapes), `cols` cells wide and `rows` lines high. */
export function halfBlockLines(rgb: Uint8Array, width: number, height: number, cols: number, rows: number, mode: Downscale = 'mean'): string[] {
  const px = resample(rgb, width, height, cols, rows * 2, mode);
  const lines: string[] = [];
  for (let r = 0; r < rows; r++) {
    let line = '';
    for (let c = 0; c < cols; c++) {
      const t = ((2 * r) * cols + c) * 3;
      const b = ((2 * r + 1) * cols + c) * 3;
      line += `\x1b[38;2;${px[t]};${px[t + 1]};${px[t + 2]}m\x1b[48;2;${px[b]};${px[b + 1]};${px[b + 2]}m▀`;
    }
    lines.push(`${line}\x1b[0m`);
  }
  return lines;
}

/** A minimal RGB PNG (iTerm2 wants an image file; kitty takes raw RGB). */
export function encodePng(rgb: Uint8Array, width: number, height: number): Buffer {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 3 + 1)] = 0; // filter: none
    Buffer.from(rgb.buffer, rgb.byteOffset + y * width * 3, width * 3).copy(raw, y * (width * 3 + 1) + 1);
  }
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td) >>> 0);
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}


/** Kitty graphics: transmits RGB pixels as image `id` (replacing the previous one with that id), not shown yet. */
export function kittyTransmit(rgb: Uint8Array, width: number, height: number, id = 7331): string {
  const data = Buffer.from(rgb.buffer, rgb.byteOffset, width * height * 3).toString('base64');
  const parts: string[] = [`\x1b_Ga=d,d=I,i=${id},q=2\x1b\\`]; // drop the previous preview and its placements
  for (let i = 0; i < data.length; i += 4096) {
    const more = i + 4096 < data.length ? 1 : 0;
    const head = i === 0 ? `a=t,f=24,s=${width},v=${height},i=${id},q=2,m=${more}` : `m=${more}`;
    parts.push(`\x1b_G${head};${data.slice(i, i + 4096)}\x1b\\`);
  }
  return parts.join('');
}

/** Kitty graphics: shows image `id` in cols×rows cells at the cursor (placement 1, so it moves rather than piles up). */
export function kittyPlace(cols: number, rows: number, id = 7331): string {
  return `\x1b_Ga=p,i=${id},p=1,c=${cols},r=${rows},C=1,q=2\x1b\\`;
}

/** The iTerm2 inline-image sequence (OSC 1337) for cols×rows cells at the cursor. */
export function itermImage(rgb: Uint8Array, width: number, height: number, cols: number, rows: number): string {
  const png = encodePng(rgb, width, height);
  return `\x1b]1337;File=inline=1;size=${png.length};width=${cols};height=${rows};preserveAspectRatio=1;doNotMoveCursor=1:${png.toString('base64')}\x07`;
}
