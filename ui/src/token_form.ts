// The API token form: paste the token and, optionally, the date it ends (no service tells it: the
// keeper chose it when creating the token). The token is checked against the service before it
// is saved; it never comes back to the window. A new date replaces the old one, so replacing an
// expiring token ends "Expiring soon".
import { api, message } from './api';
import { announce, h } from './dom';
import { type Page, routeOf } from './page';
import { pageTitle } from './widgets';

export interface TokenFormOptions {
  /** Where the token is created, for the hint ("Atlassian shows it on the token page"). */
  service?: string;
  /** Kept in the team vault: the token is saved there, for the whole team. */
  shared?: boolean;
  onSaved?: () => void;
  onCancel?: () => void;
}

export function renderTokenForm(root: HTMLElement, page: Page, name: string, options: TokenFormOptions = {}): void {
  root.append(
    pageTitle(`Token for ${name}`),
    h('p', {}, `Paste the API token you created at the service. Token Keeper checks that it works before it saves it ${options.shared ? 'in the team vault, for your team' : 'in your keychain'}.`),
  );
  const error = h('p', { class: 'error', role: 'alert', id: 'token-error' });
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, 'aria-required': 'true', 'aria-describedby': 'token-error' });
  const expires = h('input', { id: 'token-expires', name: 'token-expires', type: 'date', 'aria-describedby': 'token-expires-hint' });
  const save = h('button', { type: 'submit', class: 'primary', id: 'token-save' }, 'Check and save');
  const where = options.service === 'Atlassian'
    ? 'Atlassian shows it next to the token on its API tokens page, and in the e-mail it sends when the token is created.'
    : 'You chose it when you created the token; the service shows it on the page that lists your tokens.';
  const form = h(
    'form',
    { class: 'form', novalidate: true, id: 'token-form' },
    h('div', { class: 'field' }, h('label', { for: 'token' }, 'API token ', h('span', { class: 'required' }, '(required)')), input),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'token-expires' }, 'The token ends on (optional)'),
      h('p', { class: 'hint', id: 'token-expires-hint' }, `${where} Token Keeper reminds you before then. Leave it empty if the token never ends.`),
      expires,
    ),
    error,
    h(
      'div',
      { class: 'actions' },
      save,
      h('button', { type: 'button', onclick: () => (options.onCancel ? options.onCancel() : page.go(routeOf('detail', name))) }, 'Cancel'),
    ),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    input.removeAttribute('aria-invalid');
    if (!input.value.trim()) {
      error.textContent = 'Please paste the token first.';
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    save.disabled = true;
    save.textContent = 'Checking…';
    try {
      await api.saveApiToken(name, input.value, expires.value || null);
      input.value = '';
      announce(`The token works and was saved for ${name}.`);
      if (options.onSaved) options.onSaved();
      else page.go(routeOf('detail', name));
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
