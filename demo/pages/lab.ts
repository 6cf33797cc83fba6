/**
 * The kernel lab: matmul (the four teaching versions and the production kernel), attention and
 * layernorm at sizes the user picks. Each run builds a small graph (one node per kernel), runs it
 * in a Session, checks its outputs against a float64 CPU reference (all of them, or an evenly
 * spread sample when there are many), then runs it a few times with `profile: true` and reports
 * the median time per node as GFLOP/s or GB/s, next to the kernel's WGSL source.
 *
 * The last results are also readable as `window.tessera.lab` (test/demo.test.ts reads them).
 */
import { compile, GraphBuilder, ops, Session, type Gpu, type ProfileRow, type Tensor, type Value } from '../../src/index.ts';
import matmulSource from '../../shaders/matmul.wgsl';
import attentionSource from '../../shaders/attention.wgsl';
import layernormSource from '../../shaders/layernorm.wgsl';
import { exposeForTests, getGpu, h, renderChrome, webGpuMissing } from '../lib/chrome.ts';
import { attentionRow, check, layerNormRow, matmulAt, seededNormal, type Check } from '../lib/reference.ts';
import { SourceViewer, type SourceFile } from '../lib/wgsl-view.ts';

type KernelId = 'matmul' | 'attention' | 'layernorm';

/** One kernel's line in the results: its profile (median of the profiled runs) and its check. */
interface ResultRow {
  node: string;
  label: string;
  kernel: string;
  /** Source tab to show for this row. */
  source: string;
  ms: number;
  rate: number;
  unit: 'GFLOP/s' | 'GB/s';
  check: Check | null;
  /** Why the row did not run (e.g. the vec4 step at a shape it does not take). */
  skipped?: string;
}

interface LabResult {
  kernel: KernelId;
  sizes: Record<string, number | boolean>;
  timing: ProfileRow['timing'];
  runs: number;
  rows: ResultRow[];
  /** Inputs and outputs, for small matmuls only (the test recomputes them). */
  data?: { a: number[]; b: number[]; outputs: Record<string, number[]> };
}

interface LabState {
  state: 'idle' | 'running' | 'done' | 'error';
  error?: string;
  last?: LabResult;
  runs: number;
}

const labState: LabState = { state: 'idle', runs: 0 };
exposeForTests('lab', labState);

const MATMUL_FILES: SourceFile[] = [
  ...ops.TEACHING_MATMUL_STEPS.map((s, i) => ({ label: `${i + 1}. ${s.version.replace('_', '-')}`, file: s.file, source: s.source })),
  { label: '5. production', file: 'shaders/matmul.wgsl', source: matmulSource },
];
const FILES: Record<KernelId, SourceFile[]> = {
  matmul: MATMUL_FILES,
  attention: [{ label: 'attention', file: 'shaders/attention.wgsl', source: attentionSource }],
  layernorm: [{ label: 'layernorm', file: 'shaders/layernorm.wgsl', source: layernormSource }],
};

interface Field {
  id: string;
  label: string;
  value: number;
  min: number;
  max: number;
  hint?: string;
}
const FORMS: Record<KernelId, { title: string; fields: Field[]; causal?: boolean; about: string }> = {
  matmul: {
    title: 'Matmul, step by step',
    about: 'c = a · b with a [M, K] and b [K, N]. Each step is a real kernel; click a row to read it.',
    fields: [
      { id: 'M', label: 'M (rows of a)', value: 256, min: 1, max: 4096 },
      { id: 'N', label: 'N (columns of b)', value: 256, min: 1, max: 4096 },
      { id: 'K', label: 'K (shared)', value: 256, min: 1, max: 4096 },
    ],
  },
  attention: {
    title: 'Attention',
    about: 'Fused multi-head softmax attention with an online softmax: the T×T scores never reach memory.',
    fields: [
      { id: 'T', label: 'T (tokens)', value: 128, min: 1, max: 4096 },
      { id: 'H', label: 'heads', value: 4, min: 1, max: 64 },
      { id: 'D', label: 'head size', value: 64, min: 1, max: 128, hint: 'at most 128' },
    ],
    causal: true,
  },
  layernorm: {
    title: 'LayerNorm',
    about: 'Normalise each row over its last dimension: two passes over the row held in registers.',
    fields: [
      { id: 'rows', label: 'rows', value: 1024, min: 1, max: 65536 },
      { id: 'D', label: 'D (row length)', value: 768, min: 1, max: 8192 },
    ],
  },
};

