// An integration's details (state, times, actions, history timeline) and the API token form
// (the token is checked against the service before it is saved; it never comes back).
import { api, message, type IntegrationStatus } from './api';
import { announce, h } from './dom';
import { day, historyText, historyTone, STATE_EXPLAINED, when } from './format';
import { badge, nextLine, signInButton, type Page } from './main';

export function renderDetail(root: HTMLElement, page: Page, name: string): void {
  root.append(h('p', {}, h('a', { href: '#/' }, '← All integrations')), h('h1', { id: 'page-title', tabindex: '-1' }, name));
  const body = h('div', { class: 'detail-body' }, h('p', {}, 'Loading…'));
  root.append(body);
  api
    .status(name)
    .then((status) => {
      if (!page.alive()) return;
      body.replaceChildren(...detailBody(status, page));
    })
    .catch((e) => body.replaceChildren(h('p', { class: 'error', role: 'alert' }, message(e))));
}

function detailBody(s: IntegrationStatus, page: Page): Node[] {
  const facts = h('dl', { class: 'facts' });
  const fact = (term: string, value: Node | string | null) => {
    if (value) facts.append(h('dt', {}, term), h('dd', {}, value));
  };
  fact('Kind', s.kind === 'api-token' ? 'API token' : 'Sign-in (OAuth 2.0 / OpenID Connect)');
  fact('Current token valid until', s.access_expires_at ? when(s.access_expires_at) : null);
  fact(s.kind === 'api-token' ? 'Token ends on' : 'Sign-in ends on', s.refresh_expires_at ? day(s.refresh_expires_at) : null);
  fact('Next', nextLine(s));

  const actions = h('div', { class: 'actions' });
  actions.append(signInButton(s));
  const device = h('div', { class: 'device', role: 'status', id: 'device-box', hidden: true });
  if (s.kind === 'oauth') {
    const withCode = h('button', { type: 'button', id: 'signin-code', disabled: s.signin_pending }, 'Sign in with a code');
    withCode.addEventListener('click', () => signInWithCode(s.name, withCode, device, page));
    actions.append(withCode);
  }
  const refresh = h('button', { type: 'button', disabled: s.state === 'paused' }, s.kind === 'api-token' ? 'Check now' : 'Refresh now');
  refresh.addEventListener('click', () => act(refresh, 'Working on it…', async () => {
    await api.refresh(s.name);
    return `${s.name} was renewed.`;
  }, page));
  const pause = h('button', { type: 'button' }, s.state === 'paused' ? 'Resume' : 'Pause');
  pause.addEventListener('click', () => act(pause, '…', async () => {
    await api.pause(s.name, s.state !== 'paused');
    return s.state === 'paused' ? `${s.name} resumed.` : `${s.name} paused.`;
  }, page));
  const remove = h('button', { type: 'button', class: 'danger' }, 'Remove…');
  remove.addEventListener('click', async () => {
    if (!window.confirm(`Remove "${s.name}"? Scripts that use it will stop getting a token.`)) return;
    try {
      await api.remove(s.name, false);
      announce(`${s.name} was removed.`);
      page.go('');
    } catch (e) {
      window.alert(message(e));
    }
  });
  actions.append(refresh, pause, remove);

  const history = h('ol', { class: 'timeline', 'aria-label': 'History, newest first' });
  for (const entry of [...s.history].reverse()) {
    history.append(
      h('li', { class: `tone-${historyTone(entry)}` }, h('time', { datetime: new Date(entry.at * 1000).toISOString() }, when(entry.at)), ' ', historyText(entry)),
    );
  }
  return [
    h('div', { class: 'status-line big' }, badge(s)),
    h('p', { class: 'explain' }, STATE_EXPLAINED[s.state]),
    s.detail ? h('p', { class: 'detail' }, s.detail) : document.createTextNode(''),
    actions,
    device,
    h('h2', {}, 'About it'),
    facts,
    h('h2', {}, 'History'),
    s.history.length ? history : h('p', {}, 'Nothing has happened yet.'),
  ];
}

/** Device sign-in: the service gives a code to type at an address, on this or any other device
 * (a phone, when this computer's browser cannot come back to Token Keeper). */
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

async function act(button: HTMLButtonElement, busy: string, f: () => Promise<string>, page: Page): Promise<void> {
  const label = button.textContent;
  button.disabled = true;
  button.textContent = busy;
  try {
    announce(await f());
  } catch (e) {
    window.alert(message(e));
  }
  button.textContent = label;
  page.refresh();
}

/** The API token form: paste, check against the service, save only if it works. */
export function renderTokenForm(root: HTMLElement, page: Page, name: string, onSaved?: () => void, onCancel?: () => void): void {
  root.append(
    h('h1', { id: 'page-title', tabindex: '-1' }, `Token for ${name}`),
    h('p', {}, 'Paste the API token you created at the service. Token Keeper checks that it works before it saves it in your keychain.'),
  );
  const error = h('p', { class: 'error', role: 'alert', id: 'token-error' });
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, 'aria-describedby': 'token-error' });
  const save = h('button', { type: 'submit', class: 'primary', id: 'token-save' }, 'Check and save');
  const form = h(
    'form',
    { class: 'form', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'token' }, 'API token'), input),
    error,
    h(
      'div',
      { class: 'actions' },
      save,
      h('button', { type: 'button', onclick: () => (onCancel ? onCancel() : page.go(`detail/${encodeURIComponent(name)}`)) }, 'Cancel'),
    ),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    save.disabled = true;
    save.textContent = 'Checking…';
    try {
      await api.saveApiToken(name, input.value);
      input.value = '';
      announce(`The token works and was saved for ${name}.`);
      if (onSaved) onSaved();
      else page.go(`detail/${encodeURIComponent(name)}`);
    } catch (e) {
      error.textContent = message(e);
      input.focus();
    }
    save.disabled = false;
    save.textContent = 'Check and save';
  });
  page.setStable(false);
  root.append(form);
  input.focus();
}
