// Settings: start at login, the warning lead times (edited here; the keeper checks them, saves
// settings.toml and applies them at once), and the way to the team vault page.
import { api, message, type Settings } from './api';
import { announce, h } from './dom';
import type { Page } from './page';

export function renderSettings(root: HTMLElement, page: Page): void {
  // Nothing here follows integrations, and keeper events (a change re-commits every one of
  // them) must not re-render the page under a half-typed value or wipe the confirmation.
  page.setStable(false);
  root.append(h('h1', { id: 'page-title', tabindex: '-1' }, 'Settings'));
  const body = h('div', {}, h('p', {}, 'Loading…'));
  root.append(body);
  api
    .settings()
    .then((s) => {
      if (!page.alive()) return;
      const box = h('input', { type: 'checkbox', id: 'start-at-login', checked: s.startAtLogin });
      const error = h('p', { class: 'error', role: 'alert' });
      box.addEventListener('change', async () => {
        error.textContent = '';
        try {
          box.checked = await api.setAutostart(box.checked);
          announce(box.checked ? 'Token Keeper starts when you log in.' : 'Token Keeper no longer starts when you log in.');
        } catch (e) {
          box.checked = !box.checked;
          error.textContent = message(e);
        }
      });
      body.replaceChildren(
        h(
          'div',
          { class: 'field check' },
          box,
          h('label', { for: 'start-at-login' }, 'Start Token Keeper when I log in'),
          h('p', { class: 'hint' }, 'Recommended: integrations are only renewed while Token Keeper runs.'),
        ),
        error,
        h('h2', {}, 'Warnings'),
        warningsForm(s),
        h('h2', {}, 'Team vault'),
        teamVaultLink(),
      );
    })
    .catch((e) => body.replaceChildren(h('p', { class: 'error', role: 'alert' }, message(e))));
}

/** Whether a team vault is connected, and the way to its page. */
function teamVaultLink(): HTMLElement {
  const said = h('p', { id: 'settings-team-vault-status' }, 'A team vault keeps the integrations your team shares.');
  api
    .sharedStatus()
    .then((status) => {
      if (status.connected) said.textContent = 'Connected: integrations can be shared with your team.';
    })
    .catch(() => undefined);
  return h('div', {}, said, h('p', {}, h('a', { class: 'button', href: '#/team-vault', id: 'settings-team-vault' }, 'Team vault…')));
}

/** The lead times form: "14, 3, 1", checked and saved by the keeper, applied at once. */
function warningsForm(s: Settings): HTMLElement {
  const summary = h('p', { id: 'warning-summary' }, summaryText(s.warningDays));
  const input = h('input', {
    type: 'text',
    id: 'warning-days',
    name: 'warning-days',
    value: s.warningDays.join(', '),
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-describedby': 'warning-days-hint warning-days-error',
  });
  const error = h('p', { class: 'error', role: 'alert', id: 'warning-days-error' });
  const status = h('p', { class: 'found', role: 'status', id: 'warning-days-status' });
  const save = h('button', { type: 'submit', class: 'primary', id: 'warning-days-save' }, 'Save');
  const form = h(
    'form',
    { class: 'form', novalidate: true },
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'warning-days' }, 'Warn me this many days before a sign-in or an API token ends'),
      h('div', { class: 'inline' }, input, save),
      h(
        'p',
        { class: 'hint', id: 'warning-days-hint' },
        'Up to 5 different numbers of days, each from 1 to 365, separated by commas.',
      ),
      error,
      status,
    ),
  );
  input.addEventListener('input', () => {
    status.textContent = '';
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    status.textContent = '';
    input.removeAttribute('aria-invalid');
    save.disabled = true;
    try {
      const saved = await api.setWarningDays(input.value);
      input.value = saved.warningDays.join(', ');
      summary.textContent = summaryText(saved.warningDays);
      status.textContent = 'Saved. The new warnings apply now.';
    } catch (e) {
      error.textContent = message(e);
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    }
    save.disabled = false;
  });
  return h('div', {}, summary, form);
}

function summaryText(warningDays: number[]): string {
  const days = [...warningDays].sort((a, b) => b - a);
  return days.length
    ? `You are warned ${words(days.map((d) => (d === 1 ? '1 day' : `${d} days`)))} before a sign-in or an API token ends.`
    : 'You are not warned before a sign-in or an API token ends.';
}

/** "14 days, 3 days and 1 day". */
function words(items: string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}
