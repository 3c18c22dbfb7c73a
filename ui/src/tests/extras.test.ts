// Issue 5's remaining investigator and volunteer pieces: EXIF prefill on the submit form, evidence thumbnails and
// review states, the case export job, status editing, and the native "Choose files…" dialogs.
import { describe, it, expect, vi, beforeEach } from 'vitest';
import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { brief } from './fixtures';
import type { CaseView as CaseViewData, EvidenceItem, JobDone, JobProgress } from '../lib/bindings';

vi.mock('../lib/api', async (orig) => (await import('./mock-api')).mockApi(orig));
import * as api from '../lib/api';
import SubmitForm from '../components/SubmitForm.svelte';
import EvidenceTab from '../components/EvidenceTab.svelte';
import ImportPanel from '../components/ImportPanel.svelte';
import CaseView from '../screens/CaseView.svelte';
import Notes from '../components/Notes.svelte';
import { session } from '../lib/session.svelte';
import type { NoteView, WhoAmI } from '../lib/bindings';

const m = vi.mocked(api);

function item(id: string, over: Partial<EvidenceItem> = {}): EvidenceItem {
  return {
    id,
    case_id: 'c1',
    sha256: 'ab'.repeat(32),
    size: 2048,
    media_type: 'image/jpeg',
    original_name: `${id}.jpg`,
    captured_at: null,
    location: null,
    camera: null,
    description: null,
    claimed: { captured_at: null, location: null },
    extracted: { captured_at: null, location: null, camera: null },
    contributor: '0190a000-0000-7000-8000-000000000001',
    contributor_name: 'Ada Investigator',
    added_at: '2026-03-01T10:00:00+01:00',
    derived_from: null,
    review_state: null,
    ...over,
  };
}

const detail: CaseViewData = {
  id: 'c1',
  reference: 'BER-2026-000123',
  title: 'Bike thefts Mitte',
  summary: null,
  status: 'open',
  tags: ['bikes'],
  created_by: '0190a000-0000-7000-8000-000000000001',
  created_at: '2026-03-01T10:00:00+01:00',
  updated_at: '2026-03-01T10:00:00+01:00',
  evidence_count: 0,
  evidence: [],
  notes: [],
  team: [{ id: '0190a000-0000-7000-8000-000000000001', name: 'Ada Investigator', lead: true }],
  on_team: true,
  hold: null,
  acted_by: [
    { member_id: '0190a000-0000-7000-8000-000000000001', name: 'Ada Investigator', acted: ['opened', 'reviewed'] },
    { member_id: '0190a000-0000-7000-8000-0000000000v1', name: 'Vic Volunteer', acted: ['submitted'] },
  ],
};

beforeEach(() => {
  vi.clearAllMocks();
  m.conductAccepted.mockResolvedValue(true);
});

