// Settings: start at login, and the warning lead times (shown; see the report on changing them).
import { api, message } from './api';
import { announce, h } from './dom';
import type { Page } from './main';

export function renderSettings(root: HTMLElement, page: Page): void {
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
      const days = [...s.warningDays].sort((a, b) => b - a);
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
        h(
          'p',
          {},
          days.length
            ? `You are warned ${words(days.map((d) => (d === 1 ? '1 day' : `${d} days`)))} before a sign-in or an API token ends.`
            : 'You are not warned before a sign-in or an API token ends.',
        ),
        h('p', { class: 'hint' }, `These lead times are set in ${s.settingsFile} (warning_days).`),
      );
    })
    .catch((e) => body.replaceChildren(h('p', { class: 'error', role: 'alert' }, message(e))));
}

/** "14 days, 3 days and 1 day". */
function words(items: string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}
