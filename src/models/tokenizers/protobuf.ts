/**
 * A minimal reader of the protocol-buffer wire format, enough to decode a message whose schema the
 * caller knows (SentencePiece's `ModelProto`). A message is a sequence of fields, each a varint key
 * `(field_number << 3) | wire_type` followed by its value:
 *   wire type 0: varint (int32, int64, bool, enum), 7 bits a byte, least significant group first;
 *   wire type 1: 8 bytes little-endian (double, fixed64);
 *   wire type 2: varint length, then that many bytes (string, bytes, embedded message, packed repeated);
 *   wire type 5: 4 bytes little-endian (float, fixed32).
 * Fields may come in any order and repeat (a repeated field, or a later value overriding an earlier one).
 */

import { TokenizerError } from '../errors.ts';

export type ProtoField =
  | { number: number; wireType: 0; varint: number }
  | { number: number; wireType: 1 | 5; bytes: Uint8Array }
  | { number: number; wireType: 2; bytes: Uint8Array };

/** The fields of one message, in file order. `where` names the message in errors. */
export function readProtoFields(bytes: Uint8Array, where: string): ProtoField[] {
  const fields: ProtoField[] = [];
  let offset = 0;
  const fail = (message: string) => new TokenizerError(`${where}: ${message} at byte ${offset} of ${bytes.length} (not a valid protobuf message?)`);

  const readVarint = (): number => {
    // BigInt keeps all 64 bits: a negative int32 (-1 for "no pad id") is sign-extended to 10 bytes.
    let value = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (offset >= bytes.length) throw fail('truncated varint');
      const byte = bytes[offset++]!;
      value |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return Number(BigInt.asIntN(64, value));
    }
    throw fail('varint longer than 10 bytes');
  };

  const take = (length: number): Uint8Array => {
    if (offset + length > bytes.length) throw fail(`field of ${length} bytes runs past the end`);
    const slice = bytes.subarray(offset, offset + length);
    offset += length;
    return slice;
  };

  while (offset < bytes.length) {
    const key = readVarint();
    const number = Math.floor(key / 8);
    const wireType = key % 8;
    if (number === 0) throw fail('field number 0');
    if (wireType === 0) fields.push({ number, wireType, varint: readVarint() });
    else if (wireType === 1) fields.push({ number, wireType, bytes: take(8) });
    else if (wireType === 5) fields.push({ number, wireType, bytes: take(4) });
    else if (wireType === 2) fields.push({ number, wireType, bytes: take(readVarint()) });
    else throw fail(`unsupported wire type ${wireType} (field ${number})`);
  }
  return fields;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A length-delimited field read as UTF-8 text. */
export function protoString(field: ProtoField, where: string): string {
  if (field.wireType !== 2) throw new TokenizerError(`${where}: field ${field.number} should be a string but has wire type ${field.wireType}`);
  try {
    return utf8.decode(field.bytes);
  } catch {
    throw new TokenizerError(`${where}: field ${field.number} is not valid UTF-8`);
  }
}

/** A 4-byte field read as a little-endian float32. */
export function protoFloat(field: ProtoField, where: string): number {
  if (field.wireType !== 5) throw new TokenizerError(`${where}: field ${field.number} should be a float but has wire type ${field.wireType}`);
  return new DataView(field.bytes.buffer, field.bytes.byteOffset, 4).getFloat32(0, true);
}

/** A varint field as a signed number (int32, enum, bool). */
export function protoInt(field: ProtoField, where: string): number {
  if (field.wireType !== 0) throw new TokenizerError(`${where}: field ${field.number} should be a varint but has wire type ${field.wireType}`);
  return field.varint;
}

export function protoBytes(field: ProtoField, where: string): Uint8Array {
  if (field.wireType !== 2) throw new TokenizerError(`${where}: field ${field.number} should be bytes but has wire type ${field.wireType}`);
  return field.bytes;
}
