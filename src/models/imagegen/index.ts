// The image-token generator: text → image tokens → pixels.
export { imageGenConfig, type ImageGenConfig } from './config.ts';
export { CODEBOOK_TENSOR, ImageGenerator, type ImageGenBuffers, type ImageTokenOptions, type RenderOptions, type RenderedImage } from './generator.ts';
