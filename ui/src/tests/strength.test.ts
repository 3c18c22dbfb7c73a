import { describe, it, expect, vi, beforeEach } from 'vitest';
import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { info } from './fixtures';

vi.mock('../lib/api', async (orig) => (await import('./mock-api')).mockApi(orig));
import * as api from '../lib/api';
import StrengthMeter from '../components/StrengthMeter.svelte';
import Unlock from '../screens/Unlock.svelte';

const m = vi.mocked(api);

beforeEach(() => {
  vi.clearAllMocks();
  m.passphraseStrength.mockImplementation(async (p: string) =>
    p.length >= 16 ? { score: 4, label: 'very strong', meets_policy: true } : { score: 1, label: 'weak', meets_policy: p.length >= 10 },
  );
});

describe('strength meter', () => {
  it('shows the 10-character rule and the rating from the shell', async () => {
    const { rerender } = render(StrengthMeter, { passphrase: 'short' });
    const rule = screen.getByTestId('strength-rule-length');
    expect(rule).toHaveAttribute('data-ok', 'false');
    expect(rule).toHaveTextContent('(5/10)');
    await waitFor(() => expect(screen.getByTestId('strength-label')).toHaveTextContent('weak'));

    await rerender({ passphrase: 'correct horse battery staple' });
    expect(screen.getByTestId('strength-rule-length')).toHaveAttribute('data-ok', 'true');
    await waitFor(() => expect(screen.getByTestId('strength-label')).toHaveTextContent('very strong'));
    expect(screen.getByRole('meter')).toHaveAttribute('aria-valuenow', '4');
  });

  it('counts characters, not bytes', () => {
    render(StrengthMeter, { passphrase: 'ééééééééé' });
    expect(screen.getByTestId('strength-rule-length')).toHaveTextContent('(9/10)');
  });

  it('keeps Create disabled until 10 characters that match', async () => {
    const user = userEvent.setup();
    render(Unlock, { info: info({ profile_exists: false }), onunlocked: vi.fn() });
    await user.type(screen.getByTestId('profile-name'), 'Ada');
    await user.type(screen.getByTestId('profile-passphrase'), 'nine char');
    await user.type(screen.getByTestId('profile-confirm'), 'nine char');
    expect(screen.getByTestId('profile-create')).toBeDisabled();

    await user.type(screen.getByTestId('profile-passphrase'), 's and more');
    await user.clear(screen.getByTestId('profile-confirm'));
    await user.type(screen.getByTestId('profile-confirm'), 'nine chars and mor');
    expect(screen.getByTestId('profile-mismatch')).toBeInTheDocument();
    expect(screen.getByTestId('profile-create')).toBeDisabled();

    await user.type(screen.getByTestId('profile-confirm'), 'e');
    await waitFor(() => expect(screen.getByTestId('profile-create')).toBeEnabled());
  });

  it('shows the policy error from core when creating fails', async () => {
    m.profileCreate.mockRejectedValue({ code: 'passphrase_too_short', message: 'The passphrase needs at least 10 characters.' });
    const user = userEvent.setup();
    render(Unlock, { info: info({ profile_exists: false }), onunlocked: vi.fn() });
    await user.type(screen.getByTestId('profile-name'), 'Ada');
    await user.type(screen.getByTestId('profile-passphrase'), 'long enough pass');
    await user.type(screen.getByTestId('profile-confirm'), 'long enough pass');
    await waitFor(() => expect(screen.getByTestId('profile-create')).toBeEnabled());
    await user.click(screen.getByTestId('profile-create'));
    expect(await screen.findByTestId('profile-error')).toHaveTextContent('at least 10 characters');
    expect(m.profileCreate).toHaveBeenCalledWith('Ada', 'investigator', 'long enough pass');
  });
});
