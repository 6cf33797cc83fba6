/**
 * The `imagegen` block of an image-token generator's config.json, and its checks against the
 * Transformer's config, the codebook and the tokenizer.
 *
 * A generator is a decoder-only language model whose vocabulary holds text tokens and K image
 * tokens (ids imageTokenStart .. imageTokenStart + K − 1, one per codebook patch). A sequence is
 *
 *   [bos_token_id]  text ids of the prompt  image_start_token_id  H·W image tokens (raster order)
 *
 * and the image is the grid of codebook patches, p×p RGB pixels each.
 */

import type { LmConfig } from '../decoder.ts';
import { CheckpointError, jsonForMessage } from '../errors.ts';

export interface ImageGenConfig {
  /** Vocabulary id of image token 0 (codebook row 0). */
  imageTokenStart: number;
  /** K: image tokens, codebook rows. */
  imageTokenCount: number;
  /** H and W: the token grid, in patches. */
  gridHeight: number;
  gridWidth: number;
  /** p: each token is a p×p patch of pixels (1 for a palette). */
  patchSize: number;
  /** Put before the prompt's text ids, if given. */
  bosTokenId?: number;
  /** Ends the prompt and starts the image. */
  imageStartTokenId: number;
  /**
   * Default classifier-free guidance scale (1 = none): the model was trained with some prompts left
   * empty, and samples from u + scale·(c − u), u the logits after the empty prompt.
   */
  guidanceScale: number;
}

type Json = Record<string, unknown>;

function integer(block: Json, key: string, min: number, optional = false): number | undefined {
  const value = block[key];
  if (value === undefined || value === null) {
    if (optional) return undefined;
    throw new CheckpointError(`config.json: imagegen.${key} is missing (an integer ≥ ${min})`);
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new CheckpointError(`config.json: imagegen.${key} must be an integer ≥ ${min}, got ${jsonForMessage(value)}`);
  }
  return value;
}

function guidanceScale(value: unknown): number {
  if (value === undefined || value === null) return 1;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new CheckpointError(`config.json: imagegen.guidance_scale must be a number ≥ 0, got ${jsonForMessage(value)}`);
  }
  return value;
}

/** Read config.json's `imagegen` block and check it against the Transformer's own config. */
export function imageGenConfig(json: Json, lm: LmConfig): ImageGenConfig {
  const block = json.imagegen;
  if (typeof block !== 'object' || block === null || Array.isArray(block)) {
    throw new CheckpointError("config.json has no 'imagegen' object: not an image-token generator (see the checkpoint format in docs/api.md)");
  }
  const b = block as Json;
  const config: ImageGenConfig = {
    imageTokenStart: integer(b, 'image_token_start', 0)!,
    imageTokenCount: integer(b, 'image_token_count', 1)!,
    gridHeight: integer(b, 'grid_height', 1)!,
    gridWidth: integer(b, 'grid_width', 1)!,
    patchSize: integer(b, 'patch_size', 1)!,
    bosTokenId: integer(b, 'bos_token_id', 0, true),
    imageStartTokenId: integer(b, 'image_start_token_id', 0)!,
    guidanceScale: guidanceScale(b.guidance_scale),
  };
  const { imageTokenStart: start, imageTokenCount: count } = config;
  const end = start + count;
  if (end > lm.vocabSize) {
    throw new CheckpointError(`config.json: image tokens ${start} .. ${end - 1} (imagegen.image_token_start + image_token_count) run past the vocabulary of ${lm.vocabSize}`);
  }
  const inImageRange = (id: number) => id >= start && id < end;
  for (const [key, id] of [['bos_token_id', config.bosTokenId], ['image_start_token_id', config.imageStartTokenId]] as const) {
    if (id === undefined) continue;
    if (id >= lm.vocabSize) throw new CheckpointError(`config.json: imagegen.${key} ${id} is outside the vocabulary of ${lm.vocabSize}`);
    if (inImageRange(id)) throw new CheckpointError(`config.json: imagegen.${key} ${id} is an image token (${start} .. ${end - 1})`);
  }
  for (const id of lm.stopIds) {
    if (inImageRange(id)) throw new CheckpointError(`config.json: the end-of-sequence id ${id} (eos_token_id) is an image token (${start} .. ${end - 1}); generation would stop inside the image`);
  }
  const longest = (config.bosTokenId === undefined ? 1 : 2) + config.gridHeight * config.gridWidth;
  if (longest > lm.contextLength) {
    throw new CheckpointError(
      `config.json: a ${config.gridHeight}×${config.gridWidth} grid after an empty prompt is ${longest} tokens, longer than the model's context of ${lm.contextLength}`,
    );
  }
  return config;
}
