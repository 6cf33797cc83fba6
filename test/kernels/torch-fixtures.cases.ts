// Kernels against fixtures made by PyTorch (tools/reference/{norms,rope,patch_embed}.py).
import { layerNorm, rmsNorm } from '../../src/ops/layernorm.ts';
import { patchEmbed } from '../../src/ops/patch-embed.ts';
import { rope } from '../../src/ops/rope.ts';
import norms from '../fixtures/norms.json';
import patchEmbeds from '../fixtures/patch_embed.json';
import ropes from '../fixtures/rope.json';
import type { KernelCase } from './case.ts';

const normCases = norms.cases.map((c): KernelCase => ({
  name: `torch/${c.name}`,
  tolerance: { abs: 2e-5, rel: 2e-5 },
  async run(gpu) {
    const x = gpu.upload(c.x, c.shape), weight = gpu.upload(c.weight);
    const residual = c.residual ? gpu.upload(c.residual, c.shape) : undefined;
    const bias = c.bias ? gpu.upload(c.bias) : undefined;
    const { out, sum } = c.kind === 'layernorm' ? layerNorm(gpu, x, weight, bias!, c.eps, residual) : rmsNorm(gpu, x, weight, c.eps, residual);
    const got = [...(await out.download()), ...(sum ? await sum.download() : [])];
    [x, weight, out, ...[residual, bias, sum].filter((t) => t !== undefined)].forEach((t) => t.destroy());
    return { got, want: [...c.out, ...(c.sum ?? [])] };
  },
}));

const ropeCases = ropes.cases.map((c): KernelCase => ({
  name: `torch/${c.name}`,
  tolerance: { abs: 3e-5, rel: 1e-5 },
  async run(gpu) {
    const x = gpu.upload(c.x, c.shape), position = gpu.upload(new Uint32Array([c.offset]));
    const out = rope(gpu, x, { numHeads: c.numHeads, headDim: c.headDim, theta: c.theta }, position);
    const got = await out.download();
    [x, position, out].forEach((t) => t.destroy());
    return { got, want: c.out };
  },
}));

const patchEmbedCases = patchEmbeds.cases.map((c): KernelCase => ({
  name: `torch/${c.name}`,
  tolerance: { abs: 1e-5, rel: 1e-5 },
  async run(gpu) {
    const [, channels] = c.imageShape as [number, number, number, number];
    const image = gpu.upload(c.image, c.imageShape);
    const weight = gpu.upload(c.weight, [c.dim, channels, c.patchSize, c.patchSize]);
    const bias = gpu.upload(c.bias);
    const out = patchEmbed(gpu, image, weight, bias, c.patchSize);
    const got = await out.download();
    [image, weight, bias, out].forEach((t) => t.destroy());
    return { got, want: c.out };
  },
}));

export const cases: KernelCase[] = [...normCases, ...ropeCases, ...patchEmbedCases];