/** Profiled runs per measurement; the median time of each node is reported. */
const PROFILE_RUNS = 5;

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Run the compiled graph: one checked run, then PROFILE_RUNS profiled ones; median ms per node. */
async function measure(gpu: Gpu, g: GraphBuilder, status: (text: string) => void): Promise<{ outputs: Record<string, Float32Array>; profile: ProfileRow[] }> {
  status('compiling kernels…');
  const session = await Session.create(gpu, compile(g), { onProgress: (done, total) => status(`compiling kernels ${done}/${total}…`) });
  try {
    status('running…');
    const outputs = (await session.run({})) as Record<string, Float32Array>;
    const times = new Map<string, number[]>();
    let rows: ProfileRow[] = [];
    for (let r = 0; r < PROFILE_RUNS; r++) {
      status(`profiling, run ${r + 1} of ${PROFILE_RUNS}…`);
      await session.run({}, { profile: true, download: [] });
      rows = session.profile();
      for (const row of rows) times.set(row.node, [...(times.get(row.node) ?? []), row.ms]);
    }
    const profile = rows.map((row) => {
      const ms = median(times.get(row.node)!);
      const scale = row.ms > 0 ? row.ms / ms : 1; // the rates were computed from the last run's time
      return { ...row, ms, gflops: row.gflops === null ? null : row.gflops * scale, gbps: row.gbps === null ? null : row.gbps * scale };
    });
    const total = profile.reduce((sum, r) => sum + r.ms, 0) || 1;
    for (const row of profile) row.share = row.ms / total;
    return { outputs, profile };
  } finally {
    session.destroy();
  }
}

function readSizes(form: HTMLFormElement, kernel: KernelId): Record<string, number | boolean> {
  const sizes: Record<string, number | boolean> = {};
  for (const f of FORMS[kernel].fields) {
    const input = form.elements.namedItem(f.id) as HTMLInputElement;
    const value = Number(input.value);
    if (!Number.isInteger(value) || value < f.min || value > f.max) {
      throw new Error(`${f.label} must be a whole number from ${f.min} to ${f.max}, got '${input.value}'`);
    }
    sizes[f.id] = value;
  }
  if (FORMS[kernel].causal) sizes.causal = (form.elements.namedItem('causal') as HTMLInputElement).checked;
  return sizes;
}

