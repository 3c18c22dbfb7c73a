// Backend errors in the UI's language: every ErrorCode the backend names has a sentence in every
// language, and a failed call or a job/sync event carries the sentence of the UI's language.
import { afterEach, describe, expect, it, vi } from 'vitest';

const core = vi.hoisted(() => ({ invoke: vi.fn(), isTauri: () => true }));
vi.mock('@tauri-apps/api/core', () => core);

import { LANGUAGES, MESSAGES, localiseError, setupI18n } from '../lib/i18n';
import * as api from '../lib/api';

// The generated union of the backend's codes (crates/app/src/error.rs, through ts-rs).
const bindings = import.meta.glob('../lib/bindings/ErrorCode.ts', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;
const union = Object.values(bindings)[0] ?? '';
const CODES = [...union.matchAll(/"([a-z_]+)"/g)].map((m) => m[1]);

afterEach(() => {
  setupI18n('en');
  core.invoke.mockReset();
});

describe('error sentences', () => {
  it('the bindings name the backend codes', () => {
    expect(CODES.length).toBeGreaterThan(100);
    expect(CODES).toContain('wrong_passphrase');
    expect(CODES).toContain('evidence_deleted');
  });

  for (const l of LANGUAGES) {
    it(`${l}: every backend code has a sentence, and no sentence is for a code that does not exist`, () => {
      const sentences = MESSAGES[l].errors as Record<string, string>;
      expect(CODES.filter((c) => !sentences[c])).toEqual([]);
      expect(Object.keys(sentences).filter((c) => !CODES.includes(c))).toEqual([]);
    });
  }

  it('English keeps the backend words; German and Dutch get their sentence', () => {
    const err = { code: 'wrong_passphrase', message: 'wrong passphrase: try again' };
    setupI18n('en');
    expect(localiseError(err)).toEqual(err);
    setupI18n('de');
    expect(localiseError(err)).toEqual({ code: 'wrong_passphrase', message: 'Falsche Passphrase.' });
    setupI18n('nl');
    expect(localiseError(err)).toEqual({ code: 'wrong_passphrase', message: 'Verkeerde wachtwoordzin.' });
  });

  it('a code whose words name the field keeps them after the sentence', () => {
    setupI18n('de');
    const err = localiseError({ code: 'invalid_input', message: 'tile server: the address must start with https://' });
    expect(err.message).toBe('Eine Eingabe ist ungültig. (tile server: the address must start with https://)');
  });

  it('an endpoint code this build does not name keeps its words', () => {
    setupI18n('de');
    const err = { code: 'invite_used', message: 'this invite was used already' };
    expect(localiseError(err)).toEqual(err);
  });

  it('a failed call rejects with the sentence of the UI language and the same code', async () => {
    core.invoke.mockRejectedValue({ code: 'supervisor_only', message: 'only a supervisor may do this' });
    setupI18n('nl');
    await expect(api.unlock('x')).rejects.toEqual({ code: 'supervisor_only', message: 'Alleen een leidinggevende kan dit doen.' });
    setupI18n('en');
    await expect(api.unlock('x')).rejects.toEqual({ code: 'supervisor_only', message: 'only a supervisor may do this' });
  });
});
