// The team vault page: whether this Token Keeper is connected to the team vault (where the
// integrations a team shares are kept), for how long its access lasts, and a way to disconnect;
// when it is not connected (or its access ended), the last problem in words and the form to
// connect (again). The token typed here goes to the app once and on to the keychain; it never
// comes back to the window.
import { api, message, type TeamVault } from './api';
import { confirmDialog } from './dialog';
import { announce, h } from './dom';
import type { Page } from './page';
import { fieldBlock } from './service_form';
import { problemDetails } from './technical';
import { pageTitle } from './widgets';

/** Where a team's shared integrations are kept unless whoever looks after the vault says otherwise. */
const USUAL_PLACE = 'tokenkeeper/shared';
const USUAL_AREA = 'secret';

/** How often the page looks again while nothing is typed (an access that ends shows by itself). */
const LOOK_AGAIN_MS = 10_000;

export function renderTeamVault(root: HTMLElement, page: Page): void {
  // keeper events (a shared integration renewed) must not re-render the page under a half-typed
  // form: it looks again by itself while nobody types
  page.setStable(false);
  root.append(
    h('p', {}, h('a', { href: '#/settings' }, '← Settings')),
    pageTitle('Team vault'),
    h(
      'p',
      { class: 'explain' },
      'A team vault keeps the integrations your team shares: every Token Keeper connected to it can use them, and keeps them signed in for all of you.',
    ),
  );
  const body = h('div', { id: 'team-vault' }, h('p', {}, 'Loading…'));
  root.append(body);
  let shown = '';
  const show = (vault: TeamVault, after?: string) => {
    shown = JSON.stringify({ ...vault, accessRemainingSecs: null });
    body.replaceChildren(...(needsConnecting(vault) ? notConnected(vault, page, show) : connected(vault, page, show)));
    body.dataset.state = vault.connected ? (vault.problem ? 'problem' : 'connected') : 'not-connected';
    if (after) announce(after);
  };
  api
    .teamVault()
    .then((vault) => page.alive() && show(vault))
    .catch((e) => page.alive() && body.replaceChildren(h('p', { class: 'error', role: 'alert' }, message(e))));
  const timer = window.setInterval(() => {
    if (!page.alive()) return window.clearInterval(timer);
    const typing = body.querySelector('form')?.contains(document.activeElement) || body.querySelector<HTMLInputElement>('#team-vault-token')?.value;
    if (typing || document.querySelector('dialog[open]')) return;
    api
      .teamVault()
      .then((vault) => {
        if (page.alive() && JSON.stringify({ ...vault, accessRemainingSecs: null }) !== shown) show(vault);
      })
      .catch(() => undefined);
  }, LOOK_AGAIN_MS);
}

/** Not connected, or connected with a problem (its access ended, or it cannot be reached): the
 * form is offered. */
function needsConnecting(vault: TeamVault): boolean {
  return !vault.connected || Boolean(vault.problem);
}

function connected(vault: TeamVault, page: Page, show: (v: TeamVault, after?: string) => void): Node[] {
  return [
    h('p', { class: 'status-line big' }, h('span', { class: 'badge sev-0', id: 'team-vault-badge' }, 'Connected')),
    h('p', { id: 'team-vault-summary' }, `${whereConnected(vault)} ${count(vault.integrations)}`),
    h('p', { id: 'team-vault-access' }, access(vault)),
    h('div', { class: 'actions' }, disconnectButton(page, show)),
  ];
}

function notConnected(vault: TeamVault, page: Page, show: (v: TeamVault, after?: string) => void): Node[] {
  const out: Node[] = [];
  if (vault.connected) {
    out.push(
      h('p', { class: 'status-line big' }, h('span', { class: 'badge sev-2', id: 'team-vault-badge' }, 'Not working right now')),
      h('p', { id: 'team-vault-summary' }, `This Token Keeper uses the team vault at ${vault.address ?? 'the address given'}${vault.place ? ` (${vault.place})` : ''}. ${count(vault.integrations)}`),
    );
  } else if (vault.configured) {
    out.push(
      h('p', { class: 'status-line big' }, h('span', { class: 'badge sev-2', id: 'team-vault-badge' }, 'Not connected')),
      h('p', { id: 'team-vault-summary' }, `Not connected to the team vault at ${vault.address ?? 'the address given'}${vault.place ? ` (${vault.place})` : ''} right now.`),
    );
  } else {
    out.push(
      h('p', { class: 'status-line big' }, h('span', { class: 'badge state-paused', id: 'team-vault-badge' }, 'Not connected')),
      h('p', { id: 'team-vault-summary' }, 'This Token Keeper is not connected to a team vault. Whoever looks after your team vault gives you its address and a token to connect with.'),
    );
  }
  if (vault.problem) {
    out.push(h('p', { class: 'error', id: 'team-vault-problem' }, vault.problem));
    if (vault.problemTechnical) out.push(problemDetails('team-vault-technical', vault.problemTechnical));
  }
  out.push(h('h2', {}, vault.configured ? 'Connect again' : 'Connect'), connectForm(vault, show));
  if (vault.configured) {
    out.push(
      h('p', { class: 'hint' }, 'Or stop using the team vault on this computer:'),
      h('div', { class: 'actions' }, disconnectButton(page, show)),
    );
  }
  return out;
}

