// An administrator's profile file: chosen on the "I have a file" page, dropped anywhere on the
// window, or brought by a launch (double-clicking the file). Nothing is added until the keeper
// has seen, in plain words, where the sign-in happens and every place the sign-in is sent to, has
// given another name if the file's is taken, and has confirmed.
import { api, message, type ProfilePreview } from './api';
import { announce, h } from './dom';
import { hostList, signInStep, stepTitle, tokenStep } from './flow';
import { go, type Page } from './page';
import { shareChoice } from './shared';
import { pageTitle } from './widgets';

/** The largest file read here; a profile file is a few lines (the app checks it too). */
const MAX_BYTES = 64 * 1024;

/** A file read by the page (chosen or dropped) waits here for the confirm page to show it. */
let arrived: { preview: ProfilePreview | null; error: string | null } | null = null;

async function readFile(file: File): Promise<void> {
  if (file.size > MAX_BYTES) {
    arrived = { preview: null, error: `The file ${file.name} is larger than 64 KiB; a profile file is a few lines. Check that it is the right file.` };
  } else {
    try {
      arrived = { preview: await api.readProfile(file.name, await file.text()), error: null };
    } catch (e) {
      arrived = { preview: null, error: message(e) };
    }
  }
  go('add/confirm-file');
}

/** Files dropped anywhere on the window open as profile files. */
export function acceptDrops(): void {
  document.addEventListener('dragover', (ev) => {
    if (ev.dataTransfer?.types.includes('Files')) {
      ev.preventDefault();
      ev.dataTransfer.dropEffect = 'copy';
      document.body.classList.add('dropping');
    }
  });
  document.addEventListener('dragleave', (ev) => {
    if (ev.relatedTarget === null) document.body.classList.remove('dropping');
  });
  document.addEventListener('drop', (ev) => {
    document.body.classList.remove('dropping');
    const file = ev.dataTransfer?.files?.[0];
    if (!file) return;
    ev.preventDefault();
    announce(`Reading ${file.name}…`);
    void readFile(file);
  });
}

/** "I have a file from my administrator": choose it (or drop it). */
export function renderProfileChooser(root: HTMLElement, _page: Page): void {
  const input = h('input', { type: 'file', id: 'profile-file', class: 'visually-hidden', accept: '.toml,.tokenkeeper,.txt,text/plain' });
  const choose = h('button', { type: 'button', class: 'primary', id: 'profile-choose', onclick: () => input.click() }, 'Choose the file…');
  input.addEventListener('change', () => {
    const file = input.files?.[0];
    if (file) void readFile(file);
  });
  root.append(
    h('p', { class: 'step' }, 'Step 1 of 3 · The file'),
    pageTitle('Open the file from your administrator'),
    h('p', {}, 'Your administrator may have sent you a small file that describes the service (it usually ends in .toml). Token Keeper reads it, shows you what it sets up and asks before adding anything.'),
    h('div', { class: 'dropzone', id: 'dropzone' }, h('p', {}, 'Drop the file here, or'), h('div', { class: 'actions' }, choose), input),
    h('p', {}, h('a', { href: '#/add' }, '← Other ways to add an integration')),
  );
}

/** The confirm page for the file the page read. */
export function renderConfirmRead(root: HTMLElement, page: Page): void {
  // the keeper's events (the integration just added) must not repaint the steps away
  page.setStable(false);
  const got = arrived;
  if (!got) {
    page.go('add/file');
    return;
  }
  if (got.preview) confirmPage(root, page, got.preview);
  else failedPage(root, got.error ?? '');
}

/** At start: a file a launch brought before the window could hear of it is shown now. */
export async function showOpenedAtStart(): Promise<void> {
  const preview = await api.openedProfile().catch((e) => {
    arrived = { preview: null, error: message(e) };
    return null;
  });
  if (preview) arrived = { preview, error: null };
  if (arrived) go('add/confirm-file');
}

/** The confirm page for the file a launch brought. */
export function renderConfirmOpened(root: HTMLElement, page: Page): void {
  page.setStable(false);
  root.append(pageTitle('Opening the file…'));
  api
    .openedProfile()
    .then((preview) => {
      if (!page.alive()) return;
      if (preview) arrived = { preview, error: null };
      root.replaceChildren();
      renderConfirmRead(root, page);
    })
    .catch((e) => {
      if (!page.alive()) return;
      arrived = { preview: null, error: message(e) };
      root.replaceChildren();
      renderConfirmRead(root, page);
    });
}