async function runMatmul(gpu: Gpu, sizes: Record<string, number | boolean>, status: (t: string) => void): Promise<LabResult> {
  const { M, N, K } = sizes as Record<string, number>;
  const av = seededNormal(M * K, 1), bv = seededNormal(K * N, 2, 1 / Math.sqrt(K));
  const tensors: Tensor[] = [gpu.upload(av, [M, K]), gpu.upload(bv, [K, N])];
  try {
    const g = new GraphBuilder('kernel-lab-matmul');
    const a = g.constant('a', tensors[0]!), b = g.constant('b', tensors[1]!);
    const rows: ResultRow[] = [];
    ops.TEACHING_MATMUL_STEPS.forEach((step, i) => {
      const node = `step${i + 1}_${step.version}`;
      const row: ResultRow = { node, label: MATMUL_FILES[i]!.label, kernel: '', source: MATMUL_FILES[i]!.label, ms: NaN, rate: NaN, unit: 'GFLOP/s', check: null };
      if (K % step.alignment || N % step.alignment) row.skipped = `needs K and N to be multiples of ${step.alignment}`;
      else g.output(node, g.apply(ops.teachingMatmulOp, { a, b }, { version: step.version }, node).out!);
      rows.push(row);
    });
    const production = 'step5_production';
    g.output(production, g.matmul(a, b, { name: production }));
    rows.push({ node: production, label: '5. production', kernel: '', source: '5. production', ms: NaN, rate: NaN, unit: 'GFLOP/s', check: null });

    const { outputs, profile } = await measure(gpu, g, status);
    status('checking against the CPU…');
    const tolerance = { abs: 1e-5 + 1e-6 * K, rel: 1e-5 };
    const limit = Math.max(64, Math.floor(2 ** 24 / K)); // about 16M multiply-adds of CPU work per step at most
    for (const row of rows) {
      const p = profile.find((r) => r.node === row.node);
      if (!p) continue;
      Object.assign(row, { kernel: p.kernel, ms: p.ms, rate: p.gflops ?? NaN });
      row.check = check(outputs[row.node]!, (i) => matmulAt(av, bv, N, K, i), tolerance, limit);
    }
    const small = M * N <= 4096 && M * K <= 4096 && K * N <= 4096;
    return {
      kernel: 'matmul', sizes, timing: profile[0]!.timing, runs: PROFILE_RUNS, rows,
      data: small ? { a: Array.from(av), b: Array.from(bv), outputs: Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, Array.from(v)])) } : undefined,
    };
  } finally {
    tensors.forEach((t) => t.destroy());
  }
}

async function runAttention(gpu: Gpu, sizes: Record<string, number | boolean>, status: (t: string) => void): Promise<LabResult> {
  const { T, H, D } = sizes as Record<string, number>;
  const causal = sizes.causal === true;
  const [qv, kv, vv] = [11, 12, 13].map((seed) => seededNormal(T * H * D, seed)) as [Float32Array, Float32Array, Float32Array];
  const tensors = [qv, kv, vv].map((x) => gpu.upload(x, [1, T, H * D]));
  try {
    const g = new GraphBuilder('kernel-lab-attention');
    const [q, k, v] = tensors.map((t, i) => g.constant('qkv'[i]!, t)) as [Value, Value, Value];
    g.output('attention', g.attention(q, k, v, { numHeads: H, headDim: D, causal }).out);
    const { outputs, profile } = await measure(gpu, g, status);
    status('checking against the CPU…');
    // Rows first, second, middle and last, every head: the causal edge cases and a full row.
    const got: number[] = [], want: number[] = [];
    for (const t of [...new Set([0, 1, T >> 1, T - 1])].filter((t) => t < T)) {
      for (let head = 0; head < H; head++) {
        want.push(...attentionRow(qv, kv, vv, T, H, D, causal, t, head));
        got.push(...outputs.attention!.subarray((t * H + head) * D, (t * H + head + 1) * D));
      }
    }
    const p = profile[0]!;
    const result = check(got, (i) => want[i]!, { abs: 1e-5, rel: 1e-4 });
    return {
      kernel: 'attention', sizes, timing: p.timing, runs: PROFILE_RUNS,
      rows: [{ node: p.node, label: `attention, ${causal ? 'causal' : 'full'}`, kernel: p.kernel, source: 'attention', ms: p.ms, rate: p.gflops ?? NaN, unit: 'GFLOP/s', check: { ...result, total: T * H * D } }],
    };
  } finally {
    tensors.forEach((t) => t.destroy());
  }
}

