// The add-integration wizard: choose the kind of sign-in, describe the service (OpenID Connect
// discovery from the issuer, or the addresses by hand), then sign in in the system browser; or,
// for an API token, describe how to check it, then paste the token (checked before it is saved).
// The services offered are the engine's provider presets (from the `presets` command): each asks
// only for what it needs, and links the service's page for registering an app. A profile file from
// an administrator can be imported instead ("Import profile…").
import { api, message, type IntegrationView, type Preset } from './api';
import { announce, h } from './dom';
import { renderTokenForm } from './detail';
import type { Page } from './main';

export function renderWizard(root: HTMLElement, page: Page): void {
  page.setStable(false);
  choosePreset(root, page);
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

function choosePreset(root: HTMLElement, page: Page): void {
  title(root, 'Add an integration', 'Step 1 of 3');
  const error = h('p', { class: 'error', role: 'alert', id: 'wizard-error' });
  root.append(error);
  api
    .presets()
    .then((presets) => showPresets(root, page, presets))
    .catch((e) => {
      error.textContent = message(e);
    });
  (root.querySelector('h1') as HTMLElement).focus();
}

/** A preset's name as the list shows it: services with two presets (Atlassian) say which. */
function presetLabel(preset: Preset, all: Preset[]): string {
  if (all.filter((p) => p.name === preset.name).length < 2) return preset.name;
  return `${preset.name} (${preset.kind === 'oauth' ? 'sign in with an account' : 'API token'})`;
}

function showPresets(root: HTMLElement, page: Page, presets: Preset[]): void {
  const option = (preset: Preset, checked: boolean) =>
    h(
      'div',
      { class: 'choice' },
      h('input', { type: 'radio', name: 'kind', id: `kind-${preset.id}`, value: preset.id, checked, 'aria-describedby': `kind-${preset.id}-hint` }),
      h('label', { for: `kind-${preset.id}` }, presetLabel(preset, presets)),
      h(
        'p',
        { class: 'hint', id: `kind-${preset.id}-hint` },
        preset.kind === 'oauth'
          ? 'You sign in in your browser once; Token Keeper renews the sign-in from then on.'
          : 'You create a token at the service and paste it here.',
      ),
    );
  const first = presets.find((p) => p.id === 'oauth2') ?? presets[0];
  const form = h(
    'form',
    { class: 'form', id: 'preset-form' },
    h('fieldset', { id: 'presets' }, h('legend', {}, 'Which service?'), ...presets.map((p) => option(p, p === first))),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: 'kind-next' }, 'Continue'), h('a', { href: '#/', class: 'button' }, 'Cancel')),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = (form.querySelector('input[name=kind]:checked') as HTMLInputElement | null)?.value;
    const preset = presets.find((p) => p.id === id);
    if (!preset) return;
    if (preset.kind === 'oauth' && preset.needsAddresses) oauthDetails(root, page, preset);
    else presetDetails(root, page, preset);
  });
  root.append(form, importSection(root, page));
}

/** "Import profile…": a profile file from an administrator, read here and checked by the app. */
function importSection(root: HTMLElement, page: Page): HTMLElement {
  const file = h('input', { type: 'file', id: 'profile-file', accept: '.toml,.txt,text/plain', 'aria-describedby': 'profile-file-hint' });
  const error = h('p', { class: 'error', role: 'alert', id: 'import-error' });
  const submit = h('button', { type: 'submit', id: 'import-submit' }, 'Import profile…');
  const form = h(
    'form',
    { class: 'form', id: 'import-form', novalidate: true },
    h('h2', {}, 'Or import a profile file'),
    h('div', { class: 'field' }, h('label', { for: 'profile-file' }, 'Profile file'), h('p', { class: 'hint', id: 'profile-file-hint' }, 'If your administrator gave you a profile file (.toml), choose it here: it describes the service for you.'), file),
    error,
    h('div', { class: 'actions' }, submit),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    file.removeAttribute('aria-invalid');
    const chosen = file.files?.[0];
    if (!chosen) {
      error.textContent = 'Please choose the profile file first.';
      file.focus();
      return;
    }
    if (chosen.size > 64 * 1024) {
      error.textContent = `The profile file ${chosen.name} is larger than 64 KiB; a profile file is a few lines.`;
      file.setAttribute('aria-invalid', 'true');
      return;
    }
    submit.disabled = true;
    try {
      const imported = await api.importProfile(chosen.name, await chosen.text());
      file.value = '';
      imported_(root, page, chosen.name, imported.view, imported.hadClientSecret);
    } catch (e) {
      error.textContent = message(e);
      file.setAttribute('aria-invalid', 'true');
      file.focus();
    }
    submit.disabled = false;
  });
  return form;
}

