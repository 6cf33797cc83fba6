/** One row of a session profile: a graph node's share of a run. */
export interface ProfileRow {
  node: string;
  kernel: string;
  /** Output shapes. */
  shapes: string;
  ms: number;
  /** Fraction of the summed node times. */
  share: number;
  gflops: number | null;
  gbps: number | null;
  /** 'gpu': timestamp queries; 'cpu': wall time of one submit per node (includes submit overhead). */
  timing: 'gpu' | 'cpu';
}

/** A fixed-width text table, for `--profile` on the CLI and for logs. */
export function formatProfile(rows: readonly ProfileRow[]): string {
  if (rows.length === 0) return '(no profile: run with { profile: true })';
  const total = rows.reduce((a, r) => a + r.ms, 0);
  const table = [
    ['node', 'kernel', 'shape', 'ms', 'share', 'GFLOP/s', 'GB/s'],
    ...rows.map((r) => [
      r.node,
      r.kernel,
      r.shapes,
      r.ms.toFixed(3),
      `${(r.share * 100).toFixed(1)}%`,
      r.gflops === null ? '' : r.gflops.toFixed(2),
      r.gbps === null ? '' : r.gbps.toFixed(2),
    ]),
    ['total', '', '', total.toFixed(3), '100%', '', ''],
  ];
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  const line = (row: string[]) => row.map((cell, c) => (c >= 3 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ');
  const timing = rows[0]!.timing === 'gpu' ? 'GPU timestamps' : 'CPU time per submit (no timestamp-query)';
  return [`profile (${timing})`, line(table[0]!), ...table.slice(1).map(line)].join('\n');
}