describe('submit form: time and place from EXIF', () => {
  it('prefills from the first file that has them and says so', async () => {
    m.fileMetadata.mockResolvedValue([
      { path: '/a.txt', captured_at: null, location: null, media_type: 'text/plain', size: 10 },
      { path: '/b.jpg', captured_at: '2026-03-01T22:15:00+00:00', location: { lat: 52.52, lon: 13.405 }, media_type: 'image/jpeg', size: 9 },
    ]);
    const user = userEvent.setup();
    render(SubmitForm, { brief });
    await user.type(screen.getByTestId('submit-paths'), '/a.txt{enter}/b.jpg');
    expect(await screen.findByTestId('submit-time-exif')).toHaveTextContent('from EXIF');
    expect(screen.getByTestId('submit-place-exif')).toHaveTextContent('from EXIF');
    expect(m.fileMetadata).toHaveBeenLastCalledWith(['/a.txt', '/b.jpg']);
    expect((screen.getByTestId('submit-lat') as HTMLInputElement).value).toBe('52.52');
    expect((screen.getByTestId('submit-lon') as HTMLInputElement).value).toBe('13.405');
    expect((screen.getByTestId('submit-captured-at') as HTMLInputElement).value).not.toBe('');
  });

  it('never overwrites what the user typed', async () => {
    m.fileMetadata.mockResolvedValue([
      { path: '/b.jpg', captured_at: '2026-03-01T22:15:00+00:00', location: { lat: 52.52, lon: 13.405 }, media_type: 'image/jpeg', size: 9 },
    ]);
    const user = userEvent.setup();
    render(SubmitForm, { brief });
    await user.type(screen.getByTestId('submit-lat'), '48.1');
    await user.type(screen.getByTestId('submit-lon'), '11.5');
    await user.type(screen.getByTestId('submit-paths'), '/b.jpg');
    expect(await screen.findByTestId('submit-time-exif')).toBeInTheDocument();
    expect(screen.queryByTestId('submit-place-exif')).toBeNull();
    expect((screen.getByTestId('submit-lat') as HTMLInputElement).value).toBe('48.1');
    // Editing the prefilled time makes it the user's own.
    await user.clear(screen.getByTestId('submit-captured-at'));
    await waitFor(() => expect(screen.queryByTestId('submit-time-exif')).toBeNull());
  });

  it('adds files chosen in the native dialog', async () => {
    m.chooseFiles.mockResolvedValue(['/home/v/IMG_7.jpg']);
    m.fileMetadata.mockResolvedValue([]);
    const user = userEvent.setup();
    render(SubmitForm, { brief });
    await user.click(screen.getByTestId('submit-choose'));
    await waitFor(() => expect((screen.getByTestId('submit-paths') as HTMLTextAreaElement).value).toBe('/home/v/IMG_7.jpg'));
  });
});

describe('evidence table', () => {
  it('shows thumbnails for small images only, and the review state from the backend', async () => {
    m.evidenceThumbnail.mockResolvedValue({ media_type: 'image/jpeg', data_url: 'data:image/jpeg;base64,AAAA', reason: null });
    const evidence = [
      item('e1', { review_state: 'accepted' }),
      item('e2', { media_type: 'application/pdf', original_name: 'report.pdf' }),
      item('e3', { size: 64 * 1024 * 1024, review_state: 'info_requested' }),
    ];
    render(EvidenceTab, { caseId: 'c1', evidence, onchange: () => {} });
    const img = await screen.findByTestId('evidence-thumb');
    expect(img).toHaveAttribute('src', 'data:image/jpeg;base64,AAAA');
    expect(m.evidenceThumbnail).toHaveBeenCalledTimes(1);
    expect(m.evidenceThumbnail).toHaveBeenCalledWith('e1', 96);
    const states = screen.getAllByTestId('evidence-review-state').map((e) => e.textContent?.trim());
    expect(states[0]).toMatch(/accepted/i);
    expect(states[1]).toMatch(/imported/i);
    expect(states[2]).toMatch(/info/i);
    expect(m.submissionsList).not.toHaveBeenCalled();
  });
});

describe('a deleted item', () => {
  it('shows the rule and date instead of its content, and asks for no thumbnail', async () => {
    const evidence = [item('e9', { deleted: { rule: 'rejected-30d', reason: null, deleted_at: '2026-05-01T10:00:00+02:00' } })];
    render(EvidenceTab, { caseId: 'c1', evidence, onchange: () => {} });
    expect(await screen.findByTestId('evidence-deleted')).toHaveTextContent('Deleted under rule rejected-30d on 2026-05-01');
    expect(screen.queryByTestId('evidence-open')).toBeNull();
    // Its review state is no longer pending: it is deleted.
    expect(screen.getByTestId('evidence-review-state')).toHaveTextContent('Deleted');
    expect(m.evidenceThumbnail).not.toHaveBeenCalled();
  });
});

describe('import panel', () => {
  it('adds files chosen in the native dialog to the typed ones', async () => {
    m.chooseFiles.mockResolvedValue(['/b.jpg', '/a.jpg']);
    const user = userEvent.setup();
    render(ImportPanel, { caseId: 'c1', onimported: () => {} });
    await user.type(screen.getByTestId('import-paths'), '/a.jpg');
    await user.click(screen.getByTestId('import-choose'));
    await waitFor(() => expect((screen.getByTestId('import-paths') as HTMLTextAreaElement).value).toBe('/a.jpg\n/b.jpg'));
  });
});