function failedPage(root: HTMLElement, error: string): void {
  root.append(
    pageTitle('This file cannot be used'),
    h('p', { class: 'error', role: 'alert', id: 'import-error' }, error),
    h('p', {}, 'Nothing was added. Ask your administrator for a new file, or choose another one.'),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'primary', onclick: () => go('add/file') }, 'Choose another file')),
  );
  (root.querySelector('h1') as HTMLElement).focus();
}

function confirmPage(root: HTMLElement, page: Page, p: ProfilePreview): void {
  stepTitle(root, 'Check what the file sets up', `Step 2 of 3 · ${p.fileName}`);
  const places = hostList('profile-hosts', p.hosts);
  const name = h('input', { type: 'text', id: 'profile-name', value: p.name, autocomplete: 'off', spellcheck: 'false', maxlength: '64', 'aria-describedby': 'profile-name-hint profile-error' });
  const share = shareChoice();
  const error = h('p', { class: 'error', role: 'alert', id: 'profile-error' });
  const add = h('button', { type: 'submit', class: 'primary', id: 'profile-add' }, p.kind === 'oauth' ? 'Add and sign in' : 'Add it');
  const cancel = h('button', { type: 'button', id: 'profile-cancel' }, 'Cancel');
  cancel.addEventListener('click', () => {
    void api.forgetProfile(p.id).catch(() => undefined);
    arrived = null;
    page.go('add');
  });
  const form = h(
    'form',
    { class: 'form', novalidate: true, id: 'profile-confirm' },
    h(
      'div',
      { class: 'facts-box', id: 'profile-facts' },
      p.kind === 'oauth' && p.signInHost
        ? h('p', { id: 'profile-sign-in' }, `It connects ${p.service}. You will sign in at `, h('strong', {}, p.signInHost), ', in your browser.')
        : h('p', { id: 'profile-sign-in' }, `It connects ${p.service}. You will paste a token you create there.`),
      h('p', {}, `Token Keeper will talk only to ${p.hosts.length === 1 ? 'this place' : 'these places'}:`),
      places,
      h('p', { class: 'hint' }, 'Add it only if you expected a file from your administrator and you know these places. If in doubt, ask them first.'),
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'profile-name' }, 'Name'),
      h('p', { class: 'hint', id: 'profile-name-hint' }, p.nameTaken ? `You already have an integration called “${p.name}”: choose another name for this one.` : 'The name you and your scripts will use for it.'),
      name,
    ),
    share.el,
    error,
    h('div', { class: 'actions' }, add, cancel),
  );
  if (p.nameTaken) {
    name.setAttribute('aria-invalid', 'true');
    name.value = '';
  }
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    if (!name.value.trim()) {
      error.textContent = 'Please give it a name.';
      name.focus();
      return;
    }
    add.disabled = true;
    try {
      const shared = share.shared();
      const done = await api.addProfile(p.id, name.value, shared);
      arrived = null;
      const after = p.hasClientSecret
        ? `Its secret is now in ${shared ? 'the team vault' : 'your keychain'}: you can delete ${p.fileName}.`
        : `Token Keeper has what it needs: you can delete ${p.fileName}.`;
      announce(`Added ${done.view.name}. ${after}`);
      const step = 'Step 3 of 3 · Sign in';
      if (done.view.kind === 'oauth') signInStep(root, page, done.view.name, step);
      else tokenStep(root, page, done.view.name, 'Step 3 of 3 · The token', p.service, done.view.shared);
      root.insertBefore(h('p', { class: 'done', role: 'status', id: 'import-done' }, `Added ${done.view.name} from ${p.fileName}. ${after}`), root.children[2] ?? null);
    } catch (e) {
      error.textContent = message(e);
      name.setAttribute('aria-invalid', 'true');
      name.focus();
      add.disabled = false;
    }
  });
  root.append(form);
  (p.nameTaken ? name : (root.querySelector('h1') as HTMLElement)).focus();
}
