// cv::resize(src, (dw, dh), INTER_LINEAR) for CV_8UC3 as OpenCV 4.x computes it without IPP (hal::resize →
// resizeGeneric_ with HResizeLinear<uchar,int,short,2048> and VResizeLinear<uchar,int,short,FixedPtCast<22>>):
//   x weights: fx = (float)((dx + 0.5)·scale_x − 0.5), sx = floor(fx), fx −= sx (float), clamped at the borders;
//              alpha = saturate_cast<short>((1 − fx)·2048), saturate_cast<short>(fx·2048)   (round half even)
//   horizontal pass: exact int sums S = s0·a0 + s1·a1
//   vertical pass: the SIMD kernel's formula (VResizeLinearVec_32s8u) for every value of a row:
//              ((((S0 >> 4)·b0) >> 16) + (((S1 >> 4)·b1) >> 16) + 2) >> 2. The row tail that is not a multiple
//              of the vector width gets the same truncating formula, not the scalar FixedPtCast
//              (S0·b0 + S1·b1 + 2^21) >> 22: measured on fixture dwpose_det_preprocess (rows of 1011 and 810
//              values, OpenCV 4.6; the scalar formula is 1 too high on ~1 % of the tail values).
// Equal sizes are a plain copy, as in cv::resize; an exact 2× reduction on both axes is turned into INTER_AREA by
// OpenCV, whose fast path averages each 2×2 block as (a + b + c + d + 2) >> 2.
import { CnextError } from '../../src/core/errors.ts';
import { type Canvas, cvRound } from './canvas.ts';

const COEF_BITS = 11;
const COEF_SCALE = 1 << COEF_BITS;

const satShort = (v: number): number => {
  const r = cvRound(v);
  return r < -32768 ? -32768 : r > 32767 ? 32767 : r;
};

interface Taps {
  /** first source index (clamped) */
  readonly ofs: Int32Array;
  readonly w0: Int32Array;
  readonly w1: Int32Array;
}

function taps(srcLen: number, dstLen: number, clampRight: boolean): Taps {
  const scale = 1 / (dstLen / srcLen);
  const ofs = new Int32Array(dstLen), w0 = new Int32Array(dstLen), w1 = new Int32Array(dstLen);
  for (let d = 0; d < dstLen; d++) {
    let f = Math.fround((d + 0.5) * scale - 0.5);
    let s = Math.floor(f);
    f = Math.fround(f - s);
    if (clampRight) {
      if (s < 0) {
        f = 0;
        s = 0;
      }
      if (s + 1 >= srcLen && s >= srcLen - 1) {
        f = 0;
        s = srcLen - 1;
      }
    }
    ofs[d] = s;
    w0[d] = satShort(Math.fround(1 - f) * COEF_SCALE);
    w1[d] = satShort(f * COEF_SCALE);
  }
  return { ofs, w0, w1 };
}

