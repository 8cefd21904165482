// OpenCV 4.6 cv::getAffineTransform and cv::warpAffine(INTER_LINEAR, BORDER_CONSTANT 0) for CV_8UC3, bit-exact
// (../shared/fixtures/README.md §7.6.3; modules/imgproc/src/imgwarp.cpp, modules/core/src/matrix_decomp.cpp):
//  * getAffineTransform fills a 6×6 system from three point pairs and solves it with hal::LU (Gaussian elimination
//    with partial pivoting, in double) — mathematically [[k,0,tx],[0,k,ty]], in bits not always;
//  * warpAffine inverts the matrix in double, then per destination pixel the source position in 1/32 pixel is
//    (cvRound((M01·y + M02)·1024) + cvRound(M00·x·1024) + 16) >> 5 (likewise y); integer part = >> 5, fraction =
//    & 31; bilinear weights from the 32×32 table scaled by 2^15 (exact for bilinear); value = (Σ w·p + 2^14) >> 15;
//    neighbours outside the image read 0.
import { type Canvas, cvRound } from './canvas.ts';

/** A 2×3 affine matrix, row-major [m00, m01, m02, m10, m11, m12] (float64). */
export type Affine = [number, number, number, number, number, number];

export type Point2 = readonly [number, number];

/**
 * Gaussian elimination with partial pivoting (first largest |pivot|), multipliers = a · (1/pivot), rows updated in
 * order, then back substitution row by row with a final division by the pivot: hal::LU's algorithm
 * (LUImpl<double>, eps = DBL_EPSILON·100) except that it divides where LUImpl multiplies by the stored reciprocal.
 * This variant reproduces all four matrices of fixture dwpose_pose_preprocess bit for bit; LUImpl as published
 * misses 2 of 24 entries by ~1e-16 (measured, OpenCV 4.6 Debian build).
 */
function luSolve(A: Float64Array, b: Float64Array, m: number): boolean {
  const eps = 2.220446049250313e-16 * 100;
  for (let i = 0; i < m; i++) {
    let k = i;
    for (let j = i + 1; j < m; j++) if (Math.abs(A[j * m + i]) > Math.abs(A[k * m + i])) k = j;
    if (Math.abs(A[k * m + i]) < eps) return false;
    if (k !== i) {
      for (let j = i; j < m; j++) [A[i * m + j], A[k * m + j]] = [A[k * m + j], A[i * m + j]];
      [b[i], b[k]] = [b[k], b[i]];
    }
    const d = -1 / A[i * m + i];
    for (let j = i + 1; j < m; j++) {
      const alpha = A[j * m + i] * d;
      for (let c = i + 1; c < m; c++) A[j * m + c] += alpha * A[i * m + c];
      b[j] += alpha * b[i];
    }
  }
  for (let i = m - 1; i >= 0; i--) {
    let s = b[i];
    for (let c = i + 1; c < m; c++) s -= A[i * m + c] * b[c];
    b[i] = s / A[i * m + i];
  }
  return true;
}

/** cv::getAffineTransform(src[3], dst[3]) (points are float32 values). */
export function getAffineTransform(src: readonly Point2[], dst: readonly Point2[]): Affine {
  const a = new Float64Array(36);
  const b = new Float64Array(6);
  for (let i = 0; i < 3; i++) {
    const j = i * 12, k = i * 12 + 6;
    a[j] = a[k + 3] = src[i][0];
    a[j + 1] = a[k + 4] = src[i][1];
    a[j + 2] = a[k + 5] = 1;
    b[i * 2] = dst[i][0];
    b[i * 2 + 1] = dst[i][1];
  }
  if (!luSolve(a, b, 6)) throw new RangeError('getAffineTransform: the three source points are collinear');
  return [b[0], b[1], b[2], b[3], b[4], b[5]];
}

/** The inverse map warpAffine computes when WARP_INVERSE_MAP is not set (dst → src). */
export function invertAffine(M: Affine): Affine {
  let D = M[0] * M[4] - M[1] * M[3];
  D = D !== 0 ? 1 / D : 0;
  const a11 = M[4] * D, a22 = M[0] * D;
  const m0 = a11, m1 = M[1] * -D, m3 = M[3] * -D, m4 = a22;
  const b1 = -m0 * M[2] - m1 * M[5];
  const b2 = -m3 * M[2] - m4 * M[5];
  return [m0, m1, b1, m3, m4, b2];
}

