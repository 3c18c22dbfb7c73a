// Every string the UI shows comes from the locale files: this reads each component's markup with
// Svelte's own parser and fails on a text node or a human-facing attribute (title, placeholder,
// aria-label, alt, label) written in plain words instead of through $_(...). Product names,
// commands and formats that are the same in every language are listed below.
import { describe, expect, it } from 'vitest';
import { parse } from 'svelte/compiler';

const SOURCES = import.meta.glob(['../**/*.svelte'], { query: '?raw', import: 'default', eager: true }) as Record<string, string>;

/** Text that reads the same in English, German and Dutch. */
const SAME_IN_EVERY_LANGUAGE = new Set(['Casebridge', 'SHA-256', 'PDF', 'casebridge check', 'casebridge-verify PACKAGE --agency-root FINGERPRINT']);
const SHOWN_ATTRIBUTES = new Set(['title', 'placeholder', 'aria-label', 'alt', 'label', 'aria-valuetext']);

type Node = { type?: string; data?: string; name?: string; value?: unknown; [k: string]: unknown };

function wordy(text: string): boolean {
  const t = text.replace(/\s+/g, ' ').trim();
  return /[A-Za-z]{2,}/.test(t) && !SAME_IN_EVERY_LANGUAGE.has(t);
}

/** Plain-word texts and attributes in a component's markup (scripts and styles are not markup). */
function rawTexts(source: string): string[] {
  const ast = parse(source, { modern: true }) as unknown as { fragment: Node };
  const found: string[] = [];
  const walk = (n: unknown) => {
    if (Array.isArray(n)) return n.forEach(walk);
    if (!n || typeof n !== 'object') return;
    const node = n as Node;
    if (node.type === 'Text' && typeof node.data === 'string' && wordy(node.data)) found.push(node.data.replace(/\s+/g, ' ').trim());
    if (node.type === 'Attribute') {
      // Only what people read: class names, ids, types and test ids are not.
      if (typeof node.name === 'string' && SHOWN_ATTRIBUTES.has(node.name) && Array.isArray(node.value)) {
        for (const v of node.value as Node[]) if (v.type === 'Text' && typeof v.data === 'string' && wordy(v.data)) found.push(`${node.name}="${v.data}"`);
      }
      return;
    }
    for (const [k, v] of Object.entries(node)) {
      if (k === 'attributes' || k === 'fragment' || k === 'nodes' || k === 'body' || k === 'consequent' || k === 'alternate' || k === 'fallback' || k === 'pending' || k === 'then' || k === 'catch') walk(v);
    }
  };
  walk(ast.fragment);
  return found;
}

describe('every UI string is externalised', () => {
  it('finds the components', () => {
    expect(Object.keys(SOURCES).length).toBeGreaterThan(30);
  });

  it('the check sees plain words in text and in shown attributes, and lets $_ and test ids pass', () => {
    expect(rawTexts('<p>Hello {name}</p>')).toEqual(['Hello']);
    expect(rawTexts('<input placeholder="Type here" data-testid="some-thing" />')).toEqual(['placeholder="Type here"']);
    expect(rawTexts('{#if a}<b>Yes</b>{:else}<i title="No way">x</i>{/if}')).toEqual(['Yes', 'title="No way"']);
    expect(rawTexts("<p>{$_('a.b')}</p><span data-testid=\"case-open\">✕</span><Map label={$_('map.label')} />")).toEqual([]);
    expect(rawTexts('<script>const s = "Not markup";</script><style>p { color: red; }</style><p>—</p>')).toEqual([]);
  });

  for (const [file, source] of Object.entries(SOURCES)) {
    it(`${file.replace('../', '')} shows no plain-word text`, () => {
      expect(rawTexts(source)).toEqual([]);
    });
  }
});
