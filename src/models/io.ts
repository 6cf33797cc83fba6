/**
 * Reading model files. Parsers take bytes or strings so they work in the browser and in Node; only the
 * `read*` helpers touch the file system, importing `node:fs/promises` lazily (through a variable, so
 * bundlers for the browser leave it alone).
 */

type NodeFs = typeof import('node:fs/promises');

async function nodeFs(): Promise<NodeFs> {
  const moduleName = 'node:fs/promises';
  try {
    return (await import(/* @vite-ignore */ moduleName)) as NodeFs;
  } catch {
    throw new Error('reading files by path needs Node; in the browser, fetch the file and pass its bytes');
  }
}

export async function readFileBytes(path: string): Promise<Uint8Array> {
  const fs = await nodeFs();
  const data = await fs.readFile(path);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** The names in a folder, or null when `path` is not a folder (a file, or nothing). */
export async function listDirectory(path: string): Promise<string[] | null> {
  const fs = await nodeFs();
  const stat = await fs.stat(path).catch(() => null);
  return stat?.isDirectory() ? fs.readdir(path) : null;
}

export async function readFileText(path: string): Promise<string> {
  const fs = await nodeFs();
  return fs.readFile(path, 'utf8');
}

async function fetchOk(url: string | URL, init?: RequestInit): Promise<Response> {
  const response = await fetch(url, init);
  if (!response.ok) throw new Error(`fetch ${String(url)}: HTTP ${response.status} ${response.statusText}`);
  return response;
}

export async function fetchBytes(url: string | URL, init?: RequestInit): Promise<Uint8Array> {
  return new Uint8Array(await (await fetchOk(url, init)).arrayBuffer());
}

export async function fetchText(url: string | URL, init?: RequestInit): Promise<string> {
  return (await fetchOk(url, init)).text();
}

/** A byte view of whatever binary the caller has. */
export function asBytes(data: ArrayBuffer | ArrayBufferView): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

