// The add-integration wizard: choose the kind of sign-in, describe the service (OpenID Connect
// discovery from the issuer, or the addresses by hand), then sign in in the system browser; or,
// for an API token, describe how to check it, then paste the token (checked before it is saved).
// Provider presets plug in later as data: a preset fills the same fields.
import { api, message } from './api';
import { announce, h } from './dom';
import { renderTokenForm } from './detail';
import type { Page } from './main';

type Kind = 'oauth' | 'api-token';

export function renderWizard(root: HTMLElement, page: Page): void {
  page.setStable(false);
  chooseKind(root, page);
}

function title(root: HTMLElement, text: string, step: string): void {
  root.replaceChildren(h('p', { class: 'step' }, step), h('h1', { id: 'page-title', tabindex: '-1' }, text));
}

function field(id: string, label: string, input: HTMLInputElement, hint?: string): HTMLElement {
  input.id = id;
  input.name = id;
  if (hint) input.setAttribute('aria-describedby', `${id}-hint`);
  return h('div', { class: 'field' }, h('label', { for: id }, label), hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null, input);
}

function text(attrs: Record<string, string | boolean> = {}): HTMLInputElement {
  return h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', ...attrs });
}

function chooseKind(root: HTMLElement, page: Page): void {
  title(root, 'Add an integration', 'Step 1 of 3');
  const option = (value: Kind, label: string, hint: string, checked = false) =>
    h(
      'div',
      { class: 'choice' },
      h('input', { type: 'radio', name: 'kind', id: `kind-${value}`, value, checked, 'aria-describedby': `kind-${value}-hint` }),
      h('label', { for: `kind-${value}` }, label),
      h('p', { class: 'hint', id: `kind-${value}-hint` }, hint),
    );
  const form = h(
    'form',
    { class: 'form' },
    h(
      'fieldset',
      {},
      h('legend', {}, 'How does the service let programs in?'),
      option('oauth', 'Sign in with an account (OAuth 2.0 / OpenID Connect)', 'You sign in in your browser once; Token Keeper renews the sign-in from then on.', true),
      option('api-token', 'An API token', 'You create a token at the service (for example an Atlassian API token) and paste it here.'),
    ),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: 'kind-next' }, 'Continue'), h('a', { href: '#/', class: 'button' }, 'Cancel')),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const kind = (form.querySelector('input[name=kind]:checked') as HTMLInputElement | null)?.value as Kind | undefined;
    if (kind === 'api-token') apiTokenDetails(root, page);
    else oauthDetails(root, page);
  });
  root.append(form);
  (root.querySelector('h1') as HTMLElement).focus();
}

function oauthDetails(root: HTMLElement, page: Page): void {
  title(root, 'Describe the service', 'Step 2 of 3 · Sign in with an account');
  const name = text({ required: true, maxlength: '64' });
  const issuer = text({ type: 'url', placeholder: 'https://login.example.com' });
  const authorize = text({ type: 'url' });
  const token = text({ type: 'url' });
  const revocation = text({ type: 'url' });
  const probe = text({ type: 'url' });
  const clientId = text({ required: true });
  const clientSecret = h('input', { type: 'password', autocomplete: 'off' });
  const scopes = text({ value: 'openid offline_access' });
  const found = h('p', { class: 'found', role: 'status' });
  const error = h('p', { class: 'error', role: 'alert', id: 'wizard-error' });
  const lookup = h('button', { type: 'button', id: 'discover' }, 'Look up');
  const addresses = h(
    'details',
    { class: 'addresses' },
    h('summary', {}, 'Addresses (filled in by “Look up”, or enter them yourself)'),
    field('authorize-url', 'Sign-in address (authorization endpoint)', authorize),
    field('token-url', 'Token address (token endpoint)', token),
    field('revocation-url', 'Revocation address (optional)', revocation),
    field('probe-url', 'Check address (optional)', probe, 'A page that only answers with a valid token, such as the userinfo endpoint.'),
  );
  lookup.addEventListener('click', async () => {
    error.textContent = '';
    found.textContent = 'Looking up…';
    lookup.disabled = true;
    try {
      const e = await api.discover(issuer.value);
      authorize.value = e.authorizeUrl;
      token.value = e.tokenUrl;
      revocation.value = e.revocationUrl ?? '';
      probe.value = e.probeUrl ?? '';
      found.textContent = `Found the service at ${new URL(e.issuer).host}.`;
    } catch (e) {
      found.textContent = '';
      error.textContent = message(e);
      addresses.open = true;
    }
    lookup.disabled = false;
  });
  const submit = h('button', { type: 'submit', class: 'primary', id: 'add-submit' }, 'Add and sign in');
  const form = h(
    'form',
    { class: 'form', novalidate: true },
    field('name', 'Name', name, 'A name you will recognise, such as “HighQ reporting”. Scripts use it too.'),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'issuer' }, 'Issuer address (OpenID Connect)'),
      h('p', { class: 'hint', id: 'issuer-hint' }, 'Your administrator or the service’s documentation tells it. Leave it empty if the service has none.'),
      h('div', { class: 'inline' }, issuer, lookup),
      found,
    ),
    addresses,
    field('client-id', 'Client ID', clientId, 'From the app registration at the service.'),
    field('client-secret', 'Client secret (optional)', clientSecret, 'Only if the service gave you one. It is kept in your keychain.'),
    field('scopes', 'Permissions (scopes)', scopes, 'Separated by spaces. “offline_access” lets Token Keeper renew the sign-in.'),
    error,
    h('div', { class: 'actions' }, submit, h('button', { type: 'button', onclick: () => chooseKind(root, page) }, 'Back')),
  );
  issuer.id = 'issuer';
  issuer.setAttribute('aria-describedby', 'issuer-hint');
  issuer.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') {
      ev.preventDefault();
      lookup.click();
    }
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    if (!name.value.trim() || !clientId.value.trim()) {
      error.textContent = 'Please fill in a name and the client ID.';
      (name.value.trim() ? clientId : name).focus();
      return;
    }
    if ((!authorize.value || !token.value) && issuer.value) {
      lookup.click();
      error.textContent = 'Looking up the addresses first; then press “Add and sign in” again.';
      return;
    }
    submit.disabled = true;
    try {
      const view = await api.addOauth({
        name: name.value,
        issuer: issuer.value || undefined,
        authorizeUrl: authorize.value,
        tokenUrl: token.value,
        revocationUrl: revocation.value || undefined,
        probeUrl: probe.value || undefined,
        clientId: clientId.value,
        clientSecret: clientSecret.value || undefined,
        scopes: scopes.value,
      });
      clientSecret.value = '';
      signIn(root, page, view.name);
    } catch (e) {
      error.textContent = message(e);
      if (!authorize.value || !token.value) addresses.open = true;
    }
    submit.disabled = false;
  });
  root.append(form);
  name.focus();
}

