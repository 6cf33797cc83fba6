// Makes test/fixtures/llama2c-tok512-encode.json: texts and the ids llama2.c's own `encode` (run.c,
// copied in llama2c_encode.c) gives for them with stories260K's tok512.bin.
//   node tools/reference/llama2c-tokenizer-fixture.mjs   (needs gcc and ../shared/data, or TESSERA_DATA)
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const data = process.env.TESSERA_DATA ?? resolve(root, '../shared/data');
const tokenizer = join(data, 'stories260K/tok512.bin');
const binary = '/tmp/tessera-llama2c-encode';
execFileSync('gcc', ['-O2', '-o', binary, join(root, 'tools/reference/llama2c_encode.c')]);

const shakespeare = readFileSync(join(data, 'tinyshakespeare/input.txt'), 'utf8');
const texts = [
  '', ' ', 'a', 'I', 'Once upon a time', 'Once upon a time, there was a little girl named Lily.',
  'She loved to play outside in the park. One day, she saw a big, red ball!',
  '"Can I play?" asked Tom. \'Yes,\' said Mom.', 'the the the the', 'thethethe',
  '  two leading spaces', 'trailing space ', 'tabs\tand\nnewlines\n\nand\r\nCRLF',
  'Numbers: 0 1 12 123 3.14159 -42 1,000,000', 'punctuation!?.,;:()[]{}<>@#$%^&*_-+=~`|\\/',
  "contractions: don't, can't, I'm, we've, they'll, she'd",
  'héllo wörld, café, naïve, Ångström', 'Привет мир', '日本語のテキスト', '中文', '한국어',
  'emoji 😀 👍🏽 🇫🇷 👨‍👩‍👧', 'mixed: abc日本😀é1', '\u00a0non-breaking\u2009thin', 'zero\u200bwidth',
  'ALL CAPS SHOUTING', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'xyzzy qwerty zxcvb',
  shakespeare.slice(0, 1500), shakespeare.slice(500_000, 501_000),
];
const output = execFileSync(binary, [tokenizer, '512'], { input: texts.join('\0') + '\0', maxBuffer: 1 << 26 }).toString();
const lines = output.split('\n').slice(0, texts.length);
const cases = texts.map((text, i) => ({ text, ids: lines[i] === '' ? [] : lines[i].split(' ').map(Number) }));
mkdirSync(join(root, 'test/fixtures'), { recursive: true });
writeFileSync(join(root, 'test/fixtures/llama2c-tok512-encode.json'), JSON.stringify({ tokenizer: 'stories260K/tok512.bin', source: 'llama2.c run.c encode(text, bos=0, eos=0)', cases }) + '\n');
console.log(`wrote ${cases.length} cases`);
