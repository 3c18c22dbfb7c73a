// Issue 17: the Files screen — file exchange in both directions. Agency side (staff): verify a bundle
// file (VERIFIED / REJECTED with the reason code), open it and save the receipt. Sender side: import a
// receipt (refusals show their code), export the outbox to a folder with progress and cancel.
import { describe, it, expect, vi, beforeEach } from 'vitest';
import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import type { BundleOpened, BundleVerdict, JobProgress, ReceiptView, WhoAmI } from '../lib/bindings';
import { investigator } from './fixtures';

vi.mock('../lib/api', async (orig) => (await import('./mock-api')).mockApi(orig));
import * as api from '../lib/api';
import Files from '../screens/Files.svelte';
import { allowed, session } from '../lib/session.svelte';

const m = vi.mocked(api);
const volunteer: WhoAmI = { ...investigator, role: 'volunteer', name: 'Sam Volunteer' };
const BUNDLE = '0190a000-0000-7000-8000-0000000000b1';

function verified(over: Partial<BundleVerdict> = {}): BundleVerdict {
  return {
    verdict: 'verified',
    reason: null,
    message: 'signed by x with a valid, unrevoked credential from Polizei Berlin; every event signature and blob hash checks',
    agency_id: '0190a000-0000-7000-8000-0000000000a1',
    agency_name: 'Polizei Berlin',
    bundle_id: BUNDLE,
    sender: '0190a000-0000-7000-8000-000000000002',
    sender_name: 'Tom Streife',
    role: 'investigator',
    case_id: '0190a000-0000-7000-8000-0000000000c1',
    seq: 1,
    manifest_hash: 'ab'.repeat(32),
    events: 2,
    blobs: 0,
    bytes: 0,
    sealed: true,
    ...over,
  };
}

function rejected(reason: string, message: string): BundleVerdict {
  return {
    ...verified(),
    verdict: 'rejected',
    reason,
    message,
    bundle_id: null,
    sender: null,
    sender_name: null,
    role: null,
    case_id: null,
    seq: null,
    manifest_hash: null,
    events: null,
    blobs: null,
    bytes: null,
    sealed: null,
  };
}

const receipt: ReceiptView = {
  agency_id: '0190a000-0000-7000-8000-0000000000a1',
  bundle_id: BUNDLE,
  manifest_hash: 'ab'.repeat(32),
  sender: investigator.member_id,
  seq: 1,
  received_at: '2026-03-02T10:00:00+01:00',
  outcome: 'accepted',
  events: 2,
  blobs: 0,
  verified: true,
};

async function fillAgencySide(user: ReturnType<typeof userEvent.setup>) {
  await user.type(screen.getByTestId('files-agency-dir'), '/srv/agency');
  await user.type(screen.getByTestId('files-agency-pass'), 'agency passphrase');
  m.chooseFile.mockResolvedValueOnce('/media/usb/case.cbb');
  await user.click(screen.getByTestId('files-bundle-pick'));
  await waitFor(() => expect(screen.getByTestId('files-bundle')).toHaveValue('/media/usb/case.cbb'));
}

beforeEach(() => {
  vi.clearAllMocks();
  session.whoami = investigator;
  m.receiptsList.mockResolvedValue([]);
});

