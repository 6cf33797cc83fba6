// Every kernel case, in one list for the Node runner and the browser bundle.
import type { KernelCase } from './case.ts';
import { cases as attention } from './attention.cases.ts';
import { cases as attentionTorch } from './attention-torch.cases.ts';
import { cases as binary } from './binary.cases.ts';
import { cases as matmul } from './matmul.cases.ts';
import { cases as cacheWrite } from './cache-write.cases.ts';
import { cases as cacheGather } from './cache-gather.cases.ts';
import { cases as unary } from './unary.cases.ts';
import { cases as layernorm } from './layernorm.cases.ts';
import { cases as softmax } from './softmax.cases.ts';
import { cases as embedding } from './embedding.cases.ts';
import { cases as rope } from './rope.cases.ts';
import { cases as sincos } from './sincos.cases.ts';
import { cases as patchEmbed } from './patch-embed.cases.ts';
import { cases as classToken } from './class-token.cases.ts';
import { cases as patchify } from './patchify.cases.ts';
import { cases as transposeHeads } from './transpose-heads.cases.ts';
import { cases as argmax } from './argmax.cases.ts';
import { cases as torchFixtures } from './torch-fixtures.cases.ts';
import { cases as lmGlue } from './lm-glue.cases.ts';
import { cases as decodeAttentionProject } from './decode-attention-project.cases.ts';
import { cases as teachingAttention } from './teaching-attention.cases.ts';
import { cases as llamaDecodeStep } from './llama-decode-step.cases.ts';
import { cases as imagegen } from './imagegen.cases.ts';
import { cases as teachingMatmul } from './teaching-matmul.cases.ts';

export const allCases: KernelCase[] = [...attention, ...attentionTorch, ...binary, ...matmul, ...cacheWrite, ...cacheGather, ...unary, ...layernorm, ...softmax, ...embedding, ...rope, ...sincos, ...patchEmbed, ...classToken, ...patchify, ...transposeHeads, ...argmax, ...torchFixtures, ...lmGlue, ...decodeAttentionProject, ...llamaDecodeStep, ...imagegen, ...teachingMatmul, ...teachingAttention];
