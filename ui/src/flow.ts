// The last step of adding an integration, whichever way it was described (a service's form, the
// advanced forms, an administrator's file): sign in in the browser, or give the API token.
import { api, message, type IntegrationView, type PresetForm, type SecretHost } from './api';
import { showDialog } from './dialog';
import { announce, h } from './dom';
import { type Page, routeOf } from './page';
import { renderTokenForm } from './token_form';

export function stepTitle(root: HTMLElement, text: string, step: string): void {
  root.replaceChildren(h('p', { class: 'step' }, step), h('h1', { id: 'page-title', tabindex: '-1' }, text));
}

/** Signs in in the system browser; "Cancel and remove" takes the new integration away again. */
export function signInStep(root: HTMLElement, page: Page, name: string, step: string): void {
  stepTitle(root, `Sign in to ${name}`, step);
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
      if (!page.alive()) return;
      status.textContent = `Done: ${name} is working. Token Keeper keeps it signed in from now on.`;
      status.className = 'done';
      announce(status.textContent);
      actions.replaceChildren(
        h('button', { type: 'button', class: 'primary', id: 'wizard-done', onclick: () => page.go(routeOf('detail', name)) }, 'Show details'),
        h('button', { type: 'button', onclick: () => page.go('') }, 'All integrations'),
      );
      (actions.firstElementChild as HTMLElement).focus();
    })
    .catch((e) => {
      if (!page.alive()) return;
      status.textContent = message(e);
      status.className = 'error';
      const again = h('button', { type: 'button', class: 'primary', onclick: () => signInStep(root, page, name, step) }, 'Try again');
      actions.replaceChildren(again, cancel);
      again.focus();
    });
}

/** The API token (and its end date), checked before it is saved. */
export function tokenStep(root: HTMLElement, page: Page, name: string, step: string, service?: string, shared = false): void {
  root.replaceChildren(h('p', { class: 'step' }, step));
  renderTokenForm(root, page, name, {
    service,
    shared,
    onSaved: () => page.go(routeOf('detail', name)),
    onCancel: async () => {
      await api.remove(name, false).catch(() => undefined);
      page.go('');
    },
  });
}

/** Each host in bold, then what it receives ("…: receives the token at each check"). */
export function hostList(id: string, hosts: SecretHost[]): HTMLElement {
  return h(
    'ul',
    { class: 'hosts', id },
    ...hosts.map((x) => h('li', { class: x.otherSite ? 'other-site' : null }, h('strong', {}, x.host), x.sentence.slice(x.host.length))),
  );
}

/** Adds what a form describes; a service Token Keeper has no settings for is added only after
 * the keeper has seen every host it will talk to and said yes. Null when the keeper said no. */
export async function addConfirmed(form: PresetForm): Promise<IntegrationView | null> {
  const preview = await api.previewPreset(form);
  if (preview.needsConfirmation) {
    const yes = await showDialog(
      `Add ${preview.name}?`,
      [
        `Token Keeper will talk only to ${preview.hosts.length === 1 ? 'this place' : 'these places'}:`,
        hostList('confirm-hosts', preview.hosts),
        'Add it only if you know these places.',
      ],
      [
        { label: 'Back', value: false },
        { label: 'Add it', value: true, kind: 'primary' },
      ],
      false,
    );
    if (!yes) return null;
  }
  return api.addPreset(form);
}
