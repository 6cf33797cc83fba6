/**
 * A read-only WGSL viewer: file tabs above the source, with comments, keywords, attributes,
 * numbers and the `${NAME}` holes that `specialize` fills picked out in colour. It builds DOM
 * nodes (no innerHTML), so a source is shown exactly as it is.
 */
import { h } from './chrome.ts';

export interface SourceFile {
  /** Tab label. */
  label: string;
  /** Path in the repository, shown above the source. */
  file: string;
  source: string;
}

const TOKEN = new RegExp(
  [
    String.raw`(\/\/.*$)`,                                                   // 1 comment
    String.raw`(\$\{\w+\})`,                                                 // 2 specialisation hole
    String.raw`(#(?:if|elif|else|endif)\b)`,                                  // 3 preprocessor
    String.raw`(@\w+)`,                                                      // 4 attribute
    String.raw`\b(fn|let|var|const|struct|for|if|else|return|loop|break|continue|while|alias|enable|override|switch|case|default|select)\b`, // 5 keyword
    String.raw`\b(\d+(?:\.\d*)?(?:e[+-]?\d+)?[uif]?)\b`,                      // 6 number
  ].join('|'),
  'gm',
);
const CLASSES = ['', 'tok-comment', 'tok-hole', 'tok-pre', 'tok-attr', 'tok-key', 'tok-num'];

/** The source as highlighted DOM nodes. */
export function highlightWgsl(source: string): DocumentFragment {
  const fragment = document.createDocumentFragment();
  let last = 0;
  for (const match of source.matchAll(TOKEN)) {
    const at = match.index!;
    if (at > last) fragment.append(source.slice(last, at));
    const group = match.findIndex((g, i) => i > 0 && g !== undefined);
    fragment.append(h('span', { class: CLASSES[group]! }, match[0]));
    last = at + match[0].length;
  }
  fragment.append(source.slice(last));
  return fragment;
}

/** A tabbed viewer; `show(label)` switches file. */
export class SourceViewer {
  readonly element: HTMLElement;
  private readonly tabs: HTMLElement;
  private readonly path: HTMLElement;
  private readonly code: HTMLElement;
  private files: SourceFile[] = [];

  constructor() {
    this.tabs = h('div', { class: 'source-tabs', role: 'tablist', 'aria-label': 'WGSL files' });
    this.path = h('div', { class: 'source-path' });
    this.code = h('code', {});
    this.element = h('section', { class: 'card source', id: 'source' },
      h('h2', {}, 'WGSL source'), this.tabs, this.path, h('pre', { class: 'wgsl' }, this.code));
  }

  setFiles(files: SourceFile[], selected = files[0]?.label): void {
    this.files = files;
    this.tabs.replaceChildren(...files.map((f) => {
      const tab = h('button', { type: 'button', role: 'tab', 'data-label': f.label }, f.label);
      tab.addEventListener('click', () => this.show(f.label));
      return tab;
    }));
    if (selected !== undefined) this.show(selected);
  }

  show(label: string): void {
    const file = this.files.find((f) => f.label === label);
    if (!file) return;
    for (const tab of Array.from(this.tabs.children)) tab.setAttribute('aria-selected', String((tab as HTMLElement).dataset.label === label));
    this.path.replaceChildren(h('code', {}, file.file), ` · ${file.source.split('\n').length} lines`);
    this.code.replaceChildren(highlightWgsl(file.source));
    this.code.parentElement!.scrollTop = 0;
  }
}
