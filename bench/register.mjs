// `node --import ./bench/register.mjs bench/kernels.ts`: lets Node run the TypeScript benchmarks
// as they are. The hooks in ts-hooks.mjs compile .ts files with esbuild and load .wgsl as text.
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);
