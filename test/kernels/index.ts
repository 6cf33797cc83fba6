// Every kernel case, in one list for the Node runner and the browser bundle.
import type { KernelCase } from './case.ts';
import { cases as binary } from './binary.cases.ts';

export const allCases: KernelCase[] = [...binary];