function imported_(root: HTMLElement, page: Page, fileName: string, view: IntegrationView, hadSecret: boolean): void {
  title(root, `${view.name} added`, 'Imported from a profile file');
  const deletion = hadSecret
    ? `Its client secret is now in your keychain: you can now delete ${fileName}.`
    : `Token Keeper has what it needs: you can now delete ${fileName}.`;
  const done = h('p', { class: 'done', role: 'status', id: 'import-done' }, `Added ${view.name} from ${fileName}. ${deletion}`);
  const next =
    view.kind === 'oauth'
      ? h('button', { type: 'button', class: 'primary', id: 'import-next', onclick: () => signIn(root, page, view.name) }, 'Sign in now')
      : h('button', { type: 'button', class: 'primary', id: 'import-next', onclick: () => tokenStep(root, page, view.name) }, 'Give the token');
  root.append(done, h('div', { class: 'actions' }, next, h('button', { type: 'button', onclick: () => page.go('') }, 'Later')));
  announce(done.textContent ?? '');
  next.focus();
}

/** The preset's page for registering an app, opened in the system browser. */
function registerLink(preset: Preset): HTMLElement | null {
  if (!preset.registerUrl) return null;
  const what = preset.kind === 'oauth' ? 'register an app and get a client ID' : 'create a token';
  const link = h('a', { href: preset.registerUrl, id: 'register-link', target: '_blank', rel: 'noopener' }, `Open ${new URL(preset.registerUrl).host}`);
  link.addEventListener('click', (ev) => {
    ev.preventDefault();
    api.openRegisterPage(preset.id).catch(() => undefined);
  });
  return h('p', { class: 'hint register' }, `Where to ${what} for ${preset.name}: `, link, ' (opens in your browser).');
}

function oauthDetails(root: HTMLElement, page: Page, preset: Preset): void {
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
    h('div', { class: 'actions' }, submit, h('button', { type: 'button', onclick: () => choosePreset(root, page) }, 'Back')),
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
      const view = await api.addPreset({
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

/** A preset's own form: the name and only the inputs the preset needs. */
function presetDetails(root: HTMLElement, page: Page, preset: Preset): void {
  const oauth = preset.kind === 'oauth';
  title(root, oauth ? 'Describe the service' : 'Describe the token', `Step 2 of 3 · ${presetLabel(preset, [preset])}`);
  const name = text({ required: true, maxlength: '64' });
  const inputs = preset.inputs.map((input) => {
    const el =
      input.input === 'password'
        ? h('input', { type: 'password', autocomplete: 'off' })
        : input.input === 'date'
          ? h('input', { type: 'date' })
          : text({ type: input.input, ...(input.required ? { required: true } : {}) });
    if (input.default) el.value = input.default;
    return { input, el };
  });
  const error = h('p', { class: 'error', role: 'alert', id: 'wizard-error' });
  const submit = h('button', { type: 'submit', class: 'primary', id: 'add-submit' }, oauth ? 'Add and sign in' : 'Continue');
  const form = h(
    'form',
    { class: 'form', novalidate: true },
    registerLink(preset),
    field('name', 'Name', name, `A name you will recognise, such as “${preset.name} reporting”. Scripts use it too.`),
    ...inputs.map(({ input, el }) => field(input.key.replace(/_/g, '-'), input.label, el, input.hint || undefined)),
    error,
    h('div', { class: 'actions' }, submit, h('button', { type: 'button', onclick: () => choosePreset(root, page) }, 'Back')),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    const missing = [{ el: name, label: 'Name' }, ...inputs.filter((i) => i.input.required).map((i) => ({ el: i.el, label: i.input.label }))].find((i) => !i.el.value.trim());
    if (missing) {
      error.textContent = `Please fill in: ${missing.label}.`;
      missing.el.focus();
      return;
    }
    const secret = inputs.find((i) => i.input.key === 'client_secret');
    const values: Record<string, string> = {};
    for (const { input, el } of inputs) if (input.key !== 'client_secret') values[input.key] = el.value;
    submit.disabled = true;
    try {
      const view = await api.addPreset({ provider: preset.id, name: name.value, values, clientSecret: secret?.el.value || undefined });
      if (secret) secret.el.value = '';
      if (oauth) signIn(root, page, view.name);
      else tokenStep(root, page, view.name);
    } catch (e) {
      error.textContent = message(e);
    }
    submit.disabled = false;
  });
  root.append(form);
  name.focus();
}

/** Step 3 for an API token: paste it (checked before it is saved). */
function tokenStep(root: HTMLElement, page: Page, name: string): void {
  root.replaceChildren(h('p', { class: 'step' }, 'Step 3 of 3 · Token'));
  renderTokenForm(
    root,
    page,
    name,
    () => page.go(`detail/${encodeURIComponent(name)}`),
    async () => {
      await api.remove(name, false).catch(() => undefined);
      page.go('');
    },
  );
}
