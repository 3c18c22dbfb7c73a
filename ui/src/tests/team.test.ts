// Issue 16 in the desktop: a member taken off a case's team is told at the sync that brought it
// and the case list marks the case (never for a supervisor, who gets every case); a submission
// its volunteer withdrew waits for no decision; an item deleted under a retention rule or a
// withdrawal shows as deleted (what, when, which rule), not as a broken or unsynced item.
import { describe, it, expect, vi, beforeEach } from 'vitest';
import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { cases, investigator, submission } from './fixtures';
import type { Submission } from '../lib/bindings';

vi.mock('../lib/api', async (orig) => (await import('./mock-api')).mockApi(orig));
import * as api from '../lib/api';
import CasesList from '../screens/CasesList.svelte';
import Queue from '../screens/Queue.svelte';
import { session, toasts } from '../lib/session.svelte';
import { applySyncDone, resetSync, sync } from '../lib/sync.svelte';

const m = vi.mocked(api);

beforeEach(() => {
  vi.clearAllMocks();
  toasts.list.splice(0);
  session.whoami = investigator;
});

describe('off the team', () => {
  it('the sync that took the member off a team says so, in the log and a toast', () => {
    resetSync();
    applySyncDone({
      ok: true,
      error: null,
      report: { exported: 0, uploaded: 0, refused: 0, receipts: 0, pulled: 3, imported: 3, content_fetched: 0, cursor: 9, removed_from_teams: ['Stolen cargo bikes'] },
    });
    expect(sync.log[0].text).toBe(
      'You were taken off the team of the case “Stolen cargo bikes”: the agency no longer sends you its news. What you hold stays readable.',
    );
    expect(toasts.list.map((t) => t.text)).toEqual([sync.log[0].text]);
  });

  it('a round that took the member off nothing adds no such line', () => {
    resetSync();
    applySyncDone({ ok: true, error: null, report: { exported: 0, uploaded: 0, refused: 0, receipts: 0, pulled: 0, imported: 0, content_fetched: 0, cursor: 0 } });
    expect(sync.log.some((l) => l.text.includes('taken off'))).toBe(false);
    expect(toasts.list).toHaveLength(0);
  });

  it('the case list marks a case the investigator is no longer on, not the others', async () => {
    m.casesList.mockResolvedValue([cases[0], { ...cases[1], on_team: false }]);
    render(CasesList);
    const rows = await screen.findAllByTestId('case-row');
    expect(within(rows[0]).queryByTestId('case-row-off-team')).toBeNull();
    expect(within(rows[1]).getByTestId('case-row-off-team')).toHaveTextContent('Not on the team');
  });

  it('a supervisor, who gets every case, sees no such mark', async () => {
    session.whoami = { ...investigator, role: 'supervisor' };
    m.casesList.mockResolvedValue([{ ...cases[0], on_team: false }]);
    render(CasesList);
    await screen.findAllByTestId('case-row');
    expect(screen.queryByTestId('case-row-off-team')).toBeNull();
  });
});

describe('a withdrawn submission in the queue', () => {
  const withdrawn: Submission = {
    ...submission,
    id: 's2',
    withdrawn_at: '2026-03-03T08:00:00+01:00',
    items: [
      {
        ...submission.items[0],
        name: '',
        held: false,
        deleted: { rule: 'withdrawn', reason: 'withdrawn by its volunteer', deleted_at: '2026-03-04T02:00:00+01:00' },
      },
    ],
  };

  it('needs no decision: not open, marked withdrawn, no review buttons', async () => {
    m.submissionsList.mockResolvedValue([withdrawn]);
    render(Queue);
    expect(await screen.findByTestId('queue-empty')).toHaveTextContent('Nothing waiting');
    expect(screen.queryByTestId('queue-item')).toBeNull();
  });

  it('shows as withdrawn under "all", its deleted item as deleted, and cannot be decided', async () => {
    m.submissionsList.mockResolvedValue([withdrawn, submission]);
    const user = userEvent.setup();
    render(Queue);
    // Only the open one is listed at first.
    expect(await screen.findAllByTestId('queue-item')).toHaveLength(1);
    await user.selectOptions(screen.getByTestId('queue-filter'), 'all');
    const items = await screen.findAllByTestId('queue-item');
    expect(items).toHaveLength(2);
    expect(within(items[0]).getByTestId('queue-item-withdrawn')).toHaveTextContent('Withdrawn');
    await user.click(items[0]);
    expect(screen.getByTestId('submission-state')).toHaveAttribute('data-state', 'withdrawn');
    expect(screen.getByTestId('submission-withdrawn')).toHaveTextContent('it needs no decision');
    const deleted = screen.getByTestId('submission-item-deleted');
    expect(deleted).toHaveTextContent('Deleted under rule withdrawn on 2026-03-04');
    expect(deleted).toHaveAttribute('title', 'withdrawn by its volunteer');
    expect(screen.queryByText('Not synced')).toBeNull();
    expect(screen.queryByTestId('submission-preview')).toBeNull();
    expect(screen.queryByTestId('review-accept')).toBeNull();
    expect(screen.queryByTestId('review-item')).toBeNull();
    // The other one still takes a decision.
    await user.click(items[1]);
    expect(screen.getByTestId('review-accept')).toBeInTheDocument();
    expect(screen.getByTestId('submission-item-state')).toHaveAttribute('data-state', 'pending');
  });

  it('an item withdrawn but not deleted yet says withdrawn, not pending review', async () => {
    const waiting: Submission = { ...withdrawn, id: 's3', items: [{ ...submission.items[0], deleted: undefined }] };
    m.submissionsList.mockResolvedValue([waiting]);
    const user = userEvent.setup();
    render(Queue);
    await screen.findByTestId('queue-empty');
    await user.selectOptions(screen.getByTestId('queue-filter'), 'all');
    await user.click((await screen.findAllByTestId('queue-item'))[0]);
    const state = screen.getByTestId('submission-item-state');
    expect(state).toHaveAttribute('data-state', 'withdrawn');
    expect(state).toHaveTextContent('Withdrawn');
    expect(screen.queryByText('Pending review')).toBeNull();
    expect(screen.queryByTestId('review-item')).toBeNull();
  });
});
