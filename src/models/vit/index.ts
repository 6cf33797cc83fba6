// ViT image classification: config files, image decoding and preprocessing, the model.
export { imageProcessorConfig, VIT_IGNORED, vitConfig, vitExpectedTensors, type ImageProcessorConfig, type VitConfig } from './config.ts';
export { convertChannels, decodeImage, ImageError, loadImage, normalizePixels, preprocessImage, resizePil, toRgbaImage, type ImageInput, type RgbaImage } from './image.ts';
export { VisionTransformer, type ClassifyOptions, type Classification, type ClassScore, type VitAttentionMaps, type VitBuffers, type VitLoadOptions } from './model.ts';
export { interpolatePositions } from './positions.ts';