describe('case view', () => {
  it('exports the case through the save dialog and follows the job', async () => {
    m.caseGet.mockResolvedValue(detail);
    m.chooseSavePath.mockResolvedValue('/home/ada/BER-2026-000123.cbb');
    m.caseExport.mockResolvedValue('export-1');
    let progress: (p: JobProgress) => void = () => {};
    let done: (d: JobDone) => void = () => {};
    m.onJobProgress.mockImplementation((h) => ((progress = h), () => {}));
    m.onJobDone.mockImplementation((h) => ((done = h), () => {}));
    const user = userEvent.setup();
    render(CaseView, { id: 'c1' });
    await user.click(await screen.findByTestId('case-export'));
    await user.click(screen.getByTestId('case-export-choose'));
    expect(m.chooseSavePath).toHaveBeenCalledWith('BER-2026-000123.cbb', expect.any(String));
    await waitFor(() => expect((screen.getByTestId('case-export-path') as HTMLInputElement).value).toBe('/home/ada/BER-2026-000123.cbb'));
    await user.click(screen.getByTestId('case-export-start'));
    expect(m.caseExport).toHaveBeenCalledWith('c1', '/home/ada/BER-2026-000123.cbb');
    expect(await screen.findByTestId('case-export-job')).toHaveAttribute('data-state', 'running');
    progress({ job: 'export-1', item: 0, name: 'BER-2026-000123.cbb', done: 50, total: 100 });
    done({ job: 'export-1', ok: true, error: null });
    await waitFor(() => expect(screen.getByTestId('case-export-job')).toHaveAttribute('data-state', 'done'));
    expect(screen.getByTestId('case-export-message')).toHaveTextContent('/home/ada/BER-2026-000123.cbb');
  });

  it('takes a typed path and shows why an export was refused', async () => {
    m.caseGet.mockResolvedValue(detail);
    m.caseExport.mockRejectedValue({ code: 'exists', message: '/tmp/x.cbb already exists' });
    const user = userEvent.setup();
    render(CaseView, { id: 'c1' });
    await user.click(await screen.findByTestId('case-export'));
    await user.type(screen.getByTestId('case-export-path'), '/tmp/x.cbb{enter}');
    expect(await screen.findByTestId('case-export-error')).toHaveTextContent('already exists');
  });

  it('edits the status and lists who acted on the case', async () => {
    m.caseGet.mockResolvedValueOnce(detail).mockResolvedValue({ ...detail, status: 'closed' });
    m.caseSetStatus.mockResolvedValue(undefined);
    const user = userEvent.setup();
    render(CaseView, { id: 'c1' });
    const team = await screen.findByTestId('case-team');
    expect(within(team).getByText('Vic Volunteer')).toBeInTheDocument();
    expect(team).toHaveTextContent('submitted evidence');
    expect(screen.getByTestId('case-status-save')).toBeDisabled();
    await user.selectOptions(screen.getByTestId('case-status-select'), 'closed');
    await user.click(screen.getByTestId('case-status-save'));
    expect(m.caseSetStatus).toHaveBeenCalledWith('c1', 'closed');
    await waitFor(() => expect(screen.getByTestId('case-status')).toHaveTextContent(/closed/i));
  });

  it('edits the tags: the typed list replaces them, an empty one removes them', async () => {
    m.caseGet
      .mockResolvedValueOnce(detail)
      .mockResolvedValueOnce({ ...detail, tags: ['bikes', 'night'] })
      .mockResolvedValue({ ...detail, tags: [] });
    m.caseSetTags.mockResolvedValue(undefined);
    const user = userEvent.setup();
    render(CaseView, { id: 'c1' });
    expect(await screen.findByTestId('case-tags')).toHaveTextContent('bikes');
    await user.click(screen.getByTestId('case-tags-edit'));
    const input = screen.getByTestId('case-tags-input');
    expect(input).toHaveValue('bikes');
    await user.clear(input);
    await user.type(input, ' bikes , night,, ');
    await user.click(screen.getByTestId('case-tags-save'));
    expect(m.caseSetTags).toHaveBeenLastCalledWith('c1', ['bikes', 'night']);
    await waitFor(() => expect(screen.getByTestId('case-tags')).toHaveTextContent('night'));
    await user.click(screen.getByTestId('case-tags-edit'));
    await user.clear(screen.getByTestId('case-tags-input'));
    await user.click(screen.getByTestId('case-tags-save'));
    expect(m.caseSetTags).toHaveBeenLastCalledWith('c1', []);
    expect(await screen.findByText('No tags.')).toBeInTheDocument();
  });

  it('keeps the tag editor open with the reason when saving fails', async () => {
    m.caseGet.mockResolvedValue(detail);
    m.caseSetTags.mockRejectedValue({ code: 'locked', message: 'The profile is locked.' });
    const user = userEvent.setup();
    render(CaseView, { id: 'c1' });
    await user.click(await screen.findByTestId('case-tags-edit'));
    await user.click(screen.getByTestId('case-tags-save'));
    expect(await screen.findByTestId('case-tags-error')).toHaveTextContent('locked');
    expect(screen.getByTestId('case-tags-input')).toBeInTheDocument();
  });
});

