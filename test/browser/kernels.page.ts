/**
 * Browser side of browser.test.ts: every kernel case, run in the page on navigator.gpu.
 * Bundled by test/util/browser.ts; Node calls these exports through `page.call`.
 * Each finished case adds a row to the results table, which the test screenshots.
 */
import { createDevice, type Gpu } from '../../src/device/gpu.ts';
import { judge } from '../kernels/case.ts';
import { allCases } from '../kernels/index.ts';

export interface BrowserCaseResult {
  name: string;
  status: 'pass' | 'fail' | 'skip' | 'error';
  /** The GPU's output, as a plain array (absent when the case threw). */
  got?: number[];
  message: string;
  ms: number;
}

let gpu: Gpu | null = null;
let table: HTMLTableSectionElement | null = null;

/** Open the device and draw the table header; returns the adapter and its features. */
export async function init(): Promise<{ adapter: Gpu['report']['adapter']; features: string[]; cases: string[] }> {
  gpu ??= await createDevice();
  if (!table) {
    const info = document.createElement('p');
    const a = gpu.report.adapter;
    info.textContent = `adapter: ${[a.vendor, a.architecture, a.description].filter(Boolean).join(' / ')}; features: ${gpu.report.features.join(', ') || 'none'}`;
    const element = document.createElement('table');
    element.innerHTML = '<thead><tr><th>case</th><th>result</th><th>ms</th><th>detail</th></tr></thead>';
    table = element.createTBody();
    document.getElementById('root')!.append(info, element);
  }
  return { adapter: gpu.report.adapter, features: gpu.report.features, cases: allCases.map((c) => c.name) };
}

export async function runCase(name: string): Promise<BrowserCaseResult> {
  if (!gpu) await init();
  const c = allCases.find((k) => k.name === name);
  if (!c) throw new Error(`no kernel case named '${name}' in the browser bundle`);
  const start = performance.now();
  let result: BrowserCaseResult;
  try {
    const { got, want } = await c.run(gpu!);
    const verdict = judge(c, got, want);
    result = { name, status: verdict.ok ? 'pass' : 'fail', got: Array.from(got), message: verdict.message, ms: 0 };
  } catch (err) {
    const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    // SwiftShader offers no 'shader-f16': f16 cases cannot run here, which is not a kernel bug.
    const needsF16 = !gpu!.hasF16 && /shader-f16/.test(message);
    result = { name, status: needsF16 ? 'skip' : 'error', message, ms: 0 };
  }
  result.ms = Math.round(performance.now() - start);
  addRow(result);
  return result;
}

function addRow(r: BrowserCaseResult): void {
  const row = table!.insertRow();
  const cells = [r.name, r.status, String(r.ms), r.message.length > 120 ? r.message.slice(0, 117) + '...' : r.message];
  for (const text of cells) row.insertCell().textContent = text;
  row.cells[1]!.className = r.status === 'pass' ? 'pass' : r.status === 'skip' ? 'skip' : 'fail';
}

export function destroy(): void {
  gpu?.destroy();
  gpu = null;
}