async function runLayerNorm(gpu: Gpu, sizes: Record<string, number | boolean>, status: (t: string) => void): Promise<LabResult> {
  const { rows: R, D } = sizes as Record<string, number>;
  // Rows with a large mean and a small spread: where a one-pass variance (E[x²] − E[x]²) loses its digits.
  const xv = seededNormal(R * D, 21, 0.5).map((x) => x + 100);
  const wv = seededNormal(D, 22, 0.2).map((x) => x + 1), bv = seededNormal(D, 23, 0.1);
  const tensors = [gpu.upload(xv, [R, D]), gpu.upload(wv, [D]), gpu.upload(bv, [D])];
  try {
    const g = new GraphBuilder('kernel-lab-layernorm');
    const [x, w, b] = tensors.map((t, i) => g.constant(['x', 'weight', 'bias'][i]!, t)) as [Value, Value, Value];
    g.output('layernorm', g.layerNorm(x, w, b, 1e-5));
    const { outputs, profile } = await measure(gpu, g, status);
    status('checking against the CPU…');
    let cachedRow = -1;
    let cached: Float64Array = new Float64Array(0);
    const want = (i: number) => {
      const r = Math.floor(i / D);
      if (r !== cachedRow) [cachedRow, cached] = [r, layerNormRow(xv, wv, bv, D, r, 1e-5)];
      return cached[i % D]!;
    };
    const p = profile[0]!;
    return {
      kernel: 'layernorm', sizes, timing: p.timing, runs: PROFILE_RUNS,
      rows: [{ node: p.node, label: 'layernorm (mean ≈ 100, std ≈ 0.5)', kernel: p.kernel, source: 'layernorm', ms: p.ms, rate: p.gbps ?? NaN, unit: 'GB/s', check: check(outputs.layernorm!, want, { abs: 1e-4, rel: 1e-4 }, 1 << 18) }],
    };
  } finally {
    tensors.forEach((t) => t.destroy());
  }
}

const RUNNERS: Record<KernelId, typeof runMatmul> = { matmul: runMatmul, attention: runAttention, layernorm: runLayerNorm };

function fmt(x: number, digits = 2): string {
  if (!Number.isFinite(x)) return '–';
  return x >= 100 ? x.toFixed(0) : x.toFixed(digits);
}

function resultsView(result: LabResult, viewer: SourceViewer): HTMLElement[] {
  const ran = result.rows.filter((r) => !r.skipped);
  const base = result.rows[0]!.skipped ? null : result.rows[0]!;
  const best = Math.max(...ran.map((r) => r.rate).filter(Number.isFinite), 0) || 1;
  const unit = result.rows[0]!.unit;
  const showSpeedup = result.kernel === 'matmul';
  const table = h('table', { class: 'results', id: 'results-table' },
    h('thead', {}, h('tr', {},
      h('th', {}, 'kernel'), h('th', { class: 'num' }, 'ms'), h('th', { class: 'num' }, unit),
      showSpeedup ? h('th', { class: 'num' }, '× step 1') : null,
      h('th', { class: 'bar-cell' }, ''), h('th', {}, 'vs float64'))),
    h('tbody', {}, ...result.rows.map((r) => {
      const tr = h('tr', { class: r.skipped ? 'skipped' : '', 'data-node': r.node, title: 'show this kernel\'s source' });
      tr.addEventListener('click', () => viewer.show(r.source));
      if (r.skipped) {
        tr.append(h('td', {}, r.label), h('td', { colspan: showSpeedup ? 5 : 4, class: 'muted' }, `not run: ${r.skipped}`));
        return tr;
      }
      const c = r.check!;
      const sampled = c.checked < c.total ? `${c.checked.toLocaleString('en-US')} of ${c.total.toLocaleString('en-US')}` : `all ${c.total.toLocaleString('en-US')}`;
      const cells = [
        h('td', {}, r.label, h('div', { class: 'kernel-name' }, r.kernel)),
        h('td', { class: 'num' }, fmt(r.ms, r.ms < 1 ? 3 : 2)),
        h('td', { class: 'num strong' }, fmt(r.rate)),
        showSpeedup ? h('td', { class: 'num' }, base ? `${fmt(r.rate / base.rate, 1)}×` : '–') : null,
        h('td', { class: 'bar-cell' }, h('div', { class: 'rate-bar', style: `width: ${Math.max(1, (100 * r.rate) / best).toFixed(1)}%` })),
        h('td', { class: `check-cell ${c.ok ? 'pass' : 'fail'}` }, `${c.ok ? '✓' : '✗'} ${c.maxAbsError.toExponential(1)}`, h('span', { class: 'muted small', title: 'outputs compared with the CPU' }, sampled)),
      ];
      tr.append(...cells.filter((cell) => cell !== null));
      return tr;
    })),
  );
  const how = result.timing === 'gpu'
    ? 'GPU timestamps around each kernel'
    : 'wall time of one submit per kernel (this adapter offers no timestamp-query), so small sizes include submit overhead';
  return [
    table,
    h('p', { class: 'muted small' }, `Median of ${result.runs} profiled runs (Session.run({ profile: true })): ${how}. "vs float64": the largest |GPU − CPU| difference over the outputs compared. Click a row to read its WGSL.`),
  ];
}