function signIn(root: HTMLElement, page: Page, name: string): void {
  title(root, `Sign in to ${name}`, 'Step 3 of 3 · Sign in');
  const status = h('p', { class: 'waiting', role: 'status', id: 'signin-status' }, 'Your browser opens. Sign in there and allow access; then come back here.');
  const actions = h('div', { class: 'actions' });
  root.append(status, actions);
  const cancel = h('button', { type: 'button', id: 'signin-cancel' }, 'Cancel and remove');
  cancel.addEventListener('click', async () => {
    await api.remove(name, false).catch(() => undefined);
    page.go('');
  });
  actions.replaceChildren(cancel);
  api
    .signIn(name)
    .then(() => {
      status.textContent = `Done: ${name} is working. Token Keeper keeps it signed in from now on.`;
      status.className = 'done';
      announce(status.textContent);
      actions.replaceChildren(
        h('button', { type: 'button', class: 'primary', id: 'wizard-done', onclick: () => page.go(`detail/${encodeURIComponent(name)}`) }, 'Show details'),
        h('button', { type: 'button', onclick: () => page.go('') }, 'All integrations'),
      );
      (actions.firstElementChild as HTMLElement).focus();
    })
    .catch((e) => {
      status.textContent = message(e);
      status.className = 'error';
      const again = h('button', { type: 'button', class: 'primary', onclick: () => signIn(root, page, name) }, 'Try again');
      actions.replaceChildren(again, cancel);
      again.focus();
    });
}

function apiTokenDetails(root: HTMLElement, page: Page): void {
  title(root, 'Describe the token', 'Step 2 of 3 · API token');
  const name = text({ required: true, maxlength: '64' });
  const probe = text({ type: 'url', required: true, placeholder: 'https://your-site.atlassian.net/rest/api/3/myself' });
  const username = text({ autocomplete: 'username' });
  const expires = h('input', { type: 'date' });
  const error = h('p', { class: 'error', role: 'alert', id: 'wizard-error' });
  const submit = h('button', { type: 'submit', class: 'primary', id: 'add-submit' }, 'Continue');
  const form = h(
    'form',
    { class: 'form', novalidate: true },
    field('name', 'Name', name, 'A name you will recognise, such as “Jira sync”. Scripts use it too.'),
    field('probe-url', 'Check address', probe, 'A page of the service that answers only with a valid token. Token Keeper opens it now and then to check the token.'),
    field('username', 'User name or email (optional)', username, 'If the service wants it with the token (Atlassian: your email).'),
    field('expires', 'Token ends on (optional)', expires, 'The expiry date you chose when you created the token. You are reminded before then.'),
    error,
    h('div', { class: 'actions' }, submit, h('button', { type: 'button', onclick: () => chooseKind(root, page) }, 'Back')),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    if (!name.value.trim() || !probe.value.trim()) {
      error.textContent = 'Please fill in a name and the check address.';
      (name.value.trim() ? probe : name).focus();
      return;
    }
    submit.disabled = true;
    try {
      const view = await api.addApiToken({ name: name.value, probeUrl: probe.value, username: username.value || undefined, expires: expires.value || undefined });
      root.replaceChildren(h('p', { class: 'step' }, 'Step 3 of 3 · Token'));
      renderTokenForm(
        root,
        page,
        view.name,
        () => page.go(`detail/${encodeURIComponent(view.name)}`),
        async () => {
          await api.remove(view.name, false).catch(() => undefined);
          page.go('');
        },
      );
    } catch (e) {
      error.textContent = message(e);
    }
    submit.disabled = false;
  });
  root.append(form);
  name.focus();
}
