// Issue 17: court material from the desktop — the report and the evidence package as jobs with
// progress and cancel, the agency root fingerprint shown with how the court checks it.
import { describe, it, expect, vi, beforeEach } from 'vitest';
import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import type { CaseView as CaseViewData, JobDone, JobProgress } from '../lib/bindings';

vi.mock('../lib/api', async (orig) => (await import('./mock-api')).mockApi(orig));
import * as api from '../lib/api';
import CourtPanel from '../components/CourtPanel.svelte';

const m = vi.mocked(api);
const FP = '3f9a1c0e5b7d2a4c6e8f0a1b3c5d7e9f1a2b3c4d5e6f708192a3b4c5d6e7f809';

const detail: CaseViewData = {
  id: 'c1',
  reference: 'BER-2026-000123',
  title: 'Bike thefts Mitte',
  summary: null,
  status: 'open',
  tags: [],
  created_by: null,
  created_at: '2026-03-01T10:00:00+01:00',
  updated_at: '2026-03-01T10:00:00+01:00',
  evidence_count: 0,
  evidence: [],
  notes: [],
  team: [],
  on_team: true,
  hold: null,
  acted_by: [],
};

let progress: (p: JobProgress) => void = () => {};
let done: (d: JobDone) => void = () => {};

beforeEach(() => {
  vi.clearAllMocks();
  m.courtInfo.mockResolvedValue({ agency_name: 'Polizei Berlin', agency_root_fingerprint: FP });
  m.onJobProgress.mockImplementation((h) => ((progress = h), () => {}));
  m.onJobDone.mockImplementation((h) => ((done = h), () => {}));
});

describe('court panel', () => {
  it('shows the agency root fingerprint and how the court checks a package', async () => {
    render(CourtPanel, { detail });
    expect(await screen.findByTestId('court-fingerprint')).toHaveTextContent(FP);
    expect(screen.getByTestId('court-agency')).toHaveTextContent('Polizei Berlin');
  });

  it('says when no agency is pinned', async () => {
    m.courtInfo.mockResolvedValue({ agency_name: null, agency_root_fingerprint: null });
    render(CourtPanel, { detail });
    expect(await screen.findByTestId('court-no-agency')).toHaveTextContent('will not report it VERIFIED');
  });

  it('writes a package into a chosen folder, follows the job and prints the verify command', async () => {
    m.chooseFolder.mockResolvedValue('/media/usb/pkg');
    m.courtPackage.mockResolvedValue('package-1');
    const user = userEvent.setup();
    render(CourtPanel, { detail });
    await screen.findByTestId('court-fingerprint');
    await user.type(screen.getByTestId('court-reason'), 'for the prosecutor');
    await user.click(screen.getByTestId('court-package-choose'));
    await waitFor(() => expect((screen.getByTestId('court-package-dir') as HTMLInputElement).value).toBe('/media/usb/pkg'));
    await user.click(screen.getByTestId('court-package-start'));
    expect(m.courtPackage).toHaveBeenCalledWith('c1', '/media/usb/pkg', 'for the prosecutor');
    expect(await screen.findByTestId('court-job')).toHaveAttribute('data-state', 'running');
    expect(screen.getByTestId('court-package-start')).toBeDisabled();
    progress({ job: 'package-1', item: 0, name: 'pkg', done: 30, total: 100 });
    done({ job: 'package-1', ok: true, error: null });
    await waitFor(() => expect(screen.getByTestId('court-job')).toHaveAttribute('data-state', 'done'));
    expect(screen.getByTestId('court-message')).toHaveTextContent(`casebridge-verify /media/usb/pkg --agency-root ${FP}`);
  });

  it('writes an HTML report and can cancel it', async () => {
    m.courtReport.mockResolvedValue('report-1');
    m.jobCancel.mockResolvedValue(undefined);
    const user = userEvent.setup();
    render(CourtPanel, { detail });
    await user.selectOptions(screen.getByTestId('court-format'), 'html');
    await user.type(screen.getByTestId('court-report-path'), '/tmp/r.html');
    await user.click(screen.getByTestId('court-report-start'));
    expect(m.courtReport).toHaveBeenCalledWith('c1', '/tmp/r.html', 'html', null);
    await user.click(await screen.findByTestId('court-cancel'));
    expect(m.jobCancel).toHaveBeenCalledWith('report-1');
    done({ job: 'report-1', ok: false, error: { code: 'cancelled', message: 'cancelled' } });
    await waitFor(() => expect(screen.getByTestId('court-job')).toHaveAttribute('data-state', 'cancelled'));
    expect(screen.getByTestId('court-message')).toHaveTextContent('nothing was left behind');
  });

  it('shows why a folder was refused, naming it', async () => {
    m.courtPackage.mockRejectedValue({ code: 'not_empty', message: '/tmp/used exists and is not empty' });
    const user = userEvent.setup();
    render(CourtPanel, { detail });
    await user.type(screen.getByTestId('court-package-dir'), '/tmp/used{enter}');
    expect(await screen.findByTestId('court-error')).toHaveTextContent('/tmp/used exists and is not empty');
    expect(screen.queryByTestId('court-job')).toBeNull();
  });
});