/** "Connected to the team vault at https://vault.example.com (tokenkeeper/shared)." */
function whereConnected(vault: TeamVault): string {
  return `Connected to the team vault at ${vault.address ?? 'its address'}${vault.place ? ` (${vault.place})` : ''}.`;
}

function count(n: number): string {
  if (n === 0) return 'No shared integrations there yet.';
  return n === 1 ? '1 shared integration.' : `${n} shared integrations.`;
}

/** How long this Token Keeper's access to the vault lasts, in words. */
function access(vault: TeamVault): string {
  const left = vault.accessRemainingSecs;
  if (left === null || left === undefined) return 'Its access does not end.';
  if (vault.accessRenewed) return `Its access lasts ${duration(left)} and is renewed automatically.`;
  return `Its access ends in ${duration(left)}: connect again before then, with a new token from whoever looks after the team vault.`;
}

/** "45 seconds", "20 minutes", "8 hours", "30 days" (the command line's steps, rounded: a token
 * given for 8 hours says 8 hours a second later). */
function duration(secs: number): string {
  if (secs < 120) return `${secs} seconds`;
  if (secs < 7200) return `${Math.round(secs / 60)} minutes`;
  if (secs < 172_800) return `${Math.round(secs / 3600)} hours`;
  return `${Math.round(secs / 86_400)} days`;
}

function disconnectButton(page: Page, show: (v: TeamVault, after?: string) => void): HTMLElement {
  const button = h('button', { type: 'button', class: 'danger', id: 'team-vault-disconnect' }, 'Disconnect…');
  button.addEventListener('click', async () => {
    const sure = await confirmDialog(
      'Disconnect from the team vault?',
      [
        'This computer stops using the shared integrations: scripts here no longer get them from Token Keeper.',
        'The shared integrations stay in the team vault for the others connected there. You can connect again at any time.',
      ],
      'Disconnect',
    );
    if (!sure) return;
    button.disabled = true;
    try {
      const vault = await api.teamVaultDisconnect();
      if (page.alive()) show(vault, 'Disconnected from the team vault.');
      document.getElementById('page-title')?.focus();
    } catch (e) {
      button.disabled = false;
      const error = document.getElementById('team-vault-error') ?? button.parentElement?.appendChild(h('p', { class: 'error', role: 'alert', id: 'team-vault-error' }));
      if (error) error.textContent = message(e);
    }
  });
  return button;
}

function connectForm(vault: TeamVault, show: (v: TeamVault, after?: string) => void): HTMLElement {
  const address = h('input', { type: 'url', autocomplete: 'off', spellcheck: 'false', placeholder: 'https://vault.example.com:8200' });
  address.value = vault.address ?? '';
  const place = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false' });
  place.value = vault.path ?? USUAL_PLACE;
  const area = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false' });
  area.value = vault.mount ?? USUAL_AREA;
  const token = h('input', { type: 'password', autocomplete: 'off', spellcheck: 'false' });
  const error = h('p', { class: 'error', role: 'alert', id: 'team-vault-error' });
  const connect = h('button', { type: 'submit', class: 'primary', id: 'team-vault-connect' }, 'Connect');
  const more = h(
    'details',
    { class: 'addresses', id: 'team-vault-more', open: area.value !== USUAL_AREA },
    h('summary', {}, 'More options'),
    fieldBlock('team-vault-area', { label: 'Storage area', hint: `The storage area of the vault that holds the place above. Leave “${USUAL_AREA}” unless you were given another.`, required: false }, area),
  );
  const form = h(
    'form',
    { class: 'form', novalidate: true, id: 'team-vault-form' },
    fieldBlock('team-vault-address', { label: 'Address of the team vault', hint: 'The web address whoever looks after the team vault gave you. It starts with https://.', required: true }, address),
    fieldBlock('team-vault-place', { label: 'Place in the vault', hint: `Where your team’s shared integrations are kept. Leave “${USUAL_PLACE}” unless you were given another.`, required: false }, place),
    more,
    fieldBlock('team-vault-token', { label: 'Team vault token', hint: 'The token whoever looks after the team vault gave you for this computer. Token Keeper keeps it in your keychain and never shows it again.', required: true }, token),
    error,
    h('div', { class: 'actions' }, connect),
  );
  for (const input of [address, token]) input.setAttribute('aria-describedby', `${input.id}-hint team-vault-error`);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    for (const input of [address, token]) input.removeAttribute('aria-invalid');
    const empty = !address.value.trim() ? address : !token.value.trim() ? token : null;
    if (empty) {
      error.textContent = empty === address ? 'Please fill in the address of the team vault.' : 'Please paste the team vault token first.';
      empty.setAttribute('aria-invalid', 'true');
      empty.focus();
      return;
    }
    connect.disabled = true;
    connect.textContent = 'Connecting…';
    try {
      const connected = await api.teamVaultConnect({ address: address.value, path: place.value, mount: area.value, token: token.value });
      token.value = '';
      show(connected, 'Connected to the team vault.');
      document.getElementById('page-title')?.focus();
      return;
    } catch (e) {
      error.textContent = message(e);
      token.focus();
    }
    connect.disabled = false;
    connect.textContent = 'Connect';
  });
  return form;
}
