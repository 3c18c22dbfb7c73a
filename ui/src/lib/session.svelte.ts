// Application state shared across screens: who is signed in, where the user is, toasts.
import type { AppInfo, WhoAmI } from './bindings';

export type Route =
  | { name: 'cases' }
  | { name: 'case-new' }
  | { name: 'case'; id: string; tab?: CaseTab }
  | { name: 'queue' }
  | { name: 'briefs' }
  | { name: 'vol-briefs' }
  | { name: 'vol-brief'; id: string }
  | { name: 'my-submissions' }
  | { name: 'enrol' }
  | { name: 'settings' }
  | { name: 'access-log' }
  | { name: 'files' };

export type CaseTab = 'overview' | 'evidence' | 'timeline' | 'notes' | 'briefs' | 'map' | 'court';

export interface Toast {
  id: number;
  kind: 'success' | 'error' | 'info';
  text: string;
}

export const session = $state({
  info: null as AppInfo | null,
  whoami: null as WhoAmI | null,
  /** Why the session ended, shown on the unlock screen ("Locked after 15 minutes without activity"). */
  lockNotice: '' as string,
});

export const nav = $state({ route: { name: 'cases' } as Route });

export const toasts = $state({ list: [] as Toast[] });

let toastSeq = 0;

/** Shows a short message in the corner for a few seconds. */
export function toast(text: string, kind: Toast['kind'] = 'success', ms = 4500): void {
  const id = ++toastSeq;
  toasts.list.push({ id, kind, text });
  setTimeout(() => dismissToast(id), ms);
}

export function dismissToast(id: number): void {
  const i = toasts.list.findIndex((t) => t.id === id);
  if (i >= 0) toasts.list.splice(i, 1);
}

/** Whether the signed-in member works cases (investigators and supervisors). */
export function isStaff(w: WhoAmI | null): boolean {
  return w?.role === 'investigator' || w?.role === 'supervisor';
}

/** The landing screen for a role. */
export function homeRoute(w: WhoAmI | null): Route {
  return isStaff(w) ? { name: 'cases' } : { name: 'vol-briefs' };
}

export function navigate(r: Route): void {
  nav.route = r;
}

const STAFF_ONLY: Route['name'][] = ['cases', 'case', 'case-new', 'queue', 'briefs'];
/** Screens only a supervisor opens (issue 16: supervisors read every access log). */
const SUPERVISOR_ONLY: Route['name'][] = ['access-log'];
const VOLUNTEER_ONLY: Route['name'][] = ['vol-briefs', 'vol-brief', 'my-submissions'];

/** Whether a role may open a screen (the shell enforces access too; this keeps the UI coherent). */
export function allowed(r: Route, w: WhoAmI | null): boolean {
  if (!w) return false;
  if (SUPERVISOR_ONLY.includes(r.name)) return w.role === 'supervisor';
  if (isStaff(w)) return !VOLUNTEER_ONLY.includes(r.name);
  return !STAFF_ONLY.includes(r.name);
}
