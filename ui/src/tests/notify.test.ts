import { describe, it, expect, vi, beforeEach } from 'vitest';
import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { info } from './fixtures';

vi.mock('../lib/api', async (orig) => (await import('./mock-api')).mockApi(orig));
import * as api from '../lib/api';
import Settings from '../screens/Settings.svelte';
import { session } from '../lib/session.svelte';

const m = vi.mocked(api);

beforeEach(() => {
  vi.clearAllMocks();
  session.info = info({ unlocked: true });
});

describe('Settings: notifications', () => {
  it('shows the stored setting and turns it off and on again through the desktop', async () => {
    const user = userEvent.setup();
    m.setNotifications.mockResolvedValue(undefined);
    render(Settings);
    const box = screen.getByTestId('notifications-toggle') as HTMLInputElement;
    expect(box.checked).toBe(true);
    await user.click(box);
    expect(m.setNotifications).toHaveBeenLastCalledWith(false);
    await waitFor(() => expect(session.info?.notifications).toBe(false));
    expect(box.checked).toBe(false);
    await user.click(box);
    expect(m.setNotifications).toHaveBeenLastCalledWith(true);
    await waitFor(() => expect(session.info?.notifications).toBe(true));
    expect(screen.queryByTestId('notifications-error')).toBeNull();
  });

  it('starts off when the profile has them off', () => {
    session.info = info({ unlocked: true, notifications: false });
    render(Settings);
    expect((screen.getByTestId('notifications-toggle') as HTMLInputElement).checked).toBe(false);
  });

  it('a setting that cannot be stored says so and the box keeps the stored value', async () => {
    const user = userEvent.setup();
    m.setNotifications.mockRejectedValue({ code: 'io', message: 'cannot write app.json' });
    render(Settings);
    const box = screen.getByTestId('notifications-toggle') as HTMLInputElement;
    await user.click(box);
    expect(await screen.findByTestId('notifications-error')).toHaveTextContent('could not be stored');
    expect(box.checked).toBe(true);
    expect(session.info?.notifications).toBe(true);
  });
});
