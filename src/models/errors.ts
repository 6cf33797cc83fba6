import { TesseraError } from '../device/errors.ts';

/** A checkpoint file that is malformed, truncated, or does not hold the tensors a model expects. */
export class CheckpointError extends TesseraError {
  override name = 'CheckpointError';
}

/** A tokenizer file that is malformed, or an id or text a tokenizer cannot handle. */
export class TokenizerError extends TesseraError {
  override name = 'TokenizerError';
}

/**
 * A value from a file, written into an error message: JSON, cut to `max` characters. A corrupt file
 * may hold a megabyte-long list, or nest deeper than JSON.stringify can recurse; the message must
 * still come out.
 */
export function jsonForMessage(value: unknown, max = 200): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    return Array.isArray(value) ? 'a list nested too deep to print' : `a ${typeof value} that cannot be printed`;
  }
  return text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text;
}
