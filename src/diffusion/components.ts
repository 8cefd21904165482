// The network interfaces live in the nets layer (src/nets/interfaces.ts), so nets never imports diffusion.
// Re-exported here for callers above diffusion that still import them from this path (parity, bench).
export type { ControlInput, ControlNeXt, ImageEncoder, Unet, Vae } from '../nets/interfaces.ts';