describe('notes: amendments', () => {
  const me = '0190a000-0000-7000-8000-000000000001';
  const other = '0190a000-0000-7000-8000-000000000002';
  const notes: NoteView[] = [
    {
      id: 'n1',
      text: 'Arrival 22:31',
      author: me,
      author_name: 'Ada Investigator',
      at: '2026-03-01T10:00:00+01:00',
      original_text: 'Arrival 22:13',
      amendments: [{ text: 'Arrival 22:31', reason: 'digits swapped', at: '2026-03-01T11:00:00+01:00' }],
    },
    { id: 'n2', text: 'Someone else wrote this', author: other, author_name: 'Ben', at: '2026-03-01T12:00:00+01:00', original_text: null, amendments: [] },
  ];

  beforeEach(() => {
    session.whoami = { member_id: me, name: 'Ada Investigator', role: 'investigator' } as WhoAmI;
  });

  it('shows the current text with "amended" and the history, and lets only the author correct', async () => {
    const onchange = vi.fn();
    m.noteAmend.mockResolvedValue(undefined);
    const user = userEvent.setup();
    render(Notes, { caseId: 'c1', notes, onchange });
    const items = screen.getAllByTestId('note');
    const mine = items.find((x) => x.dataset.id === 'n1')!;
    const theirs = items.find((x) => x.dataset.id === 'n2')!;
    expect(within(mine).getByTestId('note-text')).toHaveTextContent('Arrival 22:31');
    expect(within(mine).getByTestId('note-amended')).toHaveTextContent('amended');
    expect(within(mine).getByTestId('note-original')).toHaveTextContent('Arrival 22:13');
    expect(within(mine).getByTestId('note-history')).toHaveTextContent('digits swapped');
    expect(within(theirs).queryByTestId('note-amend')).toBeNull();
    expect(within(theirs).queryByTestId('note-amended')).toBeNull();
    await user.click(within(mine).getByTestId('note-amend'));
    const text = within(mine).getByTestId('note-amend-text');
    await user.clear(text);
    await user.type(text, 'Arrival 22:32');
    await user.type(within(mine).getByTestId('note-amend-reason'), 'checked the log');
    await user.click(within(mine).getByTestId('note-amend-save'));
    expect(m.noteAmend).toHaveBeenCalledWith('c1', 'n1', 'Arrival 22:32', 'checked the log');
    await waitFor(() => expect(onchange).toHaveBeenCalled());
  });

  it('shows why an amendment was refused and keeps the typed text', async () => {
    m.noteAmend.mockRejectedValue({ code: 'not_allowed', message: 'amending a note: only its author may' });
    const user = userEvent.setup();
    render(Notes, { caseId: 'c1', notes, onchange: vi.fn() });
    const mine = screen.getAllByTestId('note').find((x) => x.dataset.id === 'n1')!;
    await user.click(within(mine).getByTestId('note-amend'));
    await user.click(within(mine).getByTestId('note-amend-save'));
    expect(await within(mine).findByTestId('note-amend-error')).toHaveTextContent('only its author');
    expect(within(mine).getByTestId('note-amend-text')).toHaveValue('Arrival 22:31');
  });
});