describe('files screen', () => {
  it('verifies a bundle file with the agency and shows VERIFIED with what it carries', async () => {
    m.bundleVerify.mockResolvedValue(verified());
    const user = userEvent.setup();
    render(Files);
    expect(screen.getByTestId('files-verify')).toBeDisabled();
    await fillAgencySide(user);
    await user.click(screen.getByTestId('files-verify'));
    const v = await screen.findByTestId('files-verdict');
    expect(v).toHaveAttribute('data-verdict', 'verified');
    expect(v).toHaveTextContent('VERIFIED');
    expect(v).toHaveTextContent('Tom Streife');
    expect(m.bundleVerify).toHaveBeenCalledWith('/srv/agency', 'agency passphrase', '/media/usb/case.cbb');
  });

  it('shows a rejected bundle with its reason code', async () => {
    m.bundleVerify.mockResolvedValue(rejected('seal_damaged', 'the seal does not open: the file was changed'));
    const user = userEvent.setup();
    render(Files);
    await fillAgencySide(user);
    await user.click(screen.getByTestId('files-verify'));
    const v = await screen.findByTestId('files-verdict');
    expect(v).toHaveAttribute('data-verdict', 'rejected');
    expect(v).toHaveTextContent('REJECTED seal_damaged');
    expect(v).not.toHaveTextContent('Tom Streife');
  });

  it('opens the bundle, saving the receipt where the user chose', async () => {
    const opened: BundleOpened = {
      outcome: 'accepted',
      bundle_id: BUNDLE,
      sender: '0190a000-0000-7000-8000-000000000002',
      seq: 1,
      case_id: null,
      events: 2,
      events_added: 2,
      blobs: 0,
      manifest_hash: 'ab'.repeat(32),
      receipt_path: '/media/usb/case.cbb.receipt',
      receipt_error: null,
    };
    m.chooseReceiptPath.mockResolvedValue('/home/vera/back.receipt');
    m.bundleOpen.mockResolvedValue({ ...opened, receipt_path: '/home/vera/back.receipt' });
    const user = userEvent.setup();
    render(Files);
    await fillAgencySide(user);
    // The receipt goes next to the bundle unless the user chooses another place.
    expect(screen.getByTestId('files-receipt-out')).toHaveValue('/media/usb/case.cbb.receipt');
    await user.click(screen.getByTestId('files-receipt-pick'));
    expect(m.chooseReceiptPath).toHaveBeenCalledWith('/media/usb/case.cbb.receipt');
    await waitFor(() => expect(screen.getByTestId('files-receipt-out')).toHaveValue('/home/vera/back.receipt'));
    await user.click(screen.getByTestId('files-open'));
    expect(await screen.findByTestId('files-opened')).toHaveAttribute('data-outcome', 'accepted');
    expect(screen.getByTestId('files-receipt-path')).toHaveTextContent('/home/vera/back.receipt');
    expect(m.bundleOpen).toHaveBeenCalledWith('/srv/agency', 'agency passphrase', '/media/usb/case.cbb', '/home/vera/back.receipt');
  });

  it('shows a refused open with its code', async () => {
    m.bundleOpen.mockRejectedValue({ code: 'wrong_agency_passphrase', message: 'wrong agency passphrase: the agency keys were not unlocked' });
    const user = userEvent.setup();
    render(Files);
    await fillAgencySide(user);
    await user.click(screen.getByTestId('files-open'));
    expect(await screen.findByTestId('files-agency-error')).toHaveTextContent('wrong_agency_passphrase');
  });

  it('hides the agency side from volunteers, who still export and import receipts', async () => {
    session.whoami = volunteer;
    render(Files);
    expect(screen.queryByTestId('files-agency')).toBeNull();
    expect(screen.getByTestId('files-export')).toBeInTheDocument();
    expect(screen.getByTestId('files-receipts')).toBeInTheDocument();
    expect(allowed({ name: 'files' }, volunteer)).toBe(true);
    expect(allowed({ name: 'files' }, investigator)).toBe(true);
  });

  it('imports a receipt and lists it; a refused one shows its reason code', async () => {
    m.chooseFile.mockResolvedValueOnce('/media/usb/case.cbb.receipt');
    m.receiptImport.mockResolvedValue({ receipt, agency_name: 'Polizei Berlin' });
    const user = userEvent.setup();
    render(Files);
    expect(await screen.findByTestId('files-receipts-empty')).toBeInTheDocument();
    m.receiptsList.mockResolvedValue([receipt]);
    await user.click(screen.getByTestId('files-receipt-import'));
    expect(await screen.findByTestId('files-receipt-message')).toHaveTextContent('Polizei Berlin');
    expect(await screen.findAllByTestId('files-receipt-row')).toHaveLength(1);
    expect(m.receiptImport).toHaveBeenCalledWith('/media/usb/case.cbb.receipt');

    m.chooseFile.mockResolvedValueOnce('/media/usb/forged.receipt');
    m.receiptImport.mockRejectedValue({ code: 'unknown_signer', message: 'the receipt is not signed by a pinned agency' });
    await user.click(screen.getByTestId('files-receipt-import'));
    expect(await screen.findByTestId('files-receipt-error-import')).toHaveTextContent('REJECTED unknown_signer');
  });

  it('exports the outbox to a chosen folder with progress and cancel', async () => {
    let progress: ((p: JobProgress) => void) | null = null;
    m.onJobProgress.mockImplementation((h) => ((progress = h), () => {}));
    let finish: (v: { bundle_id: string; path: string; bytes: number }[]) => void = () => {};
    m.chooseFolder.mockResolvedValue('/media/usb');
    m.bundlesExport.mockReturnValue(new Promise((r) => (finish = r)));
    m.jobCancel.mockResolvedValue(undefined);
    const user = userEvent.setup();
    render(Files);
    await user.click(screen.getByTestId('files-export-run'));
    await screen.findByTestId('files-progress');
    progress!({ job: 'files-export-1', item: 0, name: 'usb', done: 50, total: 100 });
    await waitFor(() => expect(screen.getByTestId('files-progress')).toHaveTextContent('50%'));
    await user.click(screen.getByTestId('files-cancel'));
    expect(m.jobCancel).toHaveBeenCalledWith('files-export-1');
    finish([{ bundle_id: BUNDLE, path: `/media/usb/${BUNDLE}.cbb`, bytes: 1234 }]);
    expect(await screen.findByTestId('files-export-done')).toHaveTextContent('1 sealed bundle');
    expect(screen.queryByTestId('files-progress')).toBeNull();
    expect(m.bundlesExport).toHaveBeenCalledWith('/media/usb');
  });

  it('shows a refused export folder with its code', async () => {
    m.chooseFolder.mockResolvedValue('/media/usb/file.txt');
    m.bundlesExport.mockRejectedValue({ code: 'not_a_folder', message: '/media/usb/file.txt is a file, not a folder; nothing was written' });
    const user = userEvent.setup();
    render(Files);
    await user.click(screen.getByTestId('files-export-run'));
    expect(await screen.findByTestId('files-export-error')).toHaveTextContent('not_a_folder');
  });
});
