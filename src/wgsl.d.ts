// WGSL sources are imported as text: esbuild's `text` loader in build.mjs and the
// small transform in vitest.config.ts both turn `import src from 'x.wgsl'` into a string.
declare module '*.wgsl' {
  const source: string;
  export default source;
}

// wgsl-preprocessor ships one untyped ES module and no package entry point.
declare module 'wgsl-preprocessor/wgsl-preprocessor.js' {
  export function wgsl(strings: TemplateStringsArray, ...values: unknown[]): string;
}
