import { describe, it, expect, vi, beforeEach } from 'vitest';
import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { cases } from './fixtures';
import type { CaseSummary, SearchHit } from '../lib/bindings';

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

// What the engine returns for "van": a note of c2 (a word only in a note), then c1's title.
const vanHits: SearchHit[] = [
  {
    kind: 'note',
    id: 'n9',
    case_id: 'c2',
    case_title: 'Arson at the depot',
    brief_id: null,
    score: 4.2,
    matches: [{ field: 'note', snippet: 'Zeugin 👀 saw a white van <b>leave</b>', ranges: [{ start: 22, end: 25 }] }],
  },
  {
    kind: 'case',
    id: 'c1',
    case_id: 'c1',
    case_title: 'Bike thefts Mitte',
    brief_id: null,
    score: 1.5,
    matches: [{ field: 'summary', snippet: 'A van seen twice', ranges: [{ start: 2, end: 5 }] }],
  },
];

beforeEach(() => {
  vi.clearAllMocks();
  m.casesList.mockImplementation(fakeList);
  m.search.mockImplementation((q: string) => Promise.resolve(q.trim() === 'van' ? vanHits : []));
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

  it('shows ranked full-text matches with highlights, and opens a note hit on the notes tab', async () => {
    const user = userEvent.setup();
    render(CasesList);
    await screen.findAllByTestId('case-row');
    expect(m.search).not.toHaveBeenCalled();
    expect(screen.queryByTestId('search-hits')).not.toBeInTheDocument();
    await user.type(screen.getByTestId('cases-search'), 'van{Enter}');
    const hits = await screen.findAllByTestId('search-hit');
    expect(m.search).toHaveBeenLastCalledWith('van', 20);
    expect(hits.map((h) => h.dataset.kind)).toEqual(['note', 'case']);
    const match = within(hits[0]).getByTestId('search-match');
    expect(match).toHaveAttribute('data-field', 'note');
    expect(match).toHaveTextContent('Note:');
    // The range is UTF-16: the emoji before it counts two, and the marked word is exactly "van".
    const marks = hits[0].querySelectorAll('mark');
    expect(Array.from(marks).map((x) => x.textContent)).toEqual(['van']);
    // The snippet is text: markup in it is shown, never interpreted.
    expect(hits[0].querySelector('b')).toBeNull();
    expect(match).toHaveTextContent('<b>leave</b>');
    await user.click(within(hits[0]).getByTestId('search-hit-open'));
    expect(nav.route).toEqual({ name: 'case', id: 'c2', tab: 'notes' });
  });

  it('says when the search fails, without losing the case list', async () => {
    const user = userEvent.setup();
    m.search.mockImplementation(() => Promise.reject({ code: 'search_engine', message: 'search engine: broken' }));
    render(CasesList);
    await screen.findAllByTestId('case-row');
    await user.type(screen.getByTestId('cases-search'), 'bike{Enter}');
    expect(await screen.findByTestId('search-error')).toHaveTextContent('search engine: broken');
    expect(screen.getAllByTestId('case-row')).toHaveLength(1);
  });
});
