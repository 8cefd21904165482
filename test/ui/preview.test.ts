import { EventEmitter } from 'node:events';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import {
  detectImageProtocol, downscaleFor, encodePng, fitCells, halfBlockLines, itermImage, kittyPlace, kittyTransmit, resample,
} from '../../src/ui/preview.ts';
import { startTui } from '../../src/ui/reporter.tsx';

/** 4×2 image: top row red, bottom row blue (a 2-pixel-high cell column each). */
const w = 4, h = 2;
const rgb = new Uint8Array(w * h * 3);
for (let x = 0; x < w; x++) {
  rgb.set([255, 0, 0], x * 3);
  rgb.set([0, 0, 255], (w + x) * 3);
}

describe('preview', () => {
  it('protocol from the environment: kitty, iTerm2, text (tmux passes neither), CNEXT_PREVIEW overrides', () => {
    expect(detectImageProtocol({ KITTY_WINDOW_ID: '1' })).toBe('kitty');
    expect(detectImageProtocol({ TERM: 'xterm-kitty' })).toBe('kitty');
    expect(detectImageProtocol({ TERM_PROGRAM: 'iTerm.app' })).toBe('iterm');
    expect(detectImageProtocol({ TERM_PROGRAM: 'iTerm.app', TMUX: '/tmp/tmux-0/default,1,0' })).toBe('text');
    expect(detectImageProtocol({ TERM: 'xterm-256color' })).toBe('text');
    expect(detectImageProtocol({ KITTY_WINDOW_ID: '1', CNEXT_PREVIEW: 'none' })).toBe('none');
  });

  it('box-average resampling', () => {
    expect([...resample(rgb, w, h, 1, 1)]).toEqual([128, 0, 128]);
    expect([...resample(rgb, w, h, 2, 2)]).toEqual([255, 0, 0, 255, 0, 0, 0, 0, 255, 0, 0, 255]);
  });

  it('pose maps are max-pooled: a 2-pixel limb on black stays visible at 1/16 of the size', () => {
    const W = 64, H = 128;
    const pose = new Uint8Array(W * H * 3);
    for (let y = 0; y < H; y++) for (const x of [30, 31]) pose.set([255, 85, 0], (y * W + x) * 3); // a vertical limb
    const mean = resample(pose, W, H, 4, 8);
    const max = resample(pose, W, H, 4, 8, downscaleFor('render'));
    const column = (img: Uint8Array) => [...img.subarray(1 * 3, 1 * 3 + 3)]; // cell x=1 holds pixels 16..31
    expect(column(mean)).toEqual([32, 11, 0]); // 2 of 16 columns lit: near black
    expect(column(max)).toEqual([255, 85, 0]);
    expect(downscaleFor('vae-decode')).toBe('mean');
  });

  it('cells keep the aspect (a cell is twice as high as wide)', () => {
    expect(fitCells(576, 1024, 32, 12)).toEqual({ cols: 14, rows: 12 });
    expect(fitCells(1024, 576, 32, 12)).toEqual({ cols: 32, rows: 9 });
  });

  it('half blocks: upper pixel as foreground of ▀, lower as background, 24-bit colour', () => {
    const lines = halfBlockLines(rgb, w, h, 2, 1);
    expect(lines).toEqual([`${'\x1b[38;2;255;0;0m\x1b[48;2;0;0;255m▀'.repeat(2)}\x1b[0m`]);
  });

  it('PNG for iTerm2 decodes back to the same pixels', async () => {
    const png = encodePng(rgb, w, h);
    const back = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect(back.info).toMatchObject({ width: w, height: h, channels: 3 });
    expect([...back.data]).toEqual([...rgb]);
    const seq = itermImage(rgb, w, h, 2, 1);
    expect(seq.startsWith(`\x1b]1337;File=inline=1;size=${png.length};width=2;height=1;preserveAspectRatio=1;doNotMoveCursor=1:`)).toBe(true);
    expect(seq.endsWith(`${png.toString('base64')}\x07`)).toBe(true);
  });

  it('kitty: raw RGB in 4096-byte base64 chunks, then a placement', () => {
    const big = new Uint8Array(64 * 64 * 3).fill(7); // 12288 bytes → 16384 base64 chars → 4 chunks
    const t = kittyTransmit(big, 64, 64, 5);
    const chunks = t.split('\x1b\\').filter(Boolean);
    expect(chunks[0]).toBe('\x1b_Ga=d,d=I,i=5,q=2');
    expect(chunks[1]!.startsWith('\x1b_Ga=t,f=24,s=64,v=64,i=5,q=2,m=1;')).toBe(true);
    expect(chunks.slice(2).map((c) => c.slice(0, c.indexOf(';') + 1))).toEqual(['\x1b_Gm=1;', '\x1b_Gm=1;', '\x1b_Gm=0;']);
    const data = chunks.slice(1).map((c) => c.slice(c.indexOf(';') + 1)).join('');
    expect(Buffer.from(data, 'base64')).toEqual(Buffer.from(big));
    expect(kittyPlace(14, 12, 5)).toBe('\x1b_Ga=p,i=5,p=1,c=14,r=12,C=1,q=2\x1b\\');
  });

  it('the TUI draws a kitty image into the box it reserves at the bottom, after each frame', async () => {
    let written = '';
    const stdout = Object.assign(new EventEmitter(), {
      columns: 100, rows: 40, isTTY: true,
      write: (s: string) => {
        written += s;
        return true;
      },
    }) as unknown as NodeJS.WriteStream;
    const stdin = Object.assign(new EventEmitter(), { isTTY: false, setEncoding() {}, resume() {}, pause() {}, ref() {}, unref() {} }) as unknown as NodeJS.ReadStream;
    const tui = startTui({ stdout, stdin, onCancel: () => {}, protocol: 'kitty', previewBox: { maxCols: 16, maxRows: 8 }, tickMs: 0, memory: () => 0 });
    const img = new Uint8Array(64 * 128 * 3).fill(200);
    tui.emit({ type: 'preview', stage: 'render', width: 64, height: 128, rgb: img });
    await new Promise((r) => setTimeout(r, 100));
    await tui.stop();
    // 64×128 in 16×8 cells → 8 columns × 8 rows: transmitted once, placed 8 rows up from the cursor
    expect(written).toContain('\x1b_Ga=t,f=24,s=64,v=128,');
    expect(written).toContain(`\x1b7\x1b[8A\r${kittyPlace(8, 8)}\x1b8`);
    expect(written).toContain('preview: render (64×128)');
  });
});
