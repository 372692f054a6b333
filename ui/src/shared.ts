// Shared integrations: kept in the team vault, with the other Token Keepers connected there, so
// the whole team uses (and keeps signed in) one integration. The mark every page shows on them,
// and the "Share with my team" choice of the add forms (only while a team vault is connected).
import { api, type IntegrationView } from './api';
import { h } from './dom';

/** What "Shared" means, for someone who has never heard of the team vault. */
export const SHARED_EXPLAINED = 'Kept in the team vault, with the other Token Keepers connected there';

/** Under a shared integration that needs the keeper: whoever fixes it, fixes it for all. */
export const SHARED_FIX =
  'It is shared with your team: signing in here (or entering a new token) fixes it for every Token Keeper connected to the team vault.';

/** The small "Shared" mark after the state (its meaning as the tooltip and for screen readers);
 * null for an integration kept on this computer. */
export function sharedMark(view: Pick<IntegrationView, 'shared'>): HTMLElement | null {
  if (!view.shared) return null;
  return h('span', { class: 'shared-mark', title: `${SHARED_EXPLAINED}.` }, 'Shared', h('span', { class: 'visually-hidden' }, ` (${SHARED_EXPLAINED.charAt(0).toLowerCase()}${SHARED_EXPLAINED.slice(1)})`));
}

/** The "Share with my team" checkbox (off at first), shown only once the app says a team vault
 * is connected: until then (and when it is not) `el` stays hidden and `shared()` is false. */
export function shareChoice(): { el: HTMLElement; shared: () => boolean } {
  const box = h('input', { type: 'checkbox', id: 'share-with-team', name: 'share-with-team', 'aria-describedby': 'share-with-team-hint' });
  const el = h('div', { class: 'field check', id: 'share-choice', hidden: true });
  api
    .sharedStatus()
    .then((status) => {
      if (!status.connected) return;
      el.replaceChildren(
        box,
        h('label', { for: 'share-with-team' }, 'Share with my team (keep it in the team vault)'),
        h(
          'p',
          { class: 'hint', id: 'share-with-team-hint' },
          'Everyone whose Token Keeper is connected to the team vault can use it, and it stays signed in for all of you. Its secrets are then kept in the team vault instead of your keychain.',
        ),
      );
      el.hidden = false;
    })
    .catch(() => undefined); // no answer: offered as if not connected (kept on this computer)
  return { el, shared: () => !el.hidden && box.checked };
}
