// The last step of adding an integration, whichever way it was described (a service's form, the
// advanced forms, an administrator's file): sign in in the browser, or give the API token.
import { api, message } from './api';
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
export function tokenStep(root: HTMLElement, page: Page, name: string, step: string, service?: string): void {
  root.replaceChildren(h('p', { class: 'step' }, step));
  renderTokenForm(root, page, name, {
    service,
    onSaved: () => page.go(routeOf('detail', name)),
    onCancel: async () => {
      await api.remove(name, false).catch(() => undefined);
      page.go('');
    },
  });
}
