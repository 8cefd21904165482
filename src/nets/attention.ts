// diffusers `Attention` (attention_processor.py, classic processor) and `FeedForward` with GEGLU
// (attention.py), v0.30.3, as used by the SVD UNet's transformer blocks: to_q/k/v without bias, to_out.0
// with bias, heads split as channel = head·dim_head + d, softmax(q·kᵀ·dim_head^−½)·v.
import { MS_DOMAIN, type Value } from '../onnx/builder.ts';
import { gelu, linear, type G } from './nn.ts';

export interface AttentionSpec {
  /** Width of the tokens (query_dim). */
  queryDim: number;
  heads: number;
  dimHead: number;
}

/**
 * Self-attention over x (N, S, queryDim) → (N, S, queryDim), with com.microsoft MultiHeadAttention on the
 * 3-D (N, S, heads·dim_head) projections (memory-efficient path on CPU; default scale dim_head^−½).
 */
export function selfAttention(g: G, name: string, x: Value, s: AttentionSpec): Value {
  return g.scope(name, () => {
    const inner = s.heads * s.dimHead;
    const q = linear(g, 'to_q', x, s.queryDim, inner, false);
    const k = linear(g, 'to_k', x, s.queryDim, inner, false);
    const v = linear(g, 'to_v', x, s.queryDim, inner, false);
    const o = g.op('MultiHeadAttention', [q, k, v], { num_heads: s.heads }, { domain: MS_DOMAIN });
    return g.scope('to_out', () => linear(g, '0', o, inner, s.queryDim));
  });
}

export interface CrossAttentionSpec extends AttentionSpec {
  /** Width of the context tokens (cross_attention_dim). */
  crossDim: number;
}

/**
 * Cross-attention to a context of ONE token: ctx (N, 1, crossDim) → (N, 1, queryDim), to be broadcast over
 * the N-th row's query tokens. With a single key the softmax is exactly 1 whatever the query, so the block
 * equals to_out(to_v(ctx)) — exact, and no (S × 1) score matrix. to_q and to_k therefore do not enter the
 * graph; their shapes are still checked (and they count as used) so a wrong model is still rejected.
 * The caller must guarantee the context has one token (the SVD UNet: the CLIP image embedding).
 */
export function singleTokenCrossAttention(g: G, name: string, ctx: Value, s: CrossAttentionSpec): Value {
  return g.scope(name, () => {
    const inner = s.heads * s.dimHead;
    unusedByDesign(g, 'to_q.weight', [inner, s.queryDim]);
    unusedByDesign(g, 'to_k.weight', [inner, s.crossDim]);
    const v = linear(g, 'to_v', ctx, s.crossDim, inner, false);
    return g.scope('to_out', () => linear(g, '0', v, inner, s.queryDim));
  });
}

/** Check a weight's shape and mark it consumed although the graph does not read it (see the caller for why). */
export function unusedByDesign(g: G, local: string, shape: readonly number[]): void {
  if (!g.weights) throw new Error(`graph has no weight source for ${g.prefix}.${local}`);
  g.weights.expect(g.prefix ? `${g.prefix}.${local}` : local, shape);
}

/**
 * FeedForward(dim, dim_out, mult 4, "geglu"): net.0 = GEGLU (proj dim → 2·inner; value = first half,
 * gate = second half; value·GELU(gate)), net.2 = Linear(inner → dim_out). x (…, dim) → (…, dim_out).
 */
export function feedForwardGEGLU(g: G, name: string, x: Value, dim: number, dimOut = dim, mult = 4): Value {
  return g.scope(name, () => {
    const inner = dim * mult;
    const h = g.scope(['net', '0'], () => {
      const p = linear(g, 'proj', x, dim, 2 * inner);
      const [value, gate] = g.opMulti('Split', [p, g.constInt64([inner, inner])], 2, { axis: -1 });
      return g.op('Mul', [value, gelu(g, gate)]);
    });
    return g.scope('net', () => linear(g, '2', h, inner, dimOut));
  });
}
