// The UI's languages: English, German and Dutch through svelte-i18n (ICU MessageFormat on Intl).
// Every user-visible string lives in ./locales/{en,de,nl}.json under the same keys (a vitest test
// fails when a key or an ICU placeholder differs between them). Components use the `$_` store;
// plain TypeScript (lib messages, format.ts) uses `t()` and `currentLocale()`. App.svelte re-renders
// the whole screen when the locale changes, so strings computed outside `$_` follow too.
import { addMessages, init, locale, _ } from 'svelte-i18n';
import { get } from 'svelte/store';
import en from './locales/en.json';
import de from './locales/de.json';
import nl from './locales/nl.json';
// The backend's error codes in words, one file per language (`errors.<code>`): see localiseError.
import errorsEn from './locales/errors.en.json';
import errorsDe from './locales/errors.de.json';
import errorsNl from './locales/errors.nl.json';

export { _, locale };

export const LANGUAGES = ['en', 'de', 'nl'] as const;
export type Language = (typeof LANGUAGES)[number];
/** The Settings choice: one language, or whatever the system says. */
export type LanguagePref = Language | 'system';

/** Each language named in itself, for the Settings select. */
export const LANGUAGE_NAMES: Record<Language, string> = { en: 'English', de: 'Deutsch', nl: 'Nederlands' };

/** localStorage key of the language choice (absent: the system's language). A UI-only preference, read before unlock. */
export const LANGUAGE_SETTING_KEY = 'casebridge.language';

export const MESSAGES: Record<Language, Record<string, unknown>> = {
  en: { ...en, errors: errorsEn },
  de: { ...de, errors: errorsDe },
  nl: { ...nl, errors: errorsNl },
};

let registered = false;
function register(): void {
  if (registered) return;
  for (const l of LANGUAGES) addMessages(l, MESSAGES[l] as Parameters<typeof addMessages>[1]);
  // The page says which language it is in (screen readers, hyphenation, native date inputs).
  locale.subscribe((l) => {
    if (l && globalThis.document?.documentElement) globalThis.document.documentElement.lang = l;
  });
  registered = true;
}

function isLanguage(v: unknown): v is Language {
  return typeof v === 'string' && (LANGUAGES as readonly string[]).includes(v);
}

/**
 * The first of the system's languages we have ("de-AT" -> de, "nl_BE.UTF-8" -> nl); English
 * otherwise (also for "C"/"POSIX", an empty list or nonsense).
 */
export function systemLanguage(langs: readonly string[] | undefined = globalThis.navigator?.languages): Language {
  const list = langs && langs.length > 0 ? langs : globalThis.navigator?.language ? [globalThis.navigator.language] : [];
  for (const tag of list) {
    const primary = String(tag).toLowerCase().split(/[-_.@]/)[0];
    if (isLanguage(primary)) return primary;
  }
  return 'en';
}

/** The stored choice; 'system' when absent, unreadable or not one of ours. */
export function loadLanguagePref(): LanguagePref {
  let v: string | null = null;
  try {
    v = globalThis.localStorage?.getItem(LANGUAGE_SETTING_KEY) ?? null;
  } catch {
    return 'system';
  }
  return isLanguage(v) ? v : 'system';
}

/** The language a choice means on this machine. */
export function resolveLanguage(pref: LanguagePref): Language {
  return pref === 'system' ? systemLanguage() : pref;
}

/** Starts i18n synchronously (all three dictionaries are bundled): the stored choice, else the system's, fallback English. */
export function setupI18n(initial?: Language): Language {
  register();
  const lang = initial ?? resolveLanguage(loadLanguagePref());
  init({ fallbackLocale: 'en', initialLocale: lang });
  locale.set(lang);
  return lang;
}

/** Stores the choice and switches the UI to it now. A value that is not one of ours is refused. */
export function setLanguagePref(pref: LanguagePref): Language {
  if (pref !== 'system' && !isLanguage(pref)) throw new Error(`not a supported language: ${String(pref)}`);
  try {
    if (pref === 'system') globalThis.localStorage?.removeItem(LANGUAGE_SETTING_KEY);
    else globalThis.localStorage?.setItem(LANGUAGE_SETTING_KEY, pref);
  } catch {
    // Storage unavailable: the choice holds for this session only.
  }
  const lang = resolveLanguage(pref);
  locale.set(lang);
  return lang;
}

/** The current UI language (English before setup). */
export function currentLocale(): Language {
  const l = get(locale);
  if (isLanguage(l)) return l;
  const primary = (l ?? '').toLowerCase().split('-')[0];
  return isLanguage(primary) ? primary : 'en';
}

/**
 * The locale for dates and numbers: the system's own tag when it is in the UI's language
 * ("en-GB" writes 07/12/2026, "de-AT" Jänner, "nl-BE"), else the UI language itself.
 */
export function formatLocale(langs: readonly string[] | undefined = globalThis.navigator?.languages): string {
  const lang = currentLocale();
  for (const tag of langs ?? []) {
    const t = String(tag).replace(/_/g, '-').split('.')[0];
    if (t.toLowerCase().split('-')[0] !== lang) continue;
    try {
      return Intl.getCanonicalLocales(t)[0] ?? lang;
    } catch {
      // Not a valid BCP 47 tag: keep looking.
    }
  }
  return lang;
}

/** A message in the current language, for TypeScript outside components. */
export function t(key: string, values?: Record<string, string | number | boolean | Date | null | undefined>): string {
  return get(_)(key, values ? { values } : undefined);
}

/**
 * Codes whose backend words name what was wrong (a field, a file, an address): in German and
 * Dutch their sentence is followed by those words, which stay in English.
 */
const DETAILED_CODES: ReadonlySet<string> = new Set([
  'invalid_input',
  'bad_file',
  'io',
  'internal',
  'not_found',
  'config',
  'protocol',
  'connection',
  'corruption',
  'crypto',
  'store',
  'index',
  'search_engine',
  'settings_damaged',
  'missing_file',
  'not_pmtiles',
  'pmtiles_unsupported',
  'pmtiles_not_vector',
  'pmtiles_damaged',
  'event_invalid',
  'manifest_invalid',
  'submission_item_invalid',
  'unsupported_version',
]);

/**
 * A backend error in the UI's language. English keeps the backend's own words (they are the most
 * precise). German and Dutch get the code's sentence from `errors.<code>`, followed for
 * DETAILED_CODES by the backend's words in brackets; a code this build has no sentence for (an
 * agency endpoint's own) keeps its words.
 */
export function localiseError<E extends { code: string; message: string }>(err: E): E {
  const lang = currentLocale();
  if (lang === 'en') return err;
  const sentences = MESSAGES[lang].errors as Record<string, string> | undefined;
  const sentence = sentences?.[err.code];
  if (!sentence) return err;
  return { ...err, message: DETAILED_CODES.has(err.code) ? `${sentence} (${err.message})` : sentence };
}
