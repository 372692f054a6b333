// One service's form, built from rows of a field table (the engine's, through `presets`) worded
// for that service (services.ts): only what the service needs, required fields marked and
// insisted on, each with where its value comes from.
import { api, message, type Preset, type PresetInput } from './api';
import { h } from './dom';
import { addConfirmed, signInStep, stepTitle, tokenStep } from './flow';
import type { Page } from './page';
import type { FieldWords } from './services';
import { shareChoice } from './shared';

/** One field as the form shows it. */
export interface FormField {
  key: string;
  label: string;
  hint: string;
  input: PresetInput['input'];
  required: boolean;
  default: string | null;
}

/** The table's rows for a preset, worded by `words` (hidden ones left out). */
export function formFields(preset: Preset, words: Record<string, FieldWords>): FormField[] {
  return preset.inputs
    .filter((row) => !words[row.key]?.hidden)
    .map((row) => {
      const w = words[row.key] ?? {};
      const required = w.required ?? row.required;
      const label = (w.label ?? row.label).replace(/ \(optional\)$/, '');
      return { key: row.key, label, hint: w.hint ?? row.hint, input: row.input, required, default: row.default };
    });
}

/** A field: label (with "required" or "optional" in words), hint, input. */
export function fieldBlock(id: string, f: Pick<FormField, 'label' | 'hint' | 'required'>, input: HTMLInputElement): HTMLElement {
  input.id = id;
  input.name = id;
  if (f.required) {
    input.required = true;
    input.setAttribute('aria-required', 'true');
  }
  if (f.hint) input.setAttribute('aria-describedby', `${id}-hint`);
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, f.label, ' ', h('span', { class: f.required ? 'required' : 'optional' }, f.required ? '(required)' : '(optional)')),
    f.hint ? h('p', { class: 'hint', id: `${id}-hint` }, f.hint) : null,
    input,
  );
}

export function inputFor(f: Pick<FormField, 'input' | 'default'>): HTMLInputElement {
  const el =
    f.input === 'password'
      ? h('input', { type: 'password', autocomplete: 'off' })
      : h('input', { type: f.input, autocomplete: 'off', spellcheck: 'false' });
  if (f.default) el.value = f.default;
  return el;
}

export interface ServiceFormOptions {
  preset: Preset;
  fields: FormField[];
  title: string;
  /** Said above the form: who gives the values. */
  intro: string | null;
  /** "HighQ reporting", for the name's hint. */
  example: string;
  /** Where the keeper creates the token (API tokens), for the token step's hint. */
  service?: string;
  back: () => void;
}

/** The form; on success the integration is added and the sign-in or token step follows. */
export function renderServiceForm(root: HTMLElement, page: Page, o: ServiceFormOptions): void {
  const oauth = o.preset.kind === 'oauth';
  stepTitle(root, o.title, 'Step 2 of 3 · Describe it');
  const name = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', maxlength: '64' });
  const inputs = o.fields.map((f) => ({ f, el: inputFor(f) }));
  const share = shareChoice();
  const error = h('p', { class: 'error', role: 'alert', id: 'wizard-error' });
  const submit = h('button', { type: 'submit', class: 'primary', id: 'add-submit' }, oauth ? 'Add and sign in' : 'Continue');
  const form = h(
    'form',
    { class: 'form', novalidate: true, id: 'service-form', 'data-preset': o.preset.id },
    o.intro ? h('p', { class: 'intro' }, o.intro) : null,
    registerLink(o.preset),
    fieldBlock('name', { label: 'Name', hint: `A name you will recognise, such as “${o.example}”. Scripts use it too.`, required: true }, name),
    ...inputs.map(({ f, el }) => fieldBlock(f.key.replace(/_/g, '-'), f, el)),
    share.el,
    error,
    h('div', { class: 'actions' }, submit, h('button', { type: 'button', id: 'form-back', onclick: o.back }, 'Back')),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    const missing = [{ el: name, label: 'Name' }, ...inputs.filter((i) => i.f.required).map((i) => ({ el: i.el, label: i.f.label }))].find((i) => !i.el.value.trim());
    if (missing) {
      error.textContent = `Please fill in: ${missing.label}.`;
      missing.el.setAttribute('aria-invalid', 'true');
      missing.el.focus();
      return;
    }
    const secret = inputs.find((i) => i.f.key === 'client_secret');
    const values: Record<string, string> = {};
    for (const { f, el } of inputs) if (f.key !== 'client_secret') values[f.key] = el.value;
    submit.disabled = true;
    try {
      const view = await addConfirmed({ provider: o.preset.id, name: name.value, values, clientSecret: secret?.el.value || undefined, shared: share.shared() });
      if (!view) {
        submit.disabled = false;
        return;
      }
      if (secret) secret.el.value = '';
      if (oauth) signInStep(root, page, view.name, 'Step 3 of 3 · Sign in');
      else tokenStep(root, page, view.name, 'Step 3 of 3 · The token', o.service, view.shared);
    } catch (e) {
      error.textContent = message(e);
    }
    submit.disabled = false;
  });
  root.append(form);
  name.focus();
}

/** The service's page for registering an app or creating a token, opened in the system browser. */
function registerLink(preset: Preset): HTMLElement | null {
  if (!preset.registerUrl) return null;
  const what = preset.kind === 'oauth' ? 'Where the app is registered' : 'Where you create the token';
  const link = h('a', { href: preset.registerUrl, id: 'register-link', target: '_blank', rel: 'noopener' }, `Open ${new URL(preset.registerUrl).host}`);
  link.addEventListener('click', (ev) => {
    ev.preventDefault();
    api.openRegisterPage(preset.id).catch(() => undefined);
  });
  return h('p', { class: 'hint register' }, `${what}: `, link, ' (opens in your browser).');
}
