// Pieces every page shows the same way: the state badge, "Renews in …", "The token ends on …" and
// the buttons that fix or act on an integration. Only actions that can work are offered: sign-in
// for what is signed out, "Renew now" for a signed-in sign-in, "Check now" for an API token.
import { api, message, type IntegrationView } from './api';
import { messageDialog } from './dialog';
import { announce, h } from './dom';
import { countdown, day, nextVerb, nowSecs, severity, stateLabel } from './format';
import { go, refresh, routeOf } from './page';

/** The state badge: colour and words (never colour alone). */
export function badge(view: IntegrationView): HTMLElement {
  const text = view.signin_pending ? 'Signing in…' : stateLabel(view);
  return h('span', { class: `badge sev-${severity(view)} state-${view.state}`, 'data-state': view.state }, text);
}

/** "Renews in 2 h 13 min", kept live by the page's tick. */
export function nextLine(view: IntegrationView): HTMLElement | null {
  const next = nextVerb(view);
  if (!next) return null;
  return h('span', { class: 'next' }, `${next.verb} in `, h('span', { class: 'countdown', 'data-at': next.at }, countdown(next.at - nowSecs())));
}

/** "The token ends on 3 March 2027 (in 5 days)." or, once passed, "The token expired on …". */
export function endsLine(at: number, kind: IntegrationView['kind']): HTMLElement {
  const what = kind === 'api-token' ? 'The token' : 'The sign-in';
  if (at <= nowSecs()) return h('p', { class: 'detail ends' }, `${what} expired on ${day(at)}.`);
  return h('p', { class: 'detail ends' }, `${what} ends on ${day(at)} (in `, h('span', { class: 'countdown', 'data-at': at }, countdown(at - nowSecs())), ').');
}

/** Whether the keeper has to act: signed out, or the sign-in or token ends soon. */
export function needsKeeper(view: IntegrationView): boolean {
  return view.state === 'needs-sign-in' || view.state === 'expiring-soon';
}

/** Whether it was never signed in: the engine's "what to do", else no token times at all. */
function neverSignedIn(view: IntegrationView): boolean {
  if (view.todo !== undefined) return view.todo === 'sign-in' || view.todo === 'enter-token';
  return view.state === 'needs-sign-in' && view.access_expires_at === null && view.refresh_expires_at === null;
}

/** "Sign in" / "Sign in again" (the browser) or "Enter a new token" (API token: the form). */
export function signInButton(view: IntegrationView): HTMLButtonElement {
  const cls = needsKeeper(view) ? 'primary' : null;
  if (view.kind === 'api-token') {
    const label = view.todo === 'enter-token' ? 'Enter the token' : 'Enter a new token';
    return h('button', { type: 'button', class: cls, 'data-action': 'token', onclick: () => go(routeOf('token', view.name)) }, label);
  }
  const idle = neverSignedIn(view) ? 'Sign in' : 'Sign in again';
  const busy = 'Signing in… finish in your browser';
  const button = h('button', { type: 'button', class: cls, 'data-action': 'sign-in', disabled: view.signin_pending }, view.signin_pending ? busy : idle);
  button.addEventListener('click', async () => {
    button.disabled = true;
    button.textContent = busy;
    announce(`Your browser opens to sign in to ${view.name}.`);
    try {
      await api.signIn(view.name);
      announce(`${view.name} is signed in.`);
    } catch (e) {
      await messageDialog(`Signing in to ${view.name} did not finish`, message(e));
    }
    refresh();
  });
  return button;
}

/** "Renew now" (a signed-in sign-in) or "Check now" (an API token); null when it cannot work. */
export function renewButton(view: IntegrationView): HTMLButtonElement | null {
  if (view.state === 'needs-sign-in' || view.state === 'paused' || view.signin_pending) return null;
  const api_token = view.kind === 'api-token';
  const label = api_token ? 'Check now' : 'Renew now';
  const button = h('button', { type: 'button', 'data-action': 'renew' }, label);
  button.addEventListener('click', () =>
    act(button, api_token ? 'Checking…' : 'Renewing…', `Could not ${api_token ? 'check' : 'renew'} ${view.name}`, async () => {
      await api.refresh(view.name);
      return api_token ? `${view.name} was checked.` : `${view.name} was renewed.`;
    }),
  );
  return button;
}

/** "Pause" or "Resume". */
export function pauseButton(view: IntegrationView): HTMLButtonElement {
  const paused = view.state === 'paused';
  const button = h('button', { type: 'button', 'data-action': 'pause' }, paused ? 'Resume' : 'Pause');
  button.addEventListener('click', () =>
    act(button, '…', `Could not ${paused ? 'resume' : 'pause'} ${view.name}`, async () => {
      await api.pause(view.name, !paused);
      return paused ? `${view.name} resumed.` : `${view.name} paused.`;
    }),
  );
  return button;
}

/** Runs a button's action: busy while it runs, its outcome said, a failure shown in a dialog. */
export async function act(button: HTMLButtonElement, busy: string, failed: string, f: () => Promise<string>): Promise<void> {
  const label = button.textContent;
  button.disabled = true;
  button.textContent = busy;
  try {
    announce(await f());
  } catch (e) {
    await messageDialog(failed, message(e));
  }
  button.textContent = label;
  button.disabled = false;
  refresh();
}

/** A page's title, focusable so that moving to a page moves the reader there. */
export function pageTitle(text: string): HTMLElement {
  return h('h1', { id: 'page-title', tabindex: '-1' }, text);
}

/** One way onward on the welcome and "add" pages: a large link with a title and a line about it. */
export function door(id: string, href: string, title: string, text: string): HTMLElement {
  return h('li', { class: 'door' }, h('a', { href, id, class: 'door-link' }, h('span', { class: 'door-title' }, title), h('span', { class: 'door-text' }, text)));
}
