import { describe, it, expect, vi, beforeEach } from 'vitest';
import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { cases } from './fixtures';
import type { CaseSummary } from '../lib/bindings';

vi.mock('../lib/api', async (orig) => (await import('./mock-api')).mockApi(orig));
import * as api from '../lib/api';
import CasesList from '../screens/CasesList.svelte';
import { nav } from '../lib/session.svelte';

const m = vi.mocked(api);

// A stand-in for core's filtering, so the test sees what the user would.
function fakeList(search: string | null, status: string | null, sort: string): Promise<CaseSummary[]> {
  let out = cases.filter((c) => (status ? c.status === status : true)).filter((c) => (search ? c.title.toLowerCase().includes(search.toLowerCase()) : true));
  if (sort === 'title') out = [...out].sort((a, b) => a.title.localeCompare(b.title));
  return Promise.resolve(out);
}

beforeEach(() => {
  vi.clearAllMocks();
  m.casesList.mockImplementation(fakeList);
});

describe('cases list', () => {
  it('lists cases with their status', async () => {
    render(CasesList);
    const rows = await screen.findAllByTestId('case-row');
    expect(rows).toHaveLength(2);
    expect(within(rows[0]).getByTestId('case-status')).toHaveTextContent('Open');
    expect(m.casesList).toHaveBeenCalledWith(null, null, 'updated');
  });

  it('filters by status', async () => {
    const user = userEvent.setup();
    render(CasesList);
    await screen.findAllByTestId('case-row');
    await user.selectOptions(screen.getByTestId('cases-status'), 'closed');
    await waitFor(() => expect(screen.getAllByTestId('case-row')).toHaveLength(1));
    expect(screen.getByText('Arson at the depot')).toBeInTheDocument();
    expect(m.casesList).toHaveBeenLastCalledWith(null, 'closed', 'updated');
  });

  it('searches and sorts', async () => {
    const user = userEvent.setup();
    render(CasesList);
    await screen.findAllByTestId('case-row');
    await user.type(screen.getByTestId('cases-search'), 'bike');
    await waitFor(() => expect(m.casesList).toHaveBeenLastCalledWith('bike', null, 'updated'));
    await waitFor(() => expect(screen.getAllByTestId('case-row')).toHaveLength(1));
    await user.clear(screen.getByTestId('cases-search'));
    await user.selectOptions(screen.getByTestId('cases-sort'), 'title');
    await waitFor(() => expect(m.casesList).toHaveBeenLastCalledWith(null, null, 'title'));
    await waitFor(() => expect(screen.getAllByTestId('case-row')[0]).toHaveTextContent('Arson at the depot'));
  });

  it('says when nothing matches, and opens a case', async () => {
    const user = userEvent.setup();
    render(CasesList);
    await screen.findAllByTestId('case-row');
    await user.click(screen.getAllByTestId('case-open')[0]);
    expect(nav.route).toEqual({ name: 'case', id: 'c1' });
    await user.type(screen.getByTestId('cases-search'), 'nothing like this{Enter}');
    expect(await screen.findByTestId('cases-empty')).toHaveTextContent('No case matches');
  });
});
