/**
 * What the attention pictures share: a colour scale for weights in [0, 1], the model URL a page
 * loads (`?model=` overrides the shipped model, e.g. `?model=/fixtures/vit-tiny-grey/`), and a
 * clear message when that folder is not there.
 */

/** Colour stops of the scale, dark blue (0) → teal → yellow (1); readable on white and on images. */
const STOPS: [number, number, number][] = [
  [24, 28, 64],
  [48, 86, 166],
  [34, 160, 160],
  [124, 205, 92],
  [250, 230, 60],
];

/** The scale's colour for t in [0, 1] (clamped), as [r, g, b] bytes. */
export function heatRgb(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - i;
  const [a, b] = [STOPS[i]!, STOPS[i + 1]!];
  return [0, 1, 2].map((c) => Math.round(a[c]! + (b[c]! - a[c]!) * f)) as [number, number, number];
}

export function heatCss(t: number, alpha = 1): string {
  const [r, g, b] = heatRgb(t);
  return alpha === 1 ? `rgb(${r}, ${g}, ${b})` : `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

/** A CSS gradient of the whole scale, for legends. */
export function heatGradient(): string {
  return `linear-gradient(90deg, ${STOPS.map((s, i) => `rgb(${s.join(', ')}) ${(100 * i) / (STOPS.length - 1)}%`).join(', ')})`;
}

/** The model folder a page loads: `?model=` when given (made absolute, ending in '/'), else the shipped one. */
export function modelUrl(shipped: string): { url: string; shipped: boolean } {
  const param = new URLSearchParams(location.search).get('model');
  const url = new URL(param ?? shipped, location.href).pathname.replace(/\/?$/, '/');
  return { url, shipped: param === null };
}

/** Why a model could not be loaded, in words a user can act on. */
export function modelMissing(url: string, error: unknown, fixture: string): string {
  const reason = error instanceof Error ? error.message : String(error);
  if (/HTTP 404/.test(reason)) {
    return `There is no model at ${url} (${reason}). The shipped model may not be trained yet: ` +
      `open this page with ?model=/fixtures/${fixture}/ to run the tiny test model instead.`;
  }
  return `Could not load the model from ${url}: ${reason}`;
}

/**
 * The file names in a model folder, from the demo server's folder listing (`GET <folder>/`), so a
 * page fetches only the files the model has: a browser logs every 404 as a console error.
 */
export async function modelFiles(url: string): Promise<Set<string>> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`fetch ${url}: HTTP ${response.status} ${response.statusText}`);
  const listing = (await response.json()) as { files?: unknown };
  if (!Array.isArray(listing.files)) throw new Error(`${url}: the server's folder listing has no "files" list`);
  return new Set(listing.files.map(String));
}
