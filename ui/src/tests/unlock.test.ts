import { describe, it, expect, vi, beforeEach } from 'vitest';
import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { info, investigator, cases } from './fixtures';
import type { Locked } from '../lib/bindings';

vi.mock('../lib/api', async (orig) => (await import('./mock-api')).mockApi(orig));
import * as api from '../lib/api';
import Unlock from '../screens/Unlock.svelte';
import App from '../App.svelte';

const m = vi.mocked(api);

beforeEach(() => {
  vi.clearAllMocks();
});

describe('unlock form', () => {
  it('shows the error and no data on a wrong passphrase', async () => {
    m.appInfo.mockResolvedValue(info({ failed_attempts: 0 }));
    m.unlock.mockRejectedValue({ code: 'wrong_passphrase', message: 'Wrong passphrase: 4 attempts left before a 10-minute lockout.' });
    m.casesList.mockResolvedValue(cases);
    const user = userEvent.setup();
    render(App);

    const input = await screen.findByTestId('unlock-passphrase');
    await user.type(input, 'not the passphrase');
    await user.click(screen.getByTestId('unlock-submit'));

    const err = await screen.findByTestId('unlock-error');
    expect(err).toHaveTextContent('4 attempts left');
    expect(m.unlock).toHaveBeenCalledWith('not the passphrase');
    // Nothing behind the lock is fetched or shown.
    expect(m.casesList).not.toHaveBeenCalled();
    expect(screen.queryByTestId('nav-cases')).toBeNull();
    expect(screen.queryByTestId('cases-table')).toBeNull();
    expect(screen.queryByText('Bike thefts Mitte')).toBeNull();
    // The field is cleared for the next try.
    expect(input).toHaveValue('');
  });

  it('shows the lockout message after too many wrong passphrases', async () => {
    const until = new Date(Date.now() + 10 * 60_000).toISOString();
    m.unlock.mockRejectedValue({ code: 'locked_out', message: `Too many wrong passphrases: locked until ${until}.` });
    m.appInfo.mockResolvedValue(info({ failed_attempts: 5, locked_out_until: until }));
    const onunlocked = vi.fn();
    const user = userEvent.setup();
    render(Unlock, { info: info({ failed_attempts: 4 }), onunlocked });

    await user.type(screen.getByTestId('unlock-passphrase'), 'the right passphrase');
    await user.click(screen.getByTestId('unlock-submit'));

    expect(await screen.findByTestId('unlock-error')).toHaveTextContent('Too many wrong passphrases');
    expect(await screen.findByTestId('unlock-lockout')).toHaveTextContent('paused until');
    expect(onunlocked).not.toHaveBeenCalled();
  });

  it('shows an active lockout as soon as the screen opens', () => {
    const until = new Date(Date.now() + 5 * 60_000).toISOString();
    render(Unlock, { info: info({ failed_attempts: 5, locked_out_until: until }), onunlocked: vi.fn() });
    expect(screen.getByTestId('unlock-lockout')).toBeInTheDocument();
  });

  it('opens the app on the right passphrase', async () => {
    m.appInfo.mockResolvedValueOnce(info()).mockResolvedValue(info({ unlocked: true, whoami: investigator }));
    m.unlock.mockResolvedValue(investigator);
    m.casesList.mockResolvedValue(cases);
    m.syncStatus.mockResolvedValue({
      pending: 0,
      pending_bytes: 0,
      last_success: null,
      last_error: null,
      last_attempt: null,
      cursor: 0,
      online: false,
      running: false,
      refused: [],
    });
    const user = userEvent.setup();
    render(App);
    await user.type(await screen.findByTestId('unlock-passphrase'), 'correct horse battery');
    await user.click(screen.getByTestId('unlock-submit'));
    expect(await screen.findByText('Bike thefts Mitte')).toBeInTheDocument();
    expect(screen.getByTestId('nav-cases')).toBeInTheDocument();
    expect(screen.getByTestId('lock-now')).toBeInTheDocument();
  });

  it('locks again and forgets the screen when the shell says locked', async () => {
    let fire: (e: Locked | null) => void = () => {};
    m.onLocked.mockImplementation((h) => {
      fire = h;
      return () => {};
    });
    m.appInfo.mockResolvedValue(info({ unlocked: true, whoami: investigator }));
    m.casesList.mockResolvedValue(cases);
    m.syncStatus.mockResolvedValue({
      pending: 2,
      pending_bytes: 4096,
      last_success: null,
      last_error: null,
      last_attempt: null,
      cursor: 0,
      online: true,
      running: false,
      refused: [],
    });
    render(App);
    expect(await screen.findByText('Bike thefts Mitte')).toBeInTheDocument();
    m.appInfo.mockResolvedValue(info());
    fire({ reason: 'idle' });
    expect(await screen.findByTestId('unlock-passphrase')).toBeInTheDocument();
    expect(screen.getByTestId('unlock-notice')).toHaveTextContent('15 minutes');
    await waitFor(() => expect(screen.queryByText('Bike thefts Mitte')).toBeNull());
  });
});