/** (H, W, 3) uint8 → (dh, dw, 3) uint8, bit-exact with OpenCV 4.x INTER_LINEAR on x86-64 (SSE2 baseline). */
export function resizeLinearU8(src: Canvas, dw: number, dh: number): Canvas {
  if (!Number.isInteger(dw) || !Number.isInteger(dh) || dw <= 0 || dh <= 0) {
    throw new CnextError('INVALID_PARAMETER', `resize target must be positive integers, got ${dw}×${dh}`);
  }
  const sw = src.width, sh = src.height, cn = 3;
  if (sw === dw && sh === dh) return { width: dw, height: dh, data: src.data.slice() };
  const scaleX = 1 / (dw / sw), scaleY = 1 / (dh / sh);
  if (Math.abs(scaleX - 2) < Number.EPSILON && Math.abs(scaleY - 2) < Number.EPSILON) return halve(src, dw, dh);
  const xt = taps(sw, dw, true);
  const yt = taps(sh, dh, false);
  const width = dw * cn;
  // horizontal weights per output value
  const xo = new Int32Array(width), a0 = new Int32Array(width), a1 = new Int32Array(width);
  for (let d = 0; d < dw; d++) {
    for (let k = 0; k < cn; k++) {
      const i = d * cn + k;
      xo[i] = xt.ofs[d] * cn + k;
      a0[i] = xt.w0[d];
      // at the right border OpenCV uses S[sx]·ONE; with fx = 0 that is a0 = 2048, a1 = 0 (same value)
      a1[i] = xt.w1[d];
    }
  }
  const s = src.data;
  const words = s.byteOffset % 4 === 0 && (sw * cn) % 4 === 0 ? new Uint32Array(s.buffer, s.byteOffset, s.length >> 2) : null;
  const rowWords = (sw * cn) >> 2;
  /** All-zero source rows give all-zero sums (most of a pose canvas is black). */
  const isZeroRow = (sy: number): boolean => {
    if (!words) return false;
    for (let i = sy * rowWords, e = i + rowWords; i < e; i++) if (words[i] !== 0) return false;
    return true;
  };
  // horizontal pass of one source row into buf: exact int sums (a1 ≠ 0 only where sx + 1 < sw)
  const hpass = (sy: number, buf: Int32Array): boolean => {
    if (isZeroRow(sy)) return false;
    const base = sy * sw * cn;
    for (let d = 0, i = 0; d < dw; d++, i += 3) {
      const o = base + xo[i];
      const w0 = a0[i], w1 = a1[i];
      if (w1 !== 0) {
        buf[i] = s[o] * w0 + s[o + 3] * w1;
        buf[i + 1] = s[o + 1] * w0 + s[o + 4] * w1;
        buf[i + 2] = s[o + 2] * w0 + s[o + 5] * w1;
      } else {
        buf[i] = s[o] * w0;
        buf[i + 1] = s[o + 1] * w0;
        buf[i + 2] = s[o + 2] * w0;
      }
    }
    return true;
  };
  // two row buffers; source rows are visited in increasing order
  let bufA = new Int32Array(width), bufB = new Int32Array(width);
  let rowA = -1, rowB = -1, nzA = false, nzB = false;
  const dst = new Uint8Array(dh * width);
  for (let dy = 0; dy < dh; dy++) {
    const sy0 = yt.ofs[dy];
    const r0 = Math.min(Math.max(sy0, 0), sh - 1);
    const r1 = Math.min(Math.max(sy0 + 1, 0), sh - 1);
    if (rowA !== r0) {
      if (rowB === r0) {
        [bufA, bufB] = [bufB, bufA];
        nzA = nzB;
        rowA = r0;
        rowB = -1;
      } else {
        nzA = hpass(r0, bufA);
        rowA = r0;
      }
    }
    if (r1 !== r0 && rowB !== r1) {
      nzB = hpass(r1, bufB);
      rowB = r1;
    }
    const nz1 = r1 === r0 ? nzA : nzB;
    if (!nzA && !nz1) continue; // both rows black → black output row (dst is zero-initialised)
    if (!nzA) bufA.fill(0);
    if (!nz1) bufB.fill(0);
    const S0 = bufA, S1 = r1 === r0 ? bufA : bufB;
    const b0 = yt.w0[dy], b1 = yt.w1[dy];
    const o = dy * width;
    // every value, the row tail included, with the vector kernel's truncating formula (see the header)
    for (let x = 0; x < width; x++) {
      const t = (((S0[x] >> 4) * b0) >> 16) + (((S1[x] >> 4) * b1) >> 16);
      const v = (t + 2) >> 2;
      dst[o + x] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return { width: dw, height: dh, data: dst };
}

/** resizeAreaFast_ with ResizeAreaFastVec (2×2 blocks, 3 channels): rounded mean of each block. */
function halve(src: Canvas, dw: number, dh: number): Canvas {
  const s = src.data, rs = src.width * 3, width = dw * 3;
  const dst = new Uint8Array(dh * width);
  for (let dy = 0; dy < dh; dy++) {
    const r0 = 2 * dy * rs, r1 = r0 + rs, o = dy * width;
    for (let dx = 0; dx < width; dx += 3) {
      const i = 2 * dx;
      for (let k = 0; k < 3; k++) {
        dst[o + dx + k] = (s[r0 + i + k] + s[r0 + i + k + 3] + s[r1 + i + k] + s[r1 + i + k + 3] + 2) >> 2;
      }
    }
  }
  return { width: dw, height: dh, data: dst };
}
