// Plain words for states, times and history: the same words the tray menu and the
// `tokenkeeper` command use.
import type { HistoryEntry, IntegrationView, Settings, State } from './api';

export const STATE_LABEL: Record<State, string> = {
  working: 'Working',
  refreshing: 'Refreshing',
  retrying: 'Retrying',
  'expiring-soon': 'Expiring soon',
  'needs-sign-in': 'Needs sign-in',
  offline: 'Offline',
  paused: 'Paused',
  unreadable: 'Can’t be read',
};

export const STATE_EXPLAINED: Record<State, string> = {
  working: 'The sign-in works and is renewed in time.',
  refreshing: 'Renewing or checking right now.',
  retrying: 'The service cannot be reached right now; the current sign-in still works. Token Keeper keeps trying.',
  'expiring-soon': 'The sign-in or token ends soon. Sign in again or enter a new token before then.',
  'needs-sign-in': 'The service no longer accepts the sign-in. Sign in again to continue.',
  offline: 'The sign-in has run out and the service cannot be reached. Token Keeper keeps trying.',
  paused: 'Paused: nothing is renewed or checked until you resume it.',
  unreadable: 'Token Keeper cannot read this integration’s settings. Nothing was deleted.',
};

const SEVERITY = { fine: 0, attention: 1, broken: 2 } as const;

/** 0 fine, 1 attention, 2 broken (as the tray icon): the engine's, else from the state. */
export function severity(view: Pick<IntegrationView, 'state' | 'severity'>): number {
  if (view.severity) return SEVERITY[view.severity];
  const state = view.state;
  if (state === 'retrying' || state === 'expiring-soon') return 1;
  if (state === 'needs-sign-in' || state === 'offline' || state === 'unreadable') return 2;
  return 0;
}

/** The state in words: the engine's ("Not signed in yet"), else the label of the state. */
export function stateLabel(view: Pick<IntegrationView, 'state' | 'state_label'>): string {
  return view.state_label || STATE_LABEL[view.state];
}

/** What the state means for this kind of integration (when the engine gives no sentence). */
export function explained(view: Pick<IntegrationView, 'state' | 'kind'>): string {
  if (view.state === 'expiring-soon') {
    return view.kind === 'api-token'
      ? 'The token ends soon. Create a new one at the service and enter it here before then.'
      : 'The sign-in ends soon. Sign in again before then.';
  }
  if (view.kind === 'api-token') {
    if (view.state === 'working') return 'The token works; Token Keeper checks it now and then.';
    if (view.state === 'needs-sign-in') return 'The service no longer accepts this token. Create a new one at the service and enter it here.';
  }
  return STATE_EXPLAINED[view.state];
}

export function nowSecs(): number {
  return Math.floor(Date.now() / 1000);
}

/** "2 h 13 min", "45 s", "3 days 4 h": a live countdown, precise near the moment. */
export function countdown(secs: number): string {
  if (secs <= 0) return 'now';
  const d = Math.floor(secs / 86400);
  const hr = Math.floor((secs % 86400) / 3600);
  const m = Math.floor((secs % 3600) / 60);
  const s = secs % 60;
  if (d > 0) return hr > 0 ? `${d} ${d === 1 ? 'day' : 'days'} ${hr} h` : `${d} ${d === 1 ? 'day' : 'days'}`;
  if (hr > 0) return `${hr} h ${m} min`;
  if (m > 0) return `${m} min ${s} s`;
  return `${s} s`;
}

/** "Renews", "Checks again", "Retries" (before "in …"); null when it waits for the keeper. */
export function nextVerb(view: IntegrationView): { verb: string; at: number } | null {
  if (view.state === 'paused' || view.state === 'needs-sign-in' || view.state === 'unreadable') return null;
  if (view.next.action === 'wait-for-keeper') return null;
  const at = view.next.at;
  if (view.next_verb) return { verb: view.next_verb.charAt(0).toUpperCase() + view.next_verb.slice(1), at };
  if (view.next_verb === null) return null;
  switch (view.next.action) {
    case 'renew':
      return { verb: 'Renews', at };
    case 'check':
      return { verb: 'Checks again', at };
    default:
      return { verb: 'Retries', at };
  }
}

let dateTime = new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeStyle: 'short' });
let dateOnly = new Intl.DateTimeFormat('en-US', { dateStyle: 'long' });

/** Writes dates as the engine does (its sentences, the tray, notices and the command share
 * them): English, as every word of Token Keeper, in the order of the keeper's locale, in the
 * keeper's zone. The web view's own locale is not used: it may differ from the process's. */
export function setCalendar(style: Settings['dateStyle'], zone: string | null | undefined): void {
  const locale = style === 'day-first' ? 'en-GB' : 'en-US';
  const make = (timeZone: string | undefined) => {
    dateTime = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short', timeZone });
    dateOnly = new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeZone });
  };
  try {
    make(zone ?? undefined);
  } catch {
    make(undefined); // a zone name the web view does not know: its own zone, which is the same one
  }
}

export function when(at: number): string {
  return dateTime.format(new Date(at * 1000));
}

export function day(at: number): string {
  return dateOnly.format(new Date(at * 1000));
}

/** One history entry as a sentence. */
export function historyText(e: HistoryEntry): string {
  switch (e.event) {
    case 'added':
      return 'Added to Token Keeper.';
    case 'signed-in':
      return 'Signed in.';
    case 'signed-in-elsewhere':
      return 'Signed in on another Token Keeper connected to the team vault.';
    case 'sign-in-failed':
      return `Sign-in did not succeed: ${e.reason}.`;
    case 'refreshed':
      return e.expires_at ? `Renewed; valid until ${when(e.expires_at)}.` : 'Renewed.';
    case 'refresh-failed':
      return e.transient ? `Could not renew, will retry: ${e.reason}.` : `Renewal refused: ${e.reason}.`;
    case 'checked':
      return e.accepted ? 'Checked: it works.' : `Check failed${e.reason ? `: ${e.reason}` : ''}.`;
    case 'state-changed':
      return `${STATE_LABEL[e.from]} → ${STATE_LABEL[e.to]}.`;
    case 'notified':
      return `Notification: ${e.summary}`;
    case 'keychain-write-failed':
      return `The keychain did not accept new tokens (kept in memory, retrying): ${e.reason}.`;
    case 'vault-write-failed':
      return `The team vault did not take the new tokens (kept in memory, retrying): ${e.reason}.`;
    case 'paused':
      return e.paused ? 'Paused.' : 'Resumed.';
    case 'sites-not-listed':
      return `Signed in, but the list of sites could not be read: ${e.reason}.`;
  }
}

/** Which history entries are problems (shown with a marker). */
export function historyTone(e: HistoryEntry): 'good' | 'bad' | 'plain' {
  switch (e.event) {
    case 'signed-in':
    case 'signed-in-elsewhere':
    case 'refreshed':
      return 'good';
    case 'checked':
      return e.accepted ? 'good' : 'bad';
    case 'sign-in-failed':
    case 'refresh-failed':
    case 'keychain-write-failed':
    case 'vault-write-failed':
      return 'bad';
    case 'state-changed':
      return severity({ state: e.to }) > 0 ? 'bad' : 'plain';
    default:
      return 'plain';
  }
}