function labView(gpu: Gpu): HTMLElement {
  const viewer = new SourceViewer();
  const tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Kernels' });
  const form = h('form', { class: 'controls', id: 'lab-form' });
  const status = h('p', { class: 'status', id: 'lab-status', 'aria-live': 'polite' }, 'Choose sizes and press Run.');
  const results = h('div', { id: 'lab-results' });
  let current: KernelId = 'matmul';

  const select = (kernel: KernelId) => {
    current = kernel;
    for (const tab of Array.from(tabs.children)) tab.setAttribute('aria-selected', String((tab as HTMLElement).dataset.kernel === kernel));
    const spec = FORMS[kernel];
    form.replaceChildren(
      h('p', { class: 'about' }, spec.about),
      h('div', { class: 'fields' },
        ...spec.fields.map((f) => h('label', {}, h('span', {}, f.label),
          h('input', { type: 'number', name: f.id, id: `field-${f.id}`, value: f.value, min: f.min, max: f.max, step: 1, required: true }),
          f.hint ? h('small', {}, f.hint) : null)),
        spec.causal ? h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'causal', id: 'field-causal', checked: true }), h('span', {}, 'causal mask')) : null,
        h('button', { type: 'submit', id: 'run', class: 'primary' }, 'Run'),
      ),
    );
    viewer.setFiles(FILES[kernel]);
    results.replaceChildren();
    status.textContent = 'Choose sizes and press Run.';
    status.className = 'status';
  };

  for (const kernel of Object.keys(FORMS) as KernelId[]) {
    const tab = h('button', { type: 'button', role: 'tab', 'data-kernel': kernel, id: `tab-${kernel}` }, FORMS[kernel].title);
    tab.addEventListener('click', () => labState.state !== 'running' && select(kernel));
    tabs.append(tab);
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (labState.state === 'running') return;
    const button = form.querySelector('button')!;
    const kernel = current;
    labState.state = 'running';
    button.disabled = true;
    status.className = 'status';
    const setStatus = (text: string) => (status.textContent = text);
    try {
      const sizes = readSizes(form, kernel);
      const result = await RUNNERS[kernel](gpu, sizes, setStatus);
      results.replaceChildren(...resultsView(result, viewer));
      const failed = result.rows.filter((r) => r.check && !r.check.ok).length;
      status.textContent = failed ? `${failed} kernel(s) disagree with the CPU reference.` : 'Done: every output checked agrees with the float64 CPU reference.';
      status.className = failed ? 'status fail' : 'status pass';
      labState.last = result;
      labState.error = undefined;
      labState.state = 'done';
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      status.textContent = `Error: ${message}`;
      status.className = 'status fail';
      labState.error = message;
      labState.state = 'error';
    } finally {
      labState.runs++;
      button.disabled = false;
    }
  });

  select('matmul');
  return h('div', { class: 'lab-grid' },
    h('div', { class: 'lab-main' }, tabs, h('section', { class: 'card' }, form, status, results)),
    viewer.element,
  );
}

async function main(): Promise<void> {
  renderChrome('lab');
  const root = document.getElementById('lab')!;
  try {
    root.replaceChildren(labView(await getGpu()));
  } catch (err) {
    root.replaceChildren(webGpuMissing(err));
    labState.error = err instanceof Error ? err.message : String(err);
    labState.state = 'error';
  }
}

void main();
