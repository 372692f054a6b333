// The way in: the welcome page (first run) or "Add integration", with three doors — an
// administrator's file, a known service, another service (advanced) — and the list of services
// behind the second door.
import { api, message, type Preset } from './api';
import { h } from './dom';
import { renderAdvanced } from './advanced';
import { renderProfileChooser } from './profile';
import { renderServiceForm, formFields } from './service_form';
import { SERVICES, serviceById } from './services';
import type { Page } from './page';
import { door, pageTitle } from './widgets';

/** `sub` is what follows "add/": "", "file", "service", "service/<id>", "advanced…". */
export function renderAdd(root: HTMLElement, page: Page, sub: string, first: boolean): void {
  page.setStable(false);
  const [door, rest] = [sub.split('/')[0], sub.split('/').slice(1).join('/')];
  if (door === 'file') renderProfileChooser(root, page);
  else if (door === 'service' && rest) renderService(root, page, rest);
  else if (door === 'service') renderServices(root);
  else if (door === 'advanced') renderAdvanced(root, page, rest);
  else renderDoors(root, first);
}

function renderDoors(root: HTMLElement, first: boolean): void {
  root.append(
    pageTitle(first ? 'Welcome to Token Keeper' : 'Add an integration'),
    h(
      'p',
      { class: 'lead' },
      first
        ? 'Token Keeper keeps the sign-ins of your reports and scripts working, and tells you in time when you need to do something. How do you want to start?'
        : 'How do you want to add it?',
    ),
    h(
      'ul',
      { class: 'doors', 'aria-label': 'Ways to add an integration' },
      door('door-file', '#/add/file', 'I have a file from my administrator', 'Open the file (or drop it on this window): it describes the service for you, and you only sign in.'),
      door('door-service', '#/add/service', 'Connect a service', 'HighQ, Jira or Confluence, Atlassian, GitHub, Google or Microsoft 365.'),
      door('door-advanced', '#/add/advanced', 'Other service (advanced)', 'Any other service, if you know its technical details.'),
    ),
  );
}

function renderServices(root: HTMLElement): void {
  root.append(
    h('p', { class: 'step' }, 'Step 1 of 3 · Choose the service'),
    pageTitle('Connect a service'),
    h(
      'ul',
      { class: 'doors services', 'aria-label': 'Services' },
      ...SERVICES.map((s) => door(`service-${s.id}`, `#/add/service/${s.id}`, s.title, s.blurb)),
    ),
    h('p', {}, h('a', { href: '#/add' }, '← Other ways to add an integration')),
  );
}

function renderService(root: HTMLElement, page: Page, id: string): void {
  const service = serviceById(id);
  const error = h('p', { class: 'error', role: 'alert', id: 'wizard-error' });
  if (!service) {
    root.append(pageTitle('Connect a service'), h('p', { class: 'error' }, 'Token Keeper does not know this service.'));
    return;
  }
  root.append(pageTitle(service.title), error);
  api
    .presets()
    .then((presets: Preset[]) => {
      if (!page.alive()) return;
      const preset = presets.find((p) => p.id === service.preset);
      if (!preset) {
        error.textContent = `Token Keeper has no settings for ${service.title}.`;
        return;
      }
      renderServiceForm(root, page, {
        preset,
        fields: formFields(preset, service.fields),
        title: service.title,
        intro: service.intro,
        example: service.example,
        service: preset.name,
        back: () => page.go('add/service'),
      });
    })
    .catch((e) => (error.textContent = message(e)));
}
