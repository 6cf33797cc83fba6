import type { Gpu } from '../device/gpu.ts';

/**
 * How a row-reduction kernel (layernorm, rmsnorm, softmax, argmax, topk) spreads rows over
 * invocations; every such shader explains the three ways in its header.
 *  - 'subgroup': one subgroup per row (LANES = the adapter's fixed subgroup size), ROWS rows per
 *    workgroup; a row reduces with one subgroup operation and no barrier at all.
 *  - 'subgroups': one workgroup of LANES invocations per row; subgroup operations, then one
 *    barrier to combine the per-subgroup partials.
 *  - 'workgroup': no subgroup support; ROWS rows of LANES invocations each reduce with a tree
 *    over workgroup memory (log₂ LANES barriers).
 */
export interface RowTiling {
  reduce: 'subgroup' | 'subgroups' | 'workgroup';
  lanes: number;
  rows: number;
}

/** Most invocations a row-reduction kernel takes: 256 is what every WebGPU device allows. */
const MAX_WORKGROUP = 256;

/** The adapter's subgroup size when it is fixed (min = max), else null. */
export function fixedSubgroupSize(gpu: Gpu): number | null {
  const size = gpu.tuning.subgroupSize;
  return size !== null && size >= 4 && size <= MAX_WORKGROUP ? size : null;
}

const nextPow2 = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

/**
 * Picks the tiling for rows of `width` items: a subgroup per row when each lane then handles at
 * most `maxPerLane` items, else enough lanes (up to `maxLanes`) that each handles about `perLane`.
 * A workgroup that holds several rows has gpu.tuning.rowReductions.workgroup invocations.
 */
export function rowTiling(gpu: Gpu, width: number, maxPerLane: number, perLane: number, maxLanes = MAX_WORKGROUP): RowTiling {
  const target = gpu.tuning.rowReductions.workgroup;
  const subgroup = fixedSubgroupSize(gpu);
  if (subgroup !== null && width <= subgroup * maxPerLane) {
    return { reduce: 'subgroup', lanes: subgroup, rows: Math.max(1, target / subgroup) };
  }
  const wanted = nextPow2(Math.ceil(width / perLane));
  if (gpu.hasSubgroups) return { reduce: 'subgroups', lanes: Math.min(maxLanes, Math.max(32, wanted)), rows: 1 };
  const lanes = Math.min(maxLanes, Math.max(4, wanted));
  return { reduce: 'workgroup', lanes, rows: Math.max(1, target / lanes) };
}

/** The shader defines for a tiling (see the kernels' headers). */
export function tilingDefines(t: RowTiling): Record<string, number | boolean> {
  return {
    LANES: t.lanes, ROWS: t.rows,
    SUBGROUPS: t.reduce !== 'workgroup', ONE_SUBGROUP: t.reduce === 'subgroup',
  };
}

export const tilingName = (t: RowTiling) => `${t.reduce}${t.lanes}x${t.rows}`;
