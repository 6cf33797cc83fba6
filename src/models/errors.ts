import { TesseraError } from '../device/errors.ts';

/** A checkpoint file that is malformed, truncated, or does not hold the tensors a model expects. */
export class CheckpointError extends TesseraError {
  override name = 'CheckpointError';
}

/** A tokenizer file that is malformed, or an id or text a tokenizer cannot handle. */
export class TokenizerError extends TesseraError {
  override name = 'TokenizerError';
}
