/**
 * The page chrome every demo page shares: the header with the navigation, the footer, the GPU
 * device (opened once per page) and the message shown where WebGPU is missing.
 *
 * A new demo page is an HTML file in demo/ that loads /build/<name>.js (from demo/pages/<name>.ts),
 * plus one entry in PAGES below; the landing page and the navigation list it from there.
 */
import { createDevice, type Gpu } from '../../src/index.ts';

export interface DemoPage {
  id: string;
  href: string;
  title: string;
  /** One or two sentences for the landing page's card. */
  blurb: string;
}

export const PAGES: DemoPage[] = [
  {
    id: 'lab',
    href: '/lab.html',
    title: 'Kernel lab',
    blurb: 'Run matmul, attention and layernorm at sizes you choose, read their WGSL, and watch the matmul go from a naive loop to the production kernel step by step.',
  },
  {
    id: 'lm',
    href: '/lm.html',
    title: 'Language model',
    blurb: 'Stream text from a small GPT trained on Shakespeare, with temperature, top-k and seed, then hover any token to see which earlier tokens each attention head looked at.',
  },
  {
    id: 'imagine',
    href: '/imagine.html',
    title: 'Text to image',
    blurb: 'Type a prompt and watch a Transformer write an image token by token into a 2-D grid, then see the tokens turned into pixels and up-sampled ×4 on the GPU.',
  },
  {
    id: 'vit',
    href: '/vit.html',
    title: 'Vision Transformer',
    blurb: 'Pick, draw or drop an image: see its patch grid, the five best labels, and where the [CLS] token looked, as a heat map over the patches.',
  },
  {
    id: 'translate',
    href: '/translate.html',
    title: 'Translation',
    blurb: 'English to German with beam search, and the cross-attention alignment between the source and target tokens, layer by layer and head by head.',
  },
];

/** `h('a', { href: '/' }, 'text')`: a small DOM builder for the pages. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number | boolean> = {},
  ...children: (Node | string | null | undefined)[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) if (child !== null && child !== undefined) element.append(child);
  return element;
}

/** Fill the page's <header id="chrome"> and <footer id="footer"> and mark the active page. */
export function renderChrome(activeId: string): void {
  const header = document.getElementById('chrome');
  if (header) {
    const links = [{ id: 'home', href: '/', title: 'Overview' }, ...PAGES].map((p) =>
      h('a', { href: p.href, class: p.id === activeId ? 'active' : '', 'aria-current': p.id === activeId ? 'page' : false }, p.title),
    );
    header.replaceChildren(
      h('div', { class: 'bar' },
        h('a', { href: '/', class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, h('i'), h('i'), h('i'), h('i')), 'Tessera'),
        h('nav', { 'aria-label': 'Demos' }, ...links),
        h('span', { class: 'device-pill', id: 'device-pill' }, 'WebGPU: …'),
      ),
    );
  }
  const footer = document.getElementById('footer');
  if (footer) {
    footer.replaceChildren(
      h('p', {}, 'Tessera runs every kernel on your device through WebGPU; nothing is sent anywhere. The kernels are plain WGSL files in ',
        h('code', {}, 'shaders/'), ', explained in ', h('code', {}, 'docs/'), '.'),
    );
  }
}

let device: Promise<Gpu> | null = null;

/** The page's GPU, opened on first use. Rejects with Tessera's explanation when WebGPU is missing. */
export function getGpu(): Promise<Gpu> {
  device ??= createDevice().then((gpu) => {
    const pill = document.getElementById('device-pill');
    if (pill) {
      const a = gpu.report.adapter;
      pill.textContent = `WebGPU: ${a.description || a.architecture || a.vendor || 'adapter'}`;
      pill.title = [a.vendor, a.architecture, a.description].filter(Boolean).join(' / ');
      pill.classList.add('ok');
    }
    return gpu;
  });
  device.catch(() => {
    const pill = document.getElementById('device-pill');
    if (pill) {
      pill.textContent = 'WebGPU: unavailable';
      pill.classList.add('bad');
    }
  });
  return device;
}

/** A clear message in place of a demo when the browser offers no WebGPU adapter. */
export function webGpuMissing(error: unknown): HTMLElement {
  const reason = error instanceof Error ? error.message : String(error);
  return h('section', { class: 'card notice error', id: 'webgpu-missing', role: 'alert' },
    h('h2', {}, 'WebGPU is not available here'),
    h('p', {}, 'These demos run their kernels on your GPU through WebGPU, and this browser did not give them a GPU adapter.'),
    h('p', { class: 'reason' }, reason),
    h('ul', {},
      h('li', {}, 'Use a browser with WebGPU: Chrome or Edge 113 or newer on Windows, macOS or ChromeOS; recent Safari and Firefox have it on some platforms.'),
      h('li', {}, 'On Linux, Chromium needs ', h('code', {}, '--enable-unsafe-webgpu'), ' (and a Vulkan driver; without a GPU it falls back to SwiftShader).'),
      h('li', {}, 'WebGPU only works on https:// pages or on localhost, so open the URL that ', h('code', {}, 'npm run demo'), ' printed.'),
      h('li', {}, 'Check ', h('code', {}, 'chrome://gpu'), ': WebGPU may be blocked for your graphics driver.'),
    ),
  );
}

/** Bytes in binary units: 134217728 → "128 MiB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes, unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[unit]}`;
}

/** What the tests (and curious users, in the console) can read: `window.tessera`. */
export function exposeForTests(key: string, value: unknown): void {
  const w = window as unknown as { tessera?: Record<string, unknown> };
  (w.tessera ??= {})[key] = value;
}
