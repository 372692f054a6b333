// The Token Keeper window: a hash router over four pages (the list, the add-integration
// wizard, an integration's details with its history, settings), kept live by the app's
// "keeper-event" events and a one-second tick for countdowns.
import { api, message, type IntegrationView, type KeeperEvent } from './api';
import { announce, h } from './dom';
import { countdown, day, nextVerb, nowSecs, severity, STATE_LABEL } from './format';
import { renderDetail, renderTokenForm } from './detail';
import { renderWizard } from './wizard';
import { renderSettings } from './settings';

const main = document.getElementById('main') as HTMLElement;
let views: IntegrationView[] = [];
let generation = 0;

/** Pages re-render on keeper events only when nothing is being typed into. */
let rerenderOnChange = true;

export interface Page {
  /** Whether this page is still the one shown (a late answer must not paint over another page). */
  alive: () => boolean;
  refresh: () => void;
  go: (route: string) => void;
  setStable: (stable: boolean) => void;
}

function go(to: string): void {
  const hash = `#/${to}`;
  if (location.hash !== hash) location.hash = hash;
  else render();
}

function currentRoute(): string {
  return decodeURI(location.hash.replace(/^#\/?/, ''));
}

function page(): Page {
  const mine = generation;
  return { alive: () => mine === generation, refresh: render, go, setStable: (stable) => (rerenderOnChange = stable) };
}

function render(): void {
  const route = currentRoute();
  generation += 1;
  rerenderOnChange = true;
  const [head, ...rest] = route.split('/');
  const arg = decodeURIComponent(rest.join('/'));
  for (const link of document.querySelectorAll('nav a')) {
    const target = (link as HTMLAnchorElement).getAttribute('href')?.replace(/^#\/?/, '') ?? '';
    if (target === head) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  main.replaceChildren();
  switch (head) {
    case 'add':
      renderWizard(main, page());
      break;
    case 'detail':
      renderDetail(main, page(), arg);
      break;
    case 'token':
      renderTokenForm(main, page(), arg);
      break;
    case 'settings':
      renderSettings(main, page());
      break;
    default:
      renderList(main);
  }
  tick();
}

/** The state badge: colour and words (never colour alone). */
export function badge(view: Pick<IntegrationView, 'state' | 'signin_pending'>): HTMLElement {
  const text = view.signin_pending ? 'Signing in…' : STATE_LABEL[view.state];
  return h('span', { class: `badge sev-${severity(view.state)} state-${view.state}`, 'data-state': view.state }, text);
}

/** "Renews in 2 h 13 min", kept live by `tick`. */
export function nextLine(view: IntegrationView): HTMLElement | null {
  const next = nextVerb(view);
  if (!next) return null;
  return h('span', { class: 'next' }, `${next.verb} in `, h('span', { class: 'countdown', 'data-at': next.at }, countdown(next.at - nowSecs())));
}

/** "The token ends on 3 March 2027 (in 5 days)." */
export function endsLine(at: number, kind: IntegrationView['kind']): HTMLElement {
  const what = kind === 'api-token' ? 'The token' : 'The sign-in';
  return h('p', { class: 'detail' }, `${what} ends on ${day(at)} (in `, h('span', { class: 'countdown', 'data-at': at }, countdown(at - nowSecs())), ').');
}

export function currentViews(): IntegrationView[] {
  return views;
}

function renderList(root: HTMLElement): void {
  const needing = views.filter((v) => severity(v.state) > 0).length;
  root.append(
    h('h1', { id: 'page-title', tabindex: '-1' }, 'Integrations'),
    h(
      'p',
      { class: 'summary' },
      views.length === 0
        ? 'Nothing to keep yet.'
        : needing === 0
          ? views.length === 1
            ? 'Your integration is working.'
            : `All ${views.length} integrations are working.`
          : needing === 1
            ? '1 integration needs you.'
            : `${needing} integrations need you.`,
    ),
  );
  if (views.length === 0) {
    root.append(
      h(
        'div',
        { class: 'empty' },
        h('p', {}, 'Token Keeper keeps the sign-ins of your scripts and reports alive, so they always have a valid token.'),
        h('button', { type: 'button', class: 'primary', id: 'empty-add', onclick: () => go('add') }, 'Add your first integration'),
      ),
    );
    return;
  }
  const list = h('ul', { class: 'integrations', 'aria-label': 'Integrations' });
  for (const view of views) {
    const actions = h('div', { class: 'actions' });
    if (view.state === 'needs-sign-in' || view.state === 'expiring-soon') {
      actions.append(signInButton(view));
    }
    actions.append(
      h('button', { type: 'button', onclick: () => go(`detail/${encodeURIComponent(view.name)}`), 'aria-label': `Details of ${view.name}` }, 'Details'),
    );
    list.append(
      h(
        'li',
        { class: `card sev-${severity(view.state)}`, 'data-name': view.name },
        h(
          'div',
          { class: 'card-main' },
          h('h2', {}, h('a', { href: `#/detail/${encodeURIComponent(view.name)}` }, view.name)),
          h('div', { class: 'status-line' }, badge(view), nextLine(view)),
          view.detail ? h('p', { class: 'detail' }, view.detail) : null,
          view.state === 'expiring-soon' && view.refresh_expires_at ? endsLine(view.refresh_expires_at, view.kind) : null,
        ),
        actions,
      ),
    );
  }
  root.append(list);
}

/** "Sign in again" (OAuth: the browser) or "Enter a new token" (API token: the form). */
export function signInButton(view: IntegrationView): HTMLButtonElement {
  const needed = view.state === 'needs-sign-in' || view.state === 'expiring-soon' || view.state === 'offline';
  const cls = needed ? 'primary' : null;
  if (view.kind === 'api-token') {
    return h('button', { type: 'button', class: cls, onclick: () => go(`token/${encodeURIComponent(view.name)}`) }, 'Enter a new token');
  }
  const button = h('button', { type: 'button', class: cls, disabled: view.signin_pending }, view.signin_pending ? 'Signing in… finish in your browser' : 'Sign in again');
  button.addEventListener('click', async () => {
    button.disabled = true;
    button.textContent = 'Signing in… finish in your browser';
    announce(`Your browser opens to sign in to ${view.name}.`);
    try {
      await api.signIn(view.name);
      announce(`${view.name} is signed in.`);
    } catch (e) {
      announce(message(e));
      window.alert(message(e));
    }
    render();
  });
  return button;
}

/** Updates every countdown once a second (no re-render). */
function tick(): void {
  const now = nowSecs();
  for (const el of document.querySelectorAll<HTMLElement>('.countdown[data-at]')) {
    el.textContent = countdown(Number(el.dataset.at) - now);
  }
}

function onKeeperEvent(e: KeeperEvent): void {
  if (e.event === 'changed') {
    const i = views.findIndex((v) => v.name === e.view.name);
    if (i >= 0) views[i] = e.view;
    else views = [...views, e.view].sort((a, b) => a.name.localeCompare(b.name));
  } else if (e.event === 'removed') {
    views = views.filter((v) => v.name !== e.name);
  } else {
    return;
  }
  if (rerenderOnChange) render();
}

async function start(): Promise<void> {
  await api.onKeeperEvent(onKeeperEvent);
  await api.onNavigate((to) => go(to));
  window.addEventListener('hashchange', () => {
    render();
    document.getElementById('page-title')?.focus();
  });
  try {
    views = await api.list();
  } catch (e) {
    main.append(h('p', { class: 'error' }, message(e)));
  }
  render();
  window.setInterval(tick, 1000);
  document.body.dataset.ready = 'true';
}

void start();
