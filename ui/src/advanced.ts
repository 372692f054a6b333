// "Other service (advanced)": a service without a preset, described in its own technical terms —
// an OAuth 2.0 / OpenID Connect sign-in (the issuer looked up, or the addresses given by hand) or
// an API token checked at an address. A technical section: the words protocols use are allowed
// here (and only in here, technical.ts and the engine's technical fields).
import { api, message, type Preset } from './api';
import { h } from './dom';
import { addConfirmed, signInStep, stepTitle } from './flow';
import type { Page } from './page';
import { fieldBlock, formFields, renderServiceForm } from './service_form';
import { shareChoice } from './shared';
import { door, pageTitle } from './widgets';

const GENERIC_OAUTH = 'oauth2';
const GENERIC_TOKEN = 'api-token';

export function renderAdvanced(root: HTMLElement, page: Page, sub: string): void {
  if (sub === 'sign-in') oauthForm(root, page);
  else if (sub === 'token') tokenForm(root, page);
  else choose(root);
}

function choose(root: HTMLElement): void {
  root.append(
    h('p', { class: 'step' }, 'Step 1 of 3 · Other service'),
    pageTitle('Other service (advanced)'),
    h('p', {}, 'For a service Token Keeper has no settings for. You need its technical details: the person who set up the script, or the service’s documentation for developers, has them.'),
    h(
      'ul',
      { class: 'doors', 'aria-label': 'Kinds of service' },
      door('advanced-sign-in', '#/add/advanced/sign-in', 'Sign in with an account', 'OAuth 2.0 or OpenID Connect: you sign in in your browser once, Token Keeper renews it.'),
      door('advanced-token', '#/add/advanced/token', 'API token', 'You create a token at the service and paste it; Token Keeper checks it at an address you give.'),
    ),
    h('p', {}, h('a', { href: '#/add' }, '← Other ways to add an integration')),
  );
}

function withPreset(root: HTMLElement, page: Page, id: string, then: (preset: Preset) => void): void {
  const error = h('p', { class: 'error', role: 'alert', id: 'wizard-error' });
  root.append(error);
  api
    .presets()
    .then((presets) => {
      const preset = presets.find((p) => p.id === id);
      if (page.alive() && preset) then(preset);
    })
    .catch((e) => (error.textContent = message(e)));
}

function tokenForm(root: HTMLElement, page: Page): void {
  withPreset(root, page, GENERIC_TOKEN, (preset) =>
    renderServiceForm(root, page, {
      preset,
      fields: formFields(preset, {
        probe_url: { hint: 'An address of the service’s API that answers only with a valid token (HTTP 200 with JSON); Token Keeper checks the token there now and then.' },
        username: { label: 'User name', hint: 'Only if the service wants one with the token (it is then sent as HTTP Basic user:token; else as a Bearer token).' },
        expires: { hidden: true },
      }),
      title: 'API token',
      intro: null,
      example: 'Billing export',
      back: () => page.go('add/advanced'),
    }),
  );
}

function text(attrs: Record<string, string | boolean> = {}): HTMLInputElement {
  return h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', ...attrs });
}

function oauthForm(root: HTMLElement, page: Page): void {
  withPreset(root, page, GENERIC_OAUTH, (preset) => {
    stepTitle(root, 'Sign in with an account', 'Step 2 of 3 · OAuth 2.0 / OpenID Connect');
    const name = text({ maxlength: '64' });
    const issuer = text({ type: 'url', placeholder: 'https://login.example.com' });
    const authorize = text({ type: 'url' });
    const token = text({ type: 'url' });
    const revocation = text({ type: 'url' });
    const probe = text({ type: 'url' });
    const clientId = text();
    const clientSecret = h('input', { type: 'password', autocomplete: 'off' });
    const scopes = text({ value: 'openid offline_access' });
    const share = shareChoice();
    const found = h('p', { class: 'found', role: 'status' });
    const error = h('p', { class: 'error', role: 'alert', id: 'wizard-error' });
    const lookup = h('button', { type: 'button', id: 'discover' }, 'Look up');
    const addresses = h(
      'details',
      { class: 'addresses' },
      h('summary', {}, 'Endpoints (filled in by “Look up”, or enter them yourself)'),
      fieldBlock('authorize-url', { label: 'Authorization endpoint', hint: '', required: false }, authorize),
      fieldBlock('token-url', { label: 'Token endpoint', hint: '', required: false }, token),
      fieldBlock('revocation-url', { label: 'Revocation endpoint', hint: '', required: false }, revocation),
      fieldBlock('probe-url', { label: 'Check address', hint: 'A GET that answers only with a valid access token, such as the userinfo endpoint.', required: false }, probe),
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
    issuer.id = 'issuer';
    issuer.setAttribute('aria-describedby', 'issuer-hint');
    const form = h(
      'form',
      { class: 'form', novalidate: true },
      fieldBlock('name', { label: 'Name', hint: 'A name you will recognise, such as “Reports”. Scripts use it too.', required: true }, name),
      h(
        'div',
        { class: 'field' },
        h('label', { for: 'issuer' }, 'Issuer (OpenID Connect) ', h('span', { class: 'optional' }, '(optional)')),
        h('p', { class: 'hint', id: 'issuer-hint' }, 'Its endpoints are looked up from it. Leave it empty if the service has none and give the endpoints below.'),
        h('div', { class: 'inline' }, issuer, lookup),
        found,
      ),
      addresses,
      fieldBlock('client-id', { label: 'Client ID', hint: 'From the app registration at the service.', required: true }, clientId),
      fieldBlock('client-secret', { label: 'Client secret', hint: 'Only for a confidential client. It is kept in your keychain.', required: false }, clientSecret),
      fieldBlock('scopes', { label: 'Scopes', hint: 'Separated by spaces. “offline_access” asks for a refresh token, so Token Keeper can renew the sign-in.', required: false }, scopes),
      share.el,
      error,
      h('div', { class: 'actions' }, submit, h('button', { type: 'button', onclick: () => page.go('add/advanced') }, 'Back')),
    );
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
        error.textContent = 'Looking up the endpoints first; then press “Add and sign in” again.';
        return;
      }
      submit.disabled = true;
      try {
        const view = await addConfirmed({
          provider: preset.id,
          name: name.value,
          values: {
            issuer: issuer.value,
            authorize_url: authorize.value,
            token_url: token.value,
            revocation_url: revocation.value,
            probe_url: probe.value,
            client_id: clientId.value,
            scopes: scopes.value,
          },
          clientSecret: clientSecret.value || undefined,
          shared: share.shared(),
        });
        if (view) {
          clientSecret.value = '';
          signInStep(root, page, view.name, 'Step 3 of 3 · Sign in');
        }
      } catch (e) {
        error.textContent = message(e);
        if (!authorize.value || !token.value) addresses.open = true;
      }
      submit.disabled = false;
    });
    root.append(form);
    name.focus();
  });
}
