// Comparison frames: driving | pose | result side by side at one height, each panel letterboxed (black) into its
// cell. The layout is fixed once (from the first frames' sizes) so every composed frame has the same size.
import { invalidParameterError, isInteger } from '../src/core/is.ts';
import { assertRgb, fitImage, type RgbImage } from './image.ts';

export interface SideBySideLayout {
  /** Even, so the frames encode as yuv420p without padding. */
  width: number;
  height: number;
  /** Left edge and width of each panel's cell. */
  cells: ReadonlyArray<{ x: number; width: number }>;
}

/**
 * Cells as wide as each panel at `height` (aspect kept); the last cell takes the extra column if the total is odd.
 * `height` is rounded up to even.
 */
export function sideBySideLayout(panels: ReadonlyArray<{ width: number; height: number }>, height: number): SideBySideLayout {
  if (!panels.length) throw invalidParameterError('panels', 'at least one panel', panels.length);
  if (!(isInteger(height) && height >= 2 && height <= 8192)) throw invalidParameterError('height', 'integer between 2 and 8192', height);
  const H = height + (height % 2);
  let x = 0;
  const cells = panels.map((p) => {
    const width = Math.max(2, Math.round((H * p.width) / p.height));
    const cell = { x, width };
    x += width;
    return cell;
  });
  if (x % 2) {
    cells[cells.length - 1].width += 1;
    x += 1;
  }
  return { width: x, height: H, cells };
}

/** Composes one frame; panel i goes, letterboxed, into `layout.cells[i]`. */
export async function composeSideBySide(panels: readonly RgbImage[], layout: SideBySideLayout): Promise<RgbImage> {
  if (panels.length !== layout.cells.length) {
    throw invalidParameterError('panels', `${layout.cells.length} panels`, panels.length);
  }
  const { width: W, height: H } = layout;
  const out = new Uint8Array(W * H * 3);
  const fitted = await Promise.all(
    panels.map((p, i) => {
      assertRgb(p, `panel ${i}`);
      return fitImage(p.rgb, p.width, p.height, layout.cells[i].width, H, 'pad');
    }),
  );
  fitted.forEach((img, i) => {
    const { x, width } = layout.cells[i];
    const row = width * 3;
    // (H, width, 3) → rows of (H, W, 3) starting at column x
    for (let y = 0; y < H; y++) out.set(img.rgb.subarray(y * row, (y + 1) * row), (y * W + x) * 3);
  });
  return { width: W, height: H, rgb: out };
}