const INTER_BITS = 5;
const INTER_TAB = 1 << INTER_BITS;
const AB_BITS = 10;
const AB_SCALE = 1 << AB_BITS;
const ROUND_DELTA = AB_SCALE / INTER_TAB / 2;
const COEF_BITS = 15;

const satInt = (v: number): number => {
  const r = cvRound(v);
  return r > 2147483647 ? 2147483647 : r < -2147483648 ? -2147483648 : r;
};
const satShort = (v: number): number => (v > 32767 ? 32767 : v < -32768 ? -32768 : v);

/** cv::warpAffine(src, M, (w, h), INTER_LINEAR) with the default constant border 0; (H, W, 3) uint8. */
export function warpAffineLinearU8(src: Canvas, M: Affine, w: number, h: number): Canvas {
  const A = invertAffine(M);
  const W = src.width, H = src.height, s = src.data;
  const dst = new Uint8Array(w * h * 3);
  const adelta = new Int32Array(w), bdelta = new Int32Array(w);
  for (let x = 0; x < w; x++) {
    adelta[x] = satInt(A[0] * x * AB_SCALE);
    bdelta[x] = satInt(A[3] * x * AB_SCALE);
  }
  const rs = W * 3;
  for (let y = 0; y < h; y++) {
    const X0 = satInt((A[1] * y + A[2]) * AB_SCALE) + ROUND_DELTA;
    const Y0 = satInt((A[4] * y + A[5]) * AB_SCALE) + ROUND_DELTA;
    for (let x = 0, o = y * w * 3; x < w; x++, o += 3) {
      const X = (X0 + adelta[x]) >> (AB_BITS - INTER_BITS);
      const Y = (Y0 + bdelta[x]) >> (AB_BITS - INTER_BITS);
      const sx = satShort(X >> INTER_BITS), sy = satShort(Y >> INTER_BITS);
      const fx = X & (INTER_TAB - 1), fy = Y & (INTER_TAB - 1);
      // BilinearTab_i: float products (1−fy/32)(1−fx/32)… × 2^15 are exact integers here, summing to 2^15
      const w00 = (INTER_TAB - fy) * (INTER_TAB - fx) * 32, w01 = (INTER_TAB - fy) * fx * 32;
      const w10 = fy * (INTER_TAB - fx) * 32, w11 = fy * fx * 32;
      if (sx >= 0 && sx < W - 1 && sy >= 0 && sy < H - 1) {
        const p = sy * rs + sx * 3;
        for (let k = 0; k < 3; k++) {
          const v = (s[p + k] * w00 + s[p + k + 3] * w01 + s[p + rs + k] * w10 + s[p + rs + k + 3] * w11 + (1 << (COEF_BITS - 1))) >> COEF_BITS;
          dst[o + k] = v > 255 ? 255 : v;
        }
      } else if (sx >= W || sx + 1 < 0 || sy >= H || sy + 1 < 0) {
        // all four neighbours outside: the border value (0), dst is zero-initialised
      } else {
        const in0 = sy >= 0 && sy < H, in1 = sy + 1 >= 0 && sy + 1 < H;
        const ix0 = sx >= 0 && sx < W, ix1 = sx + 1 >= 0 && sx + 1 < W;
        const p = sy * rs + sx * 3;
        for (let k = 0; k < 3; k++) {
          const v0 = in0 && ix0 ? s[p + k] : 0, v1 = in0 && ix1 ? s[p + k + 3] : 0;
          const v2 = in1 && ix0 ? s[p + rs + k] : 0, v3 = in1 && ix1 ? s[p + rs + k + 3] : 0;
          const v = (v0 * w00 + v1 * w01 + v2 * w10 + v3 * w11 + (1 << (COEF_BITS - 1))) >> COEF_BITS;
          dst[o + k] = v > 255 ? 255 : v;
        }
      }
    }
  }
  return { width: w, height: h, data: dst };
}
