// Issue 16: the supervisor's Access log screen — the CLI's filters, each entry's chain status, a gap
// shown as an error, the export for the data-protection officer; only supervisors reach it.
import { describe, it, expect, vi, beforeEach } from 'vitest';
import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import type { AccessEntry, WhoAmI } from '../lib/bindings';
import { investigator } from './fixtures';

vi.mock('../lib/api', async (orig) => (await import('./mock-api')).mockApi(orig));
import * as api from '../lib/api';
import AccessLog from '../screens/AccessLog.svelte';
import { allowed } from '../lib/session.svelte';

const m = vi.mocked(api);

function entry(over: Partial<AccessEntry> = {}): AccessEntry {
  return {
    at: '2026-03-02T10:00:00+01:00',
    actor: '0190a000-0000-7000-8000-000000000001',
    actor_name: 'Vera Brandt',
    device: '0190a000-0000-7000-8000-0000000000d1',
    action: 'viewed',
    case_id: '0190a000-0000-7000-8000-0000000000c1',
    evidence_id: '0190a000-0000-7000-8000-0000000000e1',
    item_ids: [],
    reason: 'review',
    access_seq: 1,
    status: 'chained',
    ...over,
  };
}

beforeEach(() => {
  vi.clearAllMocks();
});

describe('access log screen', () => {
  it('lists entries with who, what and which items, and filters like the CLI', async () => {
    m.accessLog.mockResolvedValue([
      entry(),
      entry({ action: 'listed_evidence', evidence_id: null, item_ids: ['a1', 'a2', 'a3'], access_seq: 2, reason: null }),
    ]);
    const user = userEvent.setup();
    render(AccessLog);
    const rows = await screen.findAllByTestId('access-row');
    expect(rows).toHaveLength(2);
    expect(within(rows[0]).getByText('Vera Brandt')).toBeInTheDocument();
    expect(rows[1]).toHaveTextContent('3 items');
    // The action in words, its code (as the CLI prints it) kept in the cell; an unknown code shows as it is.
    expect(within(rows[1]).getByText('listed the evidence')).toHaveAttribute('data-action', 'listed_evidence');
    expect(m.accessLog).toHaveBeenLastCalledWith(null, null, null);
    await user.type(screen.getByTestId('access-case'), 'BER-7');
    await user.type(screen.getByTestId('access-member'), '0190a000-0000-7000-8000-000000000001');
    await user.click(screen.getByTestId('access-apply'));
    expect(m.accessLog).toHaveBeenLastCalledWith('BER-7', '0190a000-0000-7000-8000-000000000001', null);
    expect(screen.queryByTestId('access-gap')).toBeNull();
  });

  it('passes "since" as RFC 3339 with the local offset', async () => {
    m.accessLog.mockResolvedValue([]);
    render(AccessLog);
    await screen.findByTestId('access-empty');
    const since = screen.getByTestId('access-since') as HTMLInputElement;
    since.value = '2026-03-01T10:00';
    since.dispatchEvent(new Event('input', { bubbles: true }));
    screen.getByTestId('access-apply').click();
    await waitFor(() => expect(m.accessLog).toHaveBeenCalledTimes(2));
    const arg = m.accessLog.mock.calls[1][2] as string;
    expect(arg).toMatch(/^2026-03-01T10:00:00[+-]\d\d:\d\d$/);
  });

  it('shows a gap in an author chain as an error', async () => {
    m.accessLog.mockResolvedValue([entry(), entry({ access_seq: 3, status: 'gap' })]);
    render(AccessLog);
    expect(await screen.findByTestId('access-gap')).toHaveTextContent('1 entry follows a gap');
    const rows = screen.getAllByTestId('access-row');
    expect(rows[1]).toHaveAttribute('data-status', 'gap');
    expect(rows[1]).toHaveTextContent('GAP before it');
  });

  it('exports the signed entries and says how to check them offline', async () => {
    m.accessLog.mockResolvedValue([entry()]);
    m.chooseAccessLogPath.mockResolvedValue('/home/dpo/access-log.json');
    m.accessLogExport.mockResolvedValue(1);
    const user = userEvent.setup();
    render(AccessLog);
    await screen.findAllByTestId('access-row');
    await user.click(screen.getByTestId('access-export'));
    // Nothing is written before a file is named.
    expect(screen.getByTestId('access-export-start')).toBeDisabled();
    await user.click(screen.getByTestId('access-export-choose'));
    expect(screen.getByTestId('access-export-path')).toHaveValue('/home/dpo/access-log.json');
    expect(m.accessLogExport).not.toHaveBeenCalled();
    await user.click(screen.getByTestId('access-export-start'));
    expect(await screen.findByTestId('access-export-message')).toHaveTextContent(
      'casebridge-verify --access-log /home/dpo/access-log.json',
    );
    expect(m.accessLogExport).toHaveBeenCalledWith(null, null, '/home/dpo/access-log.json');
  });

  it('exports to a typed path with the case and member filters, and shows a refusal', async () => {
    m.accessLog.mockResolvedValue([entry()]);
    m.accessLogExport.mockRejectedValueOnce({ code: 'already_exists', message: '/tmp/a.json exists already; nothing was written' });
    m.accessLogExport.mockResolvedValueOnce(4);
    const user = userEvent.setup();
    render(AccessLog);
    await screen.findAllByTestId('access-row');
    await user.type(screen.getByTestId('access-case'), 'BER-7');
    await user.type(screen.getByTestId('access-member'), '0190a000-0000-7000-8000-000000000001');
    await user.click(screen.getByTestId('access-export'));
    await user.type(screen.getByTestId('access-export-path'), '/tmp/a.json');
    await user.click(screen.getByTestId('access-export-start'));
    expect(await screen.findByTestId('access-export-error')).toHaveTextContent('exists already');
    expect(screen.queryByTestId('access-export-message')).toBeNull();
    await user.clear(screen.getByTestId('access-export-path'));
    await user.type(screen.getByTestId('access-export-path'), '/tmp/b.json');
    await user.click(screen.getByTestId('access-export-start'));
    expect(await screen.findByTestId('access-export-message')).toHaveTextContent('Wrote 4 signed entries to /tmp/b.json');
    expect(screen.queryByTestId('access-export-error')).toBeNull();
    expect(m.accessLogExport).toHaveBeenLastCalledWith('BER-7', '0190a000-0000-7000-8000-000000000001', '/tmp/b.json');
    expect(m.chooseAccessLogPath).not.toHaveBeenCalled();
  });

  it('shows why the log cannot be read', async () => {
    m.accessLog.mockRejectedValue({ code: 'invalid_input', message: "member: 'x' is not a member id" });
    render(AccessLog);
    expect(await screen.findByTestId('access-error')).toHaveTextContent('is not a member id');
  });

  it('is a supervisor screen only', () => {
    const sup: WhoAmI = { ...investigator, role: 'supervisor' };
    expect(allowed({ name: 'access-log' }, sup)).toBe(true);
    expect(allowed({ name: 'access-log' }, investigator)).toBe(false);
    expect(allowed({ name: 'access-log' }, { ...investigator, role: 'volunteer' })).toBe(false);
  });
});
