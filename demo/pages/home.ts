/**
 * The landing page: which WebGPU adapter this browser gives Tessera (vendor, features, the limits
 * that decide which models fit), the list of demos, or a clear message when WebGPU is missing.
 */
import type { Gpu } from '../../src/index.ts';
import { exposeForTests, formatBytes, getGpu, h, PAGES, renderChrome, webGpuMissing } from '../lib/chrome.ts';

/** Optional features Tessera uses when offered, and what each one buys. */
const FEATURES: [string, string][] = [
  ['shader-f16', 'half-precision arithmetic and storage in kernels'],
  ['subgroups', 'the matmul shares rows of A across a subgroup; norms reduce without barriers'],
  ['timestamp-query', 'per-kernel GPU timings in profiles (else each kernel is timed by its own submit)'],
];

/** Limits that matter for Tessera, with what each one bounds. */
const LIMITS: [keyof Gpu['limits'], string, boolean][] = [
  ['maxStorageBufferBindingSize', 'largest tensor one kernel binding sees (bigger weights are split)', true],
  ['maxBufferSize', 'largest single tensor', true],
  ['maxComputeWorkgroupStorageSize', 'workgroup (shared) memory per workgroup', true],
  ['maxComputeInvocationsPerWorkgroup', 'invocations per workgroup', false],
  ['maxComputeWorkgroupsPerDimension', 'workgroups per dispatch dimension', false],
  ['maxStorageBuffersPerShaderStage', 'storage buffers one kernel may bind', false],
];

function adapterCard(gpu: Gpu): HTMLElement[] {
  const a = gpu.report.adapter;
  const rows: [string, string][] = [
    ['vendor', a.vendor || '(not reported)'],
    ['architecture', a.architecture || '(not reported)'],
    ['description', a.description || '(not reported)'],
  ];
  if (a.isFallbackAdapter) rows.push(['fallback adapter', 'yes: a software implementation, expect modest speed']);
  const facts = h('dl', { class: 'facts' }, ...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  const features = h('ul', { class: 'features' },
    ...FEATURES.map(([name, why]) => {
      const has = gpu.features.has(name);
      return h('li', { class: has ? 'yes' : 'no' }, h('span', { class: 'mark', 'aria-hidden': 'true' }, has ? '✓' : '–'), h('code', {}, name), h('span', { class: 'why' }, `${has ? '' : 'not offered: '}${why}`));
    }),
  );
  const limits = h('table', { class: 'limits' },
    h('thead', {}, h('tr', {}, h('th', {}, 'limit'), h('th', { class: 'num' }, 'value'), h('th', {}, 'bounds'))),
    h('tbody', {}, ...LIMITS.map(([name, what, bytes]) => {
      const value = gpu.limits[name];
      return h('tr', {}, h('td', {}, h('code', {}, name)), h('td', { class: 'num' }, bytes ? formatBytes(value) : value.toLocaleString('en-US')), h('td', { class: 'muted' }, what));
    })),
  );
  return [
    h('div', { class: 'adapter-grid' },
      h('div', {}, h('h3', {}, 'Adapter'), facts, h('h3', {}, 'Features'), features),
      h('div', {}, h('h3', {}, 'Key limits (as granted to Tessera)'), limits),
    ),
  ];
}

function demoCards(): HTMLElement[] {
  return PAGES.map((p) => h('a', { class: 'card demo-card', href: p.href }, h('h3', {}, p.title), h('p', {}, p.blurb), h('span', { class: 'go' }, 'Open →')));
}

async function main(): Promise<void> {
  renderChrome('home');
  document.getElementById('demo-list')!.replaceChildren(...demoCards());
  const card = document.getElementById('adapter')!;
  try {
    const gpu = await getGpu();
    card.replaceChildren(h('h2', {}, 'Your WebGPU adapter'), ...adapterCard(gpu));
    exposeForTests('home', { ready: true, adapter: gpu.report.adapter, features: gpu.report.features });
  } catch (err) {
    card.replaceWith(webGpuMissing(err));
    exposeForTests('home', { ready: true, error: err instanceof Error ? err.message : String(err) });
  }
}

void main();
