import { describe, expect, it, beforeEach, afterEach } from 'vitest';
import { parse, TYPE, type MessageFormatElement } from '@formatjs/icu-messageformat-parser';
import {
  LANGUAGES,
  LANGUAGE_SETTING_KEY,
  MESSAGES,
  currentLocale,
  formatLocale,
  loadLanguagePref,
  setLanguagePref,
  setupI18n,
  systemLanguage,
  t,
} from '../lib/i18n';
import { ago, bytes, dateTime, number, stateLabel } from '../lib/format';

/** Every leaf of a nested dictionary as "a.b.c" -> message. */
function flatten(obj: Record<string, unknown>, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'string') out.set(key, v);
    else if (v && typeof v === 'object' && !Array.isArray(v)) for (const [kk, vv] of flatten(v as Record<string, unknown>, key)) out.set(kk, vv);
    else out.set(key, `\u0000not a string: ${JSON.stringify(v)}`);
  }
  return out;
}

/** The ICU arguments of a message with their kind ("n:plural", "name:argument", "b:tag"), sorted. */
function placeholders(msg: string): string[] {
  const found = new Set<string>();
  const walk = (els: MessageFormatElement[]) => {
    for (const el of els) {
      switch (el.type) {
        case TYPE.argument:
          found.add(`${el.value}:argument`);
          break;
        case TYPE.number:
          found.add(`${el.value}:number`);
          break;
        case TYPE.date:
          found.add(`${el.value}:date`);
          break;
        case TYPE.time:
          found.add(`${el.value}:time`);
          break;
        case TYPE.plural:
          found.add(`${el.value}:plural`);
          for (const o of Object.values(el.options)) walk(o.value);
          break;
        case TYPE.select:
          found.add(`${el.value}:select`);
          for (const o of Object.values(el.options)) walk(o.value);
          break;
        case TYPE.tag:
          found.add(`${el.value}:tag`);
          walk(el.children);
          break;
        default:
          break;
      }
    }
  };
  walk(parse(msg));
  return [...found].sort();
}

const flat = Object.fromEntries(LANGUAGES.map((l) => [l, flatten(MESSAGES[l])])) as Record<string, Map<string, string>>;

