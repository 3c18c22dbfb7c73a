import { describe, it, expect, vi, beforeEach, afterEach } from 'vitest';
import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { info, investigator, cases } from './fixtures';

vi.mock('../lib/api', async (orig) => (await import('./mock-api')).mockApi(orig));
import * as api from '../lib/api';
import App from '../App.svelte';
import Settings from '../screens/Settings.svelte';
import AccessLog from '../screens/AccessLog.svelte';
import { LANGUAGE_SETTING_KEY, setupI18n } from '../lib/i18n';
import { session } from '../lib/session.svelte';

const m = vi.mocked(api);

const idleStatus = {
  pending: 0,
  pending_bytes: 0,
  last_success: null,
  last_error: null,
  last_attempt: null,
  cursor: 0,
  online: false,
  running: false,
  refused: [],
};

beforeEach(() => {
  vi.clearAllMocks();
  localStorage.clear();
  setupI18n('en');
});

afterEach(() => {
  localStorage.clear();
  setupI18n('en');
  session.whoami = null;
});

describe('the language setting', () => {
  it('offers the system default and the three languages, and switches the screen at once', async () => {
    const user = userEvent.setup();
    render(Settings);
    const select = screen.getByTestId('language-select') as HTMLSelectElement;
    expect([...select.options].map((o) => o.value)).toEqual(['system', 'en', 'de', 'nl']);
    expect([...select.options].map((o) => o.textContent?.trim())).toEqual(['System default (English)', 'English', 'Deutsch', 'Nederlands']);
    expect(select.value).toBe('system');
    expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent('Settings');

    await user.selectOptions(select, 'de');
    expect(localStorage.getItem(LANGUAGE_SETTING_KEY)).toBe('de');
    await waitFor(() => expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent('Einstellungen'));
    expect(screen.getByTestId('idle-lock-save')).toHaveTextContent('Speichern');

    await user.selectOptions(select, 'nl');
    expect(localStorage.getItem(LANGUAGE_SETTING_KEY)).toBe('nl');
    await waitFor(() => expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent('Instellingen'));

    await user.selectOptions(select, 'system');
    expect(localStorage.getItem(LANGUAGE_SETTING_KEY)).toBeNull();
    await waitFor(() => expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent('Settings'));
  });

  it('a Settings error in German is German too, and nothing is stored', async () => {
    const user = userEvent.setup();
    render(Settings);
    await user.selectOptions(screen.getByTestId('language-select'), 'de');
    const url = screen.getByTestId('map-tiles-url');
    await user.clear(url);
    await user.click(url);
    await user.paste('http://tiles.example.org/{z}/{x}/{y}.png');
    await user.click(screen.getByTestId('map-tiles-save'));
    expect(await screen.findByTestId('map-tiles-error')).toHaveTextContent('Die Kachel-Adresse muss mit https:// beginnen');
    expect(m.setTileServer).not.toHaveBeenCalled();
    expect(localStorage.getItem('casebridge.map.tileTemplate')).toBeNull();
  });
});

describe('the German UI', () => {
  it('the access log names actions and chain states in German, codes kept, unknown codes as they are', async () => {
    setupI18n('de');
    const base = {
      at: '2026-03-02T10:00:00+01:00',
      actor: '0190a000-0000-7000-8000-000000000001',
      actor_name: 'Vera Brandt',
      device: '0190a000-0000-7000-8000-0000000000d1',
      case_id: '0190a000-0000-7000-8000-0000000000c1',
      evidence_id: null,
      item_ids: [],
      reason: null,
      access_seq: 1,
    };
    m.accessLog.mockResolvedValue([
      { ...base, action: 'viewed', status: 'chained' },
      { ...base, action: 'some_future_action', access_seq: 2, status: 'gap' },
    ]);
    render(AccessLog);
    const rows = await screen.findAllByTestId('access-row');
    expect(within(rows[0]).getByText('angesehen')).toHaveAttribute('data-action', 'viewed');
    expect(rows[0]).toHaveTextContent('verkettet');
    expect(within(rows[1]).getByText('some_future_action')).toHaveAttribute('data-action', 'some_future_action');
    expect(rows[1]).toHaveTextContent('LÜCKE davor');
    expect(screen.getByTestId('access-gap')).toHaveTextContent('1 Eintrag folgt auf eine Lücke');
  });

  it('starts in the stored language before unlock, and the unlocked shell, lists and dates follow', async () => {
    localStorage.setItem(LANGUAGE_SETTING_KEY, 'de');
    setupI18n();
    m.appInfo.mockResolvedValueOnce(info()).mockResolvedValue(info({ unlocked: true, whoami: investigator }));
    m.unlock.mockResolvedValue(investigator);
    m.casesList.mockResolvedValue(cases);
    m.syncStatus.mockResolvedValue(idleStatus);
    const user = userEvent.setup();
    render(App);

    expect(await screen.findByRole('heading', { level: 1 })).toHaveTextContent('Profil entsperren');
    expect(screen.getByTestId('unlock-submit')).toHaveTextContent('Entsperren');
    await user.type(screen.getByTestId('unlock-passphrase'), 'correct horse battery');
    await user.click(screen.getByTestId('unlock-submit'));

    const table = await screen.findByTestId('cases-table');
    expect(screen.getByTestId('nav-cases')).toHaveTextContent('Fälle');
    expect(screen.getByTestId('nav-settings')).toHaveTextContent('Einstellungen');
    expect(screen.getByTestId('lock-now')).toHaveTextContent('Sperren');
    expect(within(table).getByText('Titel')).toBeInTheDocument();
    const rows = within(table).getAllByTestId('case-row');
    expect(within(rows[0]).getByTestId('case-status')).toHaveTextContent('Offen');
    expect(within(rows[1]).getByTestId('case-status')).toHaveTextContent('Abgeschlossen');
    // 1 March 2026 in German: "1. März 2026" (the month named as German writes it).
    expect(rows[0]).toHaveTextContent(/1\. März 2026/);
  });

  it('the language can be chosen on the unlock screen, before any profile is open', async () => {
    m.appInfo.mockResolvedValue(info({ profile_exists: false }));
    const user = userEvent.setup();
    render(App);
    expect(await screen.findByRole('heading', { level: 1 })).toHaveTextContent('Create your profile');
    expect(document.documentElement.lang).toBe('en');
    await user.selectOptions(screen.getByTestId('unlock-language'), 'nl');
    await waitFor(() => expect(screen.getByRole('heading', { level: 1 })).toHaveTextContent('Uw profiel aanmaken'));
    expect(screen.getByTestId('profile-create')).toHaveTextContent('Profiel aanmaken');
    expect((screen.getByTestId('unlock-language') as HTMLSelectElement).value).toBe('nl');
    expect(localStorage.getItem(LANGUAGE_SETTING_KEY)).toBe('nl');
    expect(document.documentElement.lang).toBe('nl');
  });

  it('a stored value that is not one of ours falls back to the system language (English here)', async () => {
    localStorage.setItem(LANGUAGE_SETTING_KEY, '<script>');
    setupI18n();
    m.appInfo.mockResolvedValue(info());
    render(App);
    expect(await screen.findByRole('heading', { level: 1 })).toHaveTextContent('Unlock your profile');
  });
});
