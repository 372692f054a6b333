// An integration's details: its state in words, the actions that can work for it, what it is
// (service, site, account), its history; folded, the technical details and how scripts use it.
import { api, message, type About, type IntegrationStatus } from './api';
import { confirmDialog, messageDialog } from './dialog';
import { announce, h } from './dom';
import { day, explained, historyText, historyTone, when } from './format';
import type { Page } from './page';
import { SHARED_EXPLAINED, SHARED_FIX, sharedMark } from './shared';
import { scriptUse, technicalDetails } from './technical';
import { badge, nextLine, pageTitle, pauseButton, renewButton, signInButton } from './widgets';

/** Whether each integration's service takes a sign-in with a code, once asked: a repaint then
 * draws the button at once instead of moving the others aside a moment later. */
const takesCode = new Map<string, boolean>();

/** Draws an integration's details. A repaint (`repaint`: a keeper event, same page) keeps what is
 * on screen until the new details are ready, so nothing flashes, a button under the pointer stays
 * where it is, and the focused button keeps the focus. */
export function renderDetail(root: HTMLElement, page: Page, name: string, repaint = false): void {
  const head = [h('p', {}, h('a', { href: '#/' }, '← All integrations')), pageTitle(name)];
  const body = h('div', { class: 'detail-body' }, h('p', {}, 'Loading…'));
  const show = () => {
    if (!repaint) return;
    const focused = document.activeElement instanceof HTMLElement && root.contains(document.activeElement) ? document.activeElement.id : '';
    root.replaceChildren(...head, body);
    if (focused) document.getElementById(focused)?.focus();
  };
  if (!repaint) root.replaceChildren(...head, body);
  Promise.all([api.status(name), api.about(name)])
    .then(([status, about]) => {
      if (!page.alive()) return;
      body.replaceChildren(...detailBody(status, about, page));
      show();
    })
    .catch((e) => {
      if (!page.alive()) return;
      body.replaceChildren(h('p', { class: 'error', role: 'alert' }, message(e)));
      show();
    });
}

function detailBody(s: IntegrationStatus, about: About, page: Page): Node[] {
  const facts = h('dl', { class: 'facts', id: 'about' });
  const fact = (term: string, value: Node | string | null) => {
    if (value) facts.append(h('dt', {}, term), h('dd', {}, value));
  };
  fact('Service', about.service);
  fact('Site', about.site);
  fact('Shared', s.shared ? `${SHARED_EXPLAINED}.` : null);
  fact(s.kind === 'api-token' ? 'Account' : 'Signed in as', about.account);
  fact(s.kind === 'api-token' ? 'Token ends on' : 'Sign-in ends on', s.refresh_expires_at ? day(s.refresh_expires_at) : null);
  fact('Next', nextLine(s));

  const actions = h('div', { class: 'actions', id: 'detail-actions' });
  actions.append(signInButton(s));
  const device = h('div', { class: 'device', role: 'status', id: 'device-box', hidden: true });
  if (s.kind === 'oauth' && !s.signin_pending) {
    // offered only where the service takes it (its answer can take a moment: asked once)
    const offer = (withCode: boolean) => {
      actions.dataset.waysChecked = 'true';
      if (!withCode) return;
      const button = h('button', { type: 'button', id: 'signin-code' }, 'Sign in with a code');
      button.addEventListener('click', () => signInWithCode(s.name, button, device, page));
      actions.insertBefore(button, actions.children[1] ?? null);
    };
    const known = takesCode.get(s.name);
    if (known !== undefined) offer(known);
    else
      api
        .signInWays(s.name)
        .then((ways) => {
          takesCode.set(s.name, ways.withCode);
          if (page.alive()) offer(ways.withCode);
        })
        .catch(() => undefined);
  }
  const renew = renewButton(s);
  if (renew) actions.append(renew);
  const remove = h('button', { type: 'button', class: 'danger', id: 'remove' }, 'Remove…');
  remove.addEventListener('click', async () => {
    const gone = s.shared
      ? 'It is removed from the team vault too: the other Token Keepers connected there lose it as well.'
      : 'Its sign-in is deleted from your keychain.';
    const sure = await confirmDialog(`Remove ${s.name}?`, [`Scripts that use it will stop getting a token. ${gone}`], 'Remove');
    if (!sure) return;
    try {
      await api.remove(s.name, false);
      announce(`${s.name} was removed.`);
      page.go('');
    } catch (e) {
      await messageDialog(`Could not remove ${s.name}`, message(e));
    }
  });
  actions.append(pauseButton(s), remove);

  const history = h('ol', { class: 'timeline', 'aria-label': 'History, newest first' });
  // newest first; each entry in the engine's words when it gives them
  s.history.forEach((entry, i) => {
    const text = s.history_text?.[i] ?? historyText(entry);
    history.prepend(h('li', { class: `tone-${historyTone(entry)}` }, h('time', { datetime: new Date(entry.at * 1000).toISOString() }, when(entry.at)), ' ', text));
  });
  return [
    h('div', { class: 'status-line big' }, badge(s), sharedMark(s)),
    // the engine's sentence (what happened, what to do) when it has one, else what the state means
    s.detail ? h('p', { class: 'explain', id: 'detail-sentence' }, s.detail) : h('p', { class: 'explain' }, explained(s)),
    // a shared integration's fix made here is made for everyone connected to the team vault
    ...(s.shared && s.state === 'needs-sign-in' ? [h('p', { class: 'hint', id: 'shared-fix-hint' }, SHARED_FIX)] : []),
    actions,
    device,
    h('h2', {}, 'About it'),
    facts,
    h('h2', {}, 'History'),
    s.history.length ? history : h('p', {}, 'Nothing has happened yet.'),
    h('div', { class: 'technical-sections' }, technicalDetails(s), scriptUse(s.name, about)),
  ];
}

/** Sign-in with a code: the service gives a code to type at an address, on this or any other
 * device (a phone, when this computer's browser cannot come back to Token Keeper). */
async function signInWithCode(name: string, button: HTMLButtonElement, box: HTMLElement, page: Page): Promise<void> {
  button.disabled = true;
  box.hidden = false;
  box.replaceChildren(h('p', {}, 'Asking the service for a code…'));
  page.setStable(false); // keeper events must not repaint the code away
  const stop = await api.onDeviceCode((c) => {
    if (c.name !== name) return;
    box.replaceChildren(
      h('p', {}, 'On this computer or any other device, open'),
      h('p', { class: 'device-url', id: 'device-url' }, c.url),
      h('p', {}, 'and, if asked, enter the code'),
      h('p', { class: 'device-code', id: 'device-code' }, c.userCode),
      h('p', { class: 'waiting', id: 'device-status' }, `Waiting for you to finish there (the code works for ${Math.round(c.expiresInSecs / 60)} minutes)…`),
    );
    announce(`Sign in to ${name} with the code ${c.userCode}.`);
  });
  let result: string;
  try {
    await api.signInWithCode(name);
    result = `Done: ${name} is signed in.`;
  } catch (e) {
    result = message(e);
  }
  stop();
  const status = box.querySelector('#device-status') ?? box.appendChild(h('p', { id: 'device-status' }));
  status.className = result.startsWith('Done') ? 'done' : 'error';
  status.textContent = result;
  announce(result);
  button.disabled = false;
  // the page stays as it is (with the outcome) until the keeper goes elsewhere
}
