import { describe, it, expect, vi, beforeEach } from 'vitest';
import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { brief, submission } from './fixtures';

vi.mock('../lib/api', async (orig) => (await import('./mock-api')).mockApi(orig));
import * as api from '../lib/api';
import SubmitForm from '../components/SubmitForm.svelte';
import MySubmissions from '../screens/MySubmissions.svelte';

const m = vi.mocked(api);

beforeEach(() => {
  vi.clearAllMocks();
  m.submit.mockResolvedValue({ ...submission, state: 'pending' });
  m.acceptConduct.mockResolvedValue(undefined);
});

describe('submit form', () => {
  it('requires the code of conduct before submitting', async () => {
    m.conductAccepted.mockResolvedValue(false);
    const user = userEvent.setup();
    render(SubmitForm, { brief });
    expect(screen.getByTestId('submit-who-sees')).toHaveTextContent('only the agency');
    await screen.findByTestId('conduct');
    await user.type(screen.getByTestId('submit-paths'), '/home/v/IMG_1.jpg');
    await user.click(screen.getByTestId('submit-send'));
    expect(screen.getByTestId('submit-form-error')).toHaveTextContent('code of conduct');
    expect(m.submit).not.toHaveBeenCalled();

    expect(screen.getByTestId('conduct-accept')).toBeDisabled();
    await user.click(screen.getByTestId('conduct-checkbox'));
    await user.click(screen.getByTestId('conduct-accept'));
    expect(m.acceptConduct).toHaveBeenCalledTimes(1);
    expect(await screen.findByTestId('conduct-accepted')).toBeInTheDocument();

    await user.type(screen.getByTestId('submit-description'), 'Smoke from the bridge');
    await user.type(screen.getByTestId('submit-lat'), '52.5');
    await user.type(screen.getByTestId('submit-lon'), '13.4');
    await user.click(screen.getByTestId('submit-send'));
    expect(m.submit).toHaveBeenCalledWith('b1', ['/home/v/IMG_1.jpg'], 'Smoke from the bridge', null, { lat: 52.5, lon: 13.4 });
    expect(await screen.findByTestId('submit-done')).toBeInTheDocument();
  });

  it('asks only once: an accepted code of conduct is not shown again', async () => {
    m.conductAccepted.mockResolvedValue(true);
    render(SubmitForm, { brief });
    expect(await screen.findByTestId('conduct-accepted')).toBeInTheDocument();
    expect(screen.queryByTestId('conduct-checkbox')).toBeNull();
  });

  it('refuses half a location', async () => {
    m.conductAccepted.mockResolvedValue(true);
    const user = userEvent.setup();
    render(SubmitForm, { brief });
    await screen.findByTestId('conduct-accepted');
    await user.type(screen.getByTestId('submit-paths'), '/a.jpg');
    await user.type(screen.getByTestId('submit-lat'), '52.5');
    await user.click(screen.getByTestId('submit-send'));
    expect(screen.getByTestId('submit-form-error')).toHaveTextContent('both latitude');
    expect(m.submit).not.toHaveBeenCalled();
  });
});

describe('my submissions', () => {
  it('shows states, the request for information and verified receipts', async () => {
    m.submissionsList.mockResolvedValue([
      {
        ...submission,
        state: 'info_requested',
        items: submission.items.map((i) => ({ ...i, state: 'info_requested', reason: 'Which way were you facing?' })),
      },
    ]);
    m.receiptsList.mockResolvedValue([
      {
        agency_id: 'a1',
        bundle_id: 'bundle-1-aaaa',
        manifest_hash: 'ff'.repeat(32),
        sender: 'v1',
        seq: 1,
        received_at: '2026-03-02T09:05:00+01:00',
        outcome: 'accepted',
        events: 3,
        blobs: 1,
        verified: true,
      },
      {
        agency_id: 'a1',
        bundle_id: 'bundle-2-bbbb',
        manifest_hash: 'ee'.repeat(32),
        sender: 'v1',
        seq: 2,
        received_at: '2026-03-02T09:06:00+01:00',
        outcome: 'accepted',
        events: 3,
        blobs: 1,
        verified: false,
      },
    ]);
    render(MySubmissions);
    await waitFor(() => expect(screen.getByTestId('submission-state')).toHaveTextContent('Information requested'));
    expect(screen.getByTestId('info-request')).toHaveTextContent('Which way were you facing?');
    expect(screen.getAllByTestId('receipt-verified')).toHaveLength(1);
    expect(screen.getAllByTestId('receipt-unverified')).toHaveLength(1);
  });

  it('withdraws a pending submission and says the agency deletes its items', async () => {
    const pending = { ...submission, state: 'pending' as const, items: submission.items.map((i) => ({ ...i, state: 'pending' as const })) };
    m.submissionsList.mockResolvedValueOnce([pending]).mockResolvedValue([{ ...pending, withdrawn_at: '2026-03-03T10:00:00Z' }]);
    m.receiptsList.mockResolvedValue([]);
    m.submissionWithdraw.mockResolvedValue({ ...pending, withdrawn_at: '2026-03-03T10:00:00Z' });
    const user = userEvent.setup();
    render(MySubmissions);
    await user.click(await screen.findByTestId('submission-withdraw'));
    expect(m.submissionWithdraw).toHaveBeenCalledWith(submission.id, null);
    expect(await screen.findByTestId('submission-withdrawn')).toHaveTextContent('deletes its items');
    expect(screen.queryByTestId('submission-withdraw')).toBeNull();
  });

  it('offers no withdrawal of a submission with an accepted item', async () => {
    m.submissionsList.mockResolvedValue([{ ...submission, state: 'accepted', items: submission.items.map((i) => ({ ...i, state: 'accepted' })) }]);
    m.receiptsList.mockResolvedValue([]);
    render(MySubmissions);
    await waitFor(() => expect(screen.getByTestId('submission-state')).toHaveTextContent('Accepted'));
    expect(screen.queryByTestId('submission-withdraw')).toBeNull();
  });

  it('shows a submission the agency refused, with the reason', async () => {
    m.submissionsList.mockResolvedValue([
      {
        ...submission,
        state: 'refused',
        items: submission.items.map((i) => ({ ...i, state: 'refused' })),
        refused: { bundle_id: 'bundle-3', code: 'forbidden', message: 'brief b1 was withdrawn', refused_at: '2026-03-02T09:07:00Z' },
      },
    ]);
    m.receiptsList.mockResolvedValue([]);
    render(MySubmissions);
    await waitFor(() => expect(screen.getByTestId('submission-state')).toHaveTextContent('Refused by the agency'));
    expect(screen.getByTestId('submission-refused')).toHaveTextContent('brief b1 was withdrawn');
  });
});
