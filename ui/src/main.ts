// The Token Keeper window: a hash router over its pages (the list, or the welcome page when there
// is nothing yet; adding an integration; an integration's details; the token form; settings and
// the team vault), kept live by the app's "keeper-event" events and a one-second tick for
// countdowns. Pages and widgets reach the router through page.ts, never through this module.
import { api, message, type IntegrationView, type KeeperEvent } from './api';
import { renderDetail } from './detail';
import { h } from './dom';
import { countdown, nowSecs, setCalendar, severity } from './format';
import { go, type Page, routeOf, setRenderer } from './page';
import { acceptDrops, renderConfirmOpened, renderConfirmRead, showOpenedAtStart } from './profile';
import { renderSettings } from './settings';
import { sharedMark } from './shared';
import { renderTeamVault } from './team_vault';
import { renderTokenForm } from './token_form';
import { renderAdd } from './welcome';
import { badge, endsLine, needsKeeper, nextLine, pageTitle, renewButton, signInButton } from './widgets';

const main = document.getElementById('main') as HTMLElement;
let views: IntegrationView[] = [];
let generation = 0;

/** Pages re-render on keeper events only when nothing is being typed into. */
let rerenderOnChange = true;

function currentRoute(): string {
  return decodeURI(location.hash.replace(/^#\/?/, ''));
}

function page(): Page {
  const mine = generation;
  return { alive: () => mine === generation, refresh: render, go, setStable: (stable) => (rerenderOnChange = stable) };
}

/** The route on screen: rendering it again is a repaint (a keeper event), not a new page. */
let shown = '';

function render(): void {
  const route = currentRoute();
  const repaint = route === shown;
  shown = route;
  generation += 1;
  rerenderOnChange = true;
  const [head, ...rest] = route.split('/');
  const arg = decodeURIComponent(rest.join('/'));
  for (const link of document.querySelectorAll('nav a')) {
    const target = (link as HTMLAnchorElement).getAttribute('href')?.replace(/^#\/?/, '') ?? '';
    // the team vault page is one of the settings
    if (target === head || (target === 'settings' && head === 'team-vault')) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  // the details keep what is on screen until their repaint is ready (renderDetail)
  if (!(head === 'detail' && repaint)) main.replaceChildren();
  switch (head) {
    case 'add':
      if (rest[0] === 'confirm-file') renderConfirmRead(main, page());
      else renderAdd(main, page(), rest.join('/'), views.length === 0);
      break;
    case 'open-profile':
      renderConfirmOpened(main, page());
      break;
    case 'detail':
      renderDetail(main, page(), arg, repaint);
      break;
    case 'token': {
      const view = views.find((v) => v.name === arg);
      renderTokenForm(main, page(), arg, { service: view?.provider.startsWith('atlassian') ? 'Atlassian' : undefined, shared: view?.shared });
      break;
    }
    case 'settings':
      renderSettings(main, page());
      break;
    case 'team-vault':
      renderTeamVault(main, page());
      break;
    default:
      if (views.length === 0) renderAdd(main, page(), '', true);
      else renderList(main);
  }
  tick();
}

/** Problems first (broken, then needing attention), then by name. */
function problemsFirst(a: IntegrationView, b: IntegrationView): number {
  return severity(b) - severity(a) || a.name.localeCompare(b.name);
}

function renderList(root: HTMLElement): void {
  const needing = views.filter((v) => severity(v) > 0).length;
  root.append(
    pageTitle('Integrations'),
    h(
      'p',
      { class: 'summary' },
      needing === 0
        ? views.length === 1
          ? 'Your integration is working.'
          : `All ${views.length} integrations are working.`
        : needing === 1
          ? '1 integration needs you.'
          : `${needing} integrations need you.`,
    ),
  );
  const list = h('ul', { class: 'integrations', 'aria-label': 'Integrations' });
  for (const view of [...views].sort(problemsFirst)) {
    const actions = h('div', { class: 'actions' });
    if (needsKeeper(view)) actions.append(signInButton(view));
    else if (view.state === 'offline' || view.state === 'retrying') {
      const renew = renewButton(view);
      if (renew) actions.append(renew);
    }
    actions.append(h('button', { type: 'button', onclick: () => go(routeOf('detail', view.name)), 'aria-label': `Details of ${view.name}` }, 'Details'));
    list.append(
      h(
        'li',
        { class: `card sev-${severity(view)}`, 'data-name': view.name },
        h(
          'div',
          { class: 'card-main' },
          h('h2', {}, h('a', { href: `#/${routeOf('detail', view.name)}` }, view.name)),
          h('div', { class: 'status-line' }, badge(view), sharedMark(view), nextLine(view)),
          view.detail ? h('p', { class: 'detail' }, view.detail) : null,
          view.state === 'expiring-soon' && view.refresh_expires_at ? endsLine(view.refresh_expires_at, view.kind) : null,
        ),
        actions,
      ),
    );
  }
  root.append(list);
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
    else views = [...views, e.view];
  } else if (e.event === 'removed') {
    views = views.filter((v) => v.name !== e.name);
  } else {
    return;
  }
  if (rerenderOnChange) render();
}

async function start(): Promise<void> {
  setRenderer(render);
  await api.onKeeperEvent(onKeeperEvent);
  await api.onNavigate((to) => go(to));
  window.addEventListener('hashchange', () => {
    render();
    document.getElementById('page-title')?.focus();
  });
  acceptDrops();
  try {
    const settings = await api.settings();
    setCalendar(settings.dateStyle, settings.timeZone);
  } catch {
    // the defaults: United States order, the web view's zone
  }
  try {
    views = await api.list();
  } catch (e) {
    main.append(h('p', { class: 'error' }, message(e)));
  }
  render();
  await showOpenedAtStart();
  window.setInterval(tick, 1000);
  document.body.dataset.ready = 'true';
}

void start();
