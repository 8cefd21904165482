// A fake WebGL2 canvas for @mediapipe/tasks-vision 1.1.0 in Node. With the CPU delegate the library
// uses GL only to upload the input image as a texture and read it back (ImageCloneCalculator →
// glReadPixels) before CPU inference: no shader ever runs. We keep a reference to the RGBA bytes
// given to texImage2D and copy them out in readPixels.
// Calls seen at init: getExtension, getSupportedExtensions, getParameter, getContextAttributes, getError;
// per frame: activeTexture, createTexture, bindTexture, texParameteri, texImage2D, fenceSync, deleteSync,
// createFramebuffer, bindFramebuffer, framebufferTexture2D, readPixels.

const GL = {
  VENDOR: 0x1f00, RENDERER: 0x1f01, VERSION: 0x1f02, SHADING_LANGUAGE_VERSION: 0x8b8c,
  MAX_TEXTURE_SIZE: 0x0d33, MAX_VERTEX_ATTRIBS: 0x8869, MAX_TEXTURE_IMAGE_UNITS: 0x8872,
  MAX_COMBINED_TEXTURE_IMAGE_UNITS: 0x8b4d, FRAMEBUFFER_BINDING: 0x8ca6, TEXTURE_BINDING_2D: 0x8069,
  ACTIVE_TEXTURE: 0x84e0, TEXTURE0: 0x84c0, UNPACK_FLIP_Y_WEBGL: 0x9240, RGBA: 0x1908, UNSIGNED_BYTE: 0x1401,
  FRAMEBUFFER_COMPLETE: 0x8cd5, CONDITION_SATISFIED: 0x911c,
} as const;

export interface RgbaImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

interface Texture { width: number; height: number; data: Uint8Array | null }
interface Framebuffer { texture: Texture | null }

export class FakeWebGL2 {
  // emscripten reads these; a non-null pixel-pack binding would send readPixels down the PBO path
  currentPixelPackBufferBinding = null;
  currentPixelUnpackBufferBinding = null;
  currentArrayBufferBinding = null;
  currentElementArrayBufferBinding = null;
  private readonly units = new Map<number, Texture | null>();
  private unit: number = GL.TEXTURE0;
  private framebuffer: Framebuffer | null = null;
  private flipY = false;

  constructor(readonly canvas: NodeCanvas) {}

  getContextAttributes() {
    return { alpha: true, antialias: false, depth: false, stencil: false, premultipliedAlpha: false, preserveDrawingBuffer: false };
  }
  isContextLost(): boolean { return false; }
  getSupportedExtensions(): string[] { return []; }
  getExtension(): null { return null; }
  getError(): number { return 0; }
  getParameter(p: number): unknown {
    switch (p) {
      case GL.VENDOR: return 'controlnext-motion';
      case GL.RENDERER: return 'node fake WebGL2 (CPU readback only)';
      case GL.VERSION: return 'WebGL 2.0 (node fake)';
      case GL.SHADING_LANGUAGE_VERSION: return 'WebGL GLSL ES 3.00';
      case GL.MAX_TEXTURE_SIZE: return 16384;
      case GL.MAX_VERTEX_ATTRIBS:
      case GL.MAX_TEXTURE_IMAGE_UNITS: return 16;
      case GL.MAX_COMBINED_TEXTURE_IMAGE_UNITS: return 32;
      case GL.FRAMEBUFFER_BINDING: return this.framebuffer;
      case GL.TEXTURE_BINDING_2D: return this.units.get(this.unit) ?? null;
      case GL.ACTIVE_TEXTURE: return this.unit;
      default: return 0;
    }
  }
  createTexture(): Texture { return { width: 0, height: 0, data: null }; }
  deleteTexture(t: Texture | null): void { if (t) t.data = null; }
  activeTexture(unit: number): void { this.unit = unit; }
  bindTexture(_target: number, t: Texture | null): void { this.units.set(this.unit, t); }
  texParameteri(): void {}
  pixelStorei(p: number, v: number | boolean): void { if (p === GL.UNPACK_FLIP_Y_WEBGL) this.flipY = !!v; }

  /** (target, level, internalformat, format, type, source) or (target, level, ifmt, width, height, border, …). */
  texImage2D(...a: unknown[]): void {
    const t = this.units.get(this.unit);
    if (!t) throw new Error('fake WebGL2: texImage2D without a bound texture');
    if (a.length === 6) {
      const { data, width: w, height: h } = a[5] as RgbaImage;
      if (!data || data.length !== w * h * 4) throw new Error('fake WebGL2: the input image must be RGBA {data, width, height}');
      t.width = w;
      t.height = h;
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.length);
      if (!this.flipY) t.data = bytes;
      else {
        t.data = new Uint8Array(bytes.length);
        for (let y = 0; y < h; y++) t.data.set(bytes.subarray((h - 1 - y) * w * 4, (h - y) * w * 4), y * w * 4);
      }
    } else {
      const [, , , w, h] = a as number[];
      t.width = w!;
      t.height = h!;
      t.data = new Uint8Array(w! * h! * 4);
    }
  }
  createFramebuffer(): Framebuffer { return { texture: null }; }
  deleteFramebuffer(): void {}
  bindFramebuffer(_target: number, fb: Framebuffer | null): void { this.framebuffer = fb; }
  framebufferTexture2D(_target: number, _attachment: number, _texTarget: number, t: Texture | null): void {
    if (this.framebuffer) this.framebuffer.texture = t;
  }
  checkFramebufferStatus(): number { return GL.FRAMEBUFFER_COMPLETE; }
  viewport(): void {}
  readPixels(x: number, y: number, w: number, h: number, format: number, type: number, dst: ArrayBufferView, dstOffset = 0): void {
    const t = this.framebuffer?.texture;
    if (!t?.data || format !== GL.RGBA || type !== GL.UNSIGNED_BYTE) {
      throw new Error('fake WebGL2: only RGBA/UNSIGNED_BYTE readback of an uploaded texture is supported');
    }
    const bpe = (dst as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
    const out = new Uint8Array(dst.buffer, dst.byteOffset + dstOffset * bpe, w * h * 4);
    for (let r = 0; r < h; r++) {
      const from = ((y + r) * t.width + x) * 4;
      out.set(t.data.subarray(from, from + w * 4), r * w * 4);
    }
  }
  fenceSync(): object { return {}; }
  clientWaitSync(): number { return GL.CONDITION_SATISFIED; }
  waitSync(): void {}
  deleteSync(): void {}
  flush(): void {}
  finish(): void {}
}

/** Passed as the `canvas` option of createFromOptions (otherwise the library calls document.createElement). */
export class NodeCanvas {
  width = 1;
  height = 1;
  private ctx?: FakeWebGL2;
  getContext(type: string): FakeWebGL2 | null {
    if (type !== 'webgl2') return null;
    return (this.ctx ??= new FakeWebGL2(this));
  }
  addEventListener(): void {}
  removeEventListener(): void {}
}
