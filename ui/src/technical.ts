// The technical sections of the details page: "Technical details" (the service's own reason with
// its codes, the kind of sign-in, token times) and "Use in a script" (the exact commands,
// shell-quoted, with a copy button). The only places in the window where protocol words and
// commands appear; they stay folded until the keeper opens them.
import type { About, IntegrationStatus } from './api';
import { announce, h } from './dom';
import { when } from './format';

/** The sections the keeper opened, by integration: a re-render (the keeper's events repaint the
 * page) keeps them open. */
const opened = new Set<string>();

function section(name: string, id: string, title: string, ...body: Node[]): HTMLElement {
  const key = `${name}\n${id}`;
  const el = h('details', { class: 'technical', id, open: opened.has(key) }, h('summary', {}, title), ...body);
  el.addEventListener('toggle', () => (el.open ? opened.add(key) : opened.delete(key)));
  return el;
}

export function technicalDetails(s: IntegrationStatus): HTMLElement {
  const facts = h('dl', { class: 'facts' });
  const fact = (term: string, value: string | null | undefined) => {
    if (value) facts.append(h('dt', {}, term), h('dd', {}, value));
  };
  fact('Kind', s.kind === 'api-token' ? 'API token' : 'OAuth 2.0 / OpenID Connect');
  fact('Provider profile', s.provider);
  fact('Reason in the service’s terms', s.detail_technical);
  fact('Access token valid until', s.kind === 'oauth' && s.access_expires_at ? when(s.access_expires_at) : null);
  fact('Refresh token ends', s.kind === 'oauth' && s.refresh_expires_at ? when(s.refresh_expires_at) : null);
  return section(s.name, 'technical', 'Technical details', facts);
}

/** The team vault's last problem in its own words (codes, the vault's message), folded. */
export function problemDetails(id: string, technical: string): HTMLElement {
  return section('team vault', id, 'Technical details', h('dl', { class: 'facts' }, h('dt', {}, 'The vault’s own words'), h('dd', {}, technical)));
}

/** "Use in a script": each command with its copy button. */
export function scriptUse(name: string, about: About): HTMLElement {
  return section(
    name,
    'script-use',
    'Use in a script',
    h('p', { class: 'hint' }, 'A script gets a valid token from Token Keeper with this command (it prints the token):'),
    command('script-token', about.token_command),
    h('p', { class: 'hint' }, 'Or it runs a program with the token in the environment variable ACCESS_TOKEN:'),
    command('script-exec', about.exec_command),
  );
}

function command(id: string, text: string): HTMLElement {
  const code = h('code', { id }, text);
  const copy = h('button', { type: 'button', class: 'copy', 'aria-label': `Copy: ${text}`, 'data-copies': id }, 'Copy');
  copy.addEventListener('click', async () => {
    await copyText(text, code);
    copy.textContent = 'Copied';
    announce('Copied.');
    window.setTimeout(() => (copy.textContent = 'Copy'), 2000);
  });
  return h('div', { class: 'command' }, code, copy);
}

async function copyText(text: string, shown: HTMLElement): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // a web view without the asynchronous clipboard: copy the selected text instead
    const range = document.createRange();
    range.selectNodeContents(shown);
    const selection = window.getSelection();
    selection?.removeAllRanges();
    selection?.addRange(range);
    document.execCommand('copy');
    selection?.removeAllRanges();
  }
}