describe('locale files', () => {
  it('have English, German and Dutch', () => {
    expect([...LANGUAGES]).toEqual(['en', 'de', 'nl']);
    expect(flat.en.size).toBeGreaterThan(20);
  });

  for (const a of LANGUAGES) {
    for (const b of LANGUAGES) {
      if (a === b) continue;
      it(`every ${a} key exists in ${b}`, () => {
        const missing = [...flat[a].keys()].filter((k) => !flat[b].has(k));
        expect(missing, `keys of ${a} missing in ${b}`).toEqual([]);
      });
    }
  }

  for (const l of LANGUAGES) {
    it(`${l}: every message is a non-empty string that parses as ICU MessageFormat`, () => {
      const bad: string[] = [];
      for (const [k, v] of flat[l]) {
        if (v.trim() === '' || v.startsWith('\u0000')) {
          bad.push(`${k}: ${v}`);
          continue;
        }
        try {
          parse(v);
        } catch (e) {
          bad.push(`${k}: ${(e as Error).message}`);
        }
      }
      expect(bad).toEqual([]);
    });
  }

  for (const l of ['de', 'nl'] as const) {
    it(`${l}: every message has the same placeholders as English`, () => {
      const diff: string[] = [];
      for (const [k, v] of flat.en) {
        const other = flat[l].get(k);
        if (other === undefined) continue; // reported by the key test
        const pe = placeholders(v).join(',');
        const po = placeholders(other).join(',');
        if (pe !== po) diff.push(`${k}: en {${pe}} vs ${l} {${po}}`);
      }
      expect(diff).toEqual([]);
    });
  }

  // svelte-i18n returns a message called without values as it is written (it skips ICU), so a
  // message without arguments must be plain text: no quoting, no escapes that only ICU would undo.
  for (const l of LANGUAGES) {
    it(`${l}: a message without arguments reads the same with or without ICU`, () => {
      const bad: string[] = [];
      for (const [k, v] of flat[l]) {
        if (placeholders(v).length > 0) continue;
        const ast = parse(v);
        const plain = ast.length === 1 && ast[0].type === TYPE.literal && ast[0].value === v;
        if (!plain) bad.push(`${k}: ${v}`);
      }
      expect(bad).toEqual([]);
    });
  }

  it('the placeholder check sees a renamed or dropped argument', () => {
    expect(placeholders('{n, plural, one {# file} other {# files}} from {name}')).toEqual(['n:plural', 'name:argument']);
    expect(placeholders('{count, plural, one {# Datei} other {# Dateien}}')).not.toEqual(placeholders('{n, plural, one {# file} other {# files}}'));
  });

  it('every key used in the source exists in English', () => {
    // The sources as text (Vite reads them; tests, bindings and the locale files themselves are not UI).
    const sources = import.meta.glob(['../**/*.svelte', '../**/*.ts', '!../tests/**', '!../lib/bindings/**'], {
      query: '?raw',
      import: 'default',
      eager: true,
    }) as Record<string, string>;
    expect(Object.keys(sources).length).toBeGreaterThan(30);
    const used = new Set<string>();
    // $_('key'), $_("key"), t('key'): literal keys only (computed keys are checked by their own tests).
    const re = /(?:\$_|\bt)\(\s*(['"])([A-Za-z0-9_.-]+)\1/g;
    for (const text of Object.values(sources)) for (const m of text.matchAll(re)) used.add(m[2]);
    expect(used.size).toBeGreaterThan(0);
    const missing = [...used].filter((k) => !flat.en.has(k));
    expect(missing).toEqual([]);
  });
});

describe('language choice', () => {
  beforeEach(() => localStorage.clear());
  afterEach(() => {
    localStorage.clear();
    setupI18n('en');
  });

  it('follows the system when nothing is chosen, English for C/POSIX and unknown languages', () => {
    expect(systemLanguage(['de-AT', 'en'])).toBe('de');
    expect(systemLanguage(['nl_BE.UTF-8'])).toBe('nl');
    expect(systemLanguage(['fr-FR', 'nl-NL'])).toBe('nl');
    expect(systemLanguage(['C'])).toBe('en');
    expect(systemLanguage(['POSIX'])).toBe('en');
    expect(systemLanguage(['en-US'])).toBe('en');
    expect(systemLanguage([])).toBe(systemLanguage(undefined));
    expect(systemLanguage(['xx', ''])).toBe('en');
  });

  it('stores the choice and switches the messages, dates and numbers', () => {
    setupI18n('en');
    expect(t('state.accepted')).toBe('Accepted');
    setLanguagePref('de');
    expect(localStorage.getItem(LANGUAGE_SETTING_KEY)).toBe('de');
    expect(loadLanguagePref()).toBe('de');
    expect(currentLocale()).toBe('de');
    expect(stateLabel('accepted')).toBe('Angenommen');
    expect(bytes(1536)).toBe('1,5 KiB');
    expect(number(12345)).toBe('12.345');
    expect(ago('2026-03-01T10:00:00Z', Date.parse('2026-03-01T10:05:00Z'))).toBe('vor 5 Min.');
    expect(dateTime('2026-03-01T10:00:00Z')).toMatch(/März|Mär/);
    setLanguagePref('nl');
    expect(stateLabel('accepted')).toBe('Geaccepteerd');
    expect(dateTime('2026-03-01T10:00:00Z')).toMatch(/mrt/);
    setLanguagePref('system');
    expect(localStorage.getItem(LANGUAGE_SETTING_KEY)).toBeNull();
    expect(loadLanguagePref()).toBe('system');
  });

  it('dates and numbers follow the regional tag of the system when it is in the UI language', () => {
    setupI18n('en');
    expect(formatLocale(['en-GB', 'de-DE'])).toBe('en-GB');
    expect(formatLocale(['de-DE', 'en-US'])).toBe('en-US');
    expect(formatLocale(['de-DE'])).toBe('en');
    expect(formatLocale(['en_GB.UTF-8'])).toBe('en-GB');
    expect(formatLocale(['en-!!', 'en-IE'])).toBe('en-IE');
    setLanguagePref('de');
    expect(formatLocale(['de-AT', 'en-GB'])).toBe('de-AT');
    expect(formatLocale(['en-GB'])).toBe('de');
    setLanguagePref('nl');
    expect(formatLocale(['nl-BE'])).toBe('nl-BE');
  });

  it('a tampered stored value means the system language, and an unknown choice is refused', () => {
    localStorage.setItem(LANGUAGE_SETTING_KEY, 'fr');
    expect(loadLanguagePref()).toBe('system');
    localStorage.setItem(LANGUAGE_SETTING_KEY, '__proto__');
    expect(loadLanguagePref()).toBe('system');
    expect(() => setLanguagePref('xx' as never)).toThrow(/not a supported language/);
    expect(currentLocale()).toBe('en');
  });

  it('literal braces are quoted in the messages and render as braces', () => {
    for (const l of ['en', 'de', 'nl'] as const) {
      setupI18n(l);
      expect(t('settings.tileHint', { z: '{z}', x: '{x}', y: '{y}' })).toMatch(/\{z\}.*\{x\}.*\{y\}/);
      expect(t('settings.tileHint', { z: '{z}', x: '{x}', y: '{y}' })).not.toContain("'");
      expect(t('geo.tilePlaceholder', { k: '{x}' })).toContain('https://tiles.example.org/{z}/{x}/{y}.png');
    }
  });

  it('an unknown key shows the key, never an empty string', () => {
    setupI18n('en');
    expect(t('no.such.key')).toBe('no.such.key');
  });
});
