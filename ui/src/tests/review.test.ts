import { describe, it, expect, vi, beforeEach } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { submission } from './fixtures';

vi.mock('../lib/api', async (orig) => (await import('./mock-api')).mockApi(orig));
import * as api from '../lib/api';
import ReviewDecision from '../components/ReviewDecision.svelte';
import Queue from '../screens/Queue.svelte';

const m = vi.mocked(api);

beforeEach(() => {
  vi.clearAllMocks();
  m.reviewDecide.mockImplementation(async (_id, decision, _items, reason) => ({
    ...submission,
    state: decision,
    items: submission.items.map((i) => ({ ...i, state: decision, reason })),
  }));
});

describe('review decision', () => {
  it('needs a reason to reject', async () => {
    const user = userEvent.setup();
    const ondecided = vi.fn();
    render(ReviewDecision, { submission, ondecided });
    await user.click(screen.getByTestId('review-reject'));
    expect(screen.getByTestId('review-reason-error')).toBeInTheDocument();
    expect(screen.getByTestId('review-reason')).toHaveFocus();
    expect(m.reviewDecide).not.toHaveBeenCalled();

    await user.type(screen.getByTestId('review-reason'), '  ');
    await user.click(screen.getByTestId('review-reject'));
    expect(m.reviewDecide).not.toHaveBeenCalled();

    await user.type(screen.getByTestId('review-reason'), 'Shows a different building');
    await user.click(screen.getByTestId('review-reject'));
    expect(m.reviewDecide).toHaveBeenCalledWith('s1', 'rejected', [], 'Shows a different building');
    expect(ondecided).toHaveBeenCalled();
  });

  it('needs a reason to request information', async () => {
    const user = userEvent.setup();
    render(ReviewDecision, { submission, ondecided: vi.fn() });
    await user.click(screen.getByTestId('review-request-info'));
    expect(screen.getByTestId('review-reason-error')).toHaveTextContent('what information');
    expect(m.reviewDecide).not.toHaveBeenCalled();
    await user.type(screen.getByTestId('review-reason'), 'Which direction were you facing?');
    await user.click(screen.getByTestId('review-request-info'));
    expect(m.reviewDecide).toHaveBeenCalledWith('s1', 'info_requested', [], 'Which direction were you facing?');
  });

  it('accepts without a reason', async () => {
    const user = userEvent.setup();
    render(ReviewDecision, { submission, ondecided: vi.fn() });
    await user.click(screen.getByTestId('review-accept'));
    expect(m.reviewDecide).toHaveBeenCalledWith('s1', 'accepted', [], null);
    expect(screen.queryByTestId('review-reason-error')).toBeNull();
  });

  it('updates the queue after a decision, for the selected items', async () => {
    m.submissionsList.mockResolvedValue([submission]);
    const user = userEvent.setup();
    render(Queue);
    expect(await screen.findByTestId('submission-state')).toHaveTextContent('Pending review');
    await user.click(screen.getByTestId('review-item'));
    await user.click(screen.getByTestId('review-accept'));
    expect(m.reviewDecide).toHaveBeenCalledWith('s1', 'accepted', ['e1'], null);
    expect(await screen.findByText('Accepted', { selector: '[data-testid="submission-state"]' })).toBeInTheDocument();
  });
});
