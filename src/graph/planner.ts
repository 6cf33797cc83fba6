import { BYTES_PER_ELEMENT } from '../device/dtype.ts';
import type { GraphNode, Value } from './graph.ts';

/** Bindings must start at multiples of this; every slot size is rounded to it as well. */
const ALIGN = 256;

export interface MemoryPlan {
  /** Size in bytes of each reused buffer. */
  slots: number[];
  /** Which slot holds each planned value (by value id). */
  slotOf: Map<number, number>;
  /** [first, last] schedule index during which each planned value must stay intact. */
  lifetimes: Map<number, [number, number]>;
  /** Sum of the slot sizes: the memory intermediates really take. */
  plannedBytes: number;
  /** What one buffer per intermediate would take. */
  naiveBytes: number;
}

export function valueBytes(v: Value): number {
  return Math.ceil((v.size * BYTES_PER_ELEMENT[v.dtype]) / ALIGN) * ALIGN;
}

/**
 * Liveness-based memory planning. Walk the schedule; each intermediate (that is not a graph
 * output) lives from the node that writes it to the last node that reads it or a view of it.
 * When a value's life begins it takes the smallest free slot that fits (best fit), else grows
 * the largest free slot, else opens a new one; slots are freed once their value's last reader
 * has run. A node's inputs are still live while it runs, so they never share with its outputs.
 */
export function planMemory(schedule: readonly GraphNode[], persistent: ReadonlySet<Value>): MemoryPlan {
  const lifetimes = new Map<number, [number, number]>();
  const planned = new Map<number, Value>();
  schedule.forEach((node, i) => {
    for (const v of Object.values(node.outputs)) {
      if (!persistent.has(v)) {
        lifetimes.set(v.id, [i, i]);
        planned.set(v.id, v);
      }
    }
    for (const v of Object.values(node.inputs)) {
      const life = lifetimes.get(v.root.id);
      if (life) life[1] = Math.max(life[1], i);
    }
  });

  const slots: number[] = [];
  const slotOf = new Map<number, number>();
  const free = new Set<number>();
  const endingAt = new Map<number, number[]>(); // schedule index → slots to free after it
  let naiveBytes = 0;
  schedule.forEach((node, i) => {
    for (const v of Object.values(node.outputs)) {
      if (!planned.has(v.id)) continue;
      const need = valueBytes(v);
      naiveBytes += need;
      let best = -1;
      for (const s of free) if (slots[s]! >= need && (best < 0 || slots[s]! < slots[best]!)) best = s;
      if (best < 0) for (const s of free) if (best < 0 || slots[s]! > slots[best]!) best = s;
      if (best < 0) {
        best = slots.length;
        slots.push(0);
      }
      free.delete(best);
      slots[best] = Math.max(slots[best]!, need);
      slotOf.set(v.id, best);
      const end = lifetimes.get(v.id)![1];
      endingAt.set(end, [...(endingAt.get(end) ?? []), best]);
    }
    for (const s of endingAt.get(i) ?? []) free.add(s);
  });
  return { slots, slotOf, lifetimes, plannedBytes: slots.reduce((a, b) => a + b, 0), naiveBytes };
}
