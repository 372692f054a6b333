// In-window dialogs, instead of window.alert/confirm (which show the tauri:// address as their
// title, and do nothing in macOS's web view). A modal <dialog>: the browser keeps focus inside it
// and closes it on Escape; this module moves focus into it (the safe choice first), back to where
// it was when it closes (the same button after a repaint), and removes it from the page.
import { h } from './dom';

export interface DialogButton<T> {
  label: string;
  value: T;
  kind?: 'primary' | 'danger';
}

let opened = 0;

/** Shows a dialog; resolves with the chosen button's value, or `dismissed` on Escape. */
export function showDialog<T>(title: string, body: (Node | string)[], buttons: DialogButton<T>[], dismissed: T): Promise<T> {
  opened += 1;
  const id = `dialog-${opened}`;
  const returnTo = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': `${id}-title`, 'aria-describedby': `${id}-body`, id });
  const actions = h('div', { class: 'actions' });
  dialog.append(
    h('h2', { id: `${id}-title` }, title),
    h('div', { id: `${id}-body`, class: 'dialog-body' }, ...body.map((b) => (typeof b === 'string' ? h('p', {}, b) : b))),
    actions,
  );
  return new Promise<T>((resolve) => {
    let result = dismissed;
    for (const button of buttons) {
      actions.append(
        h(
          'button',
          {
            type: 'button',
            class: button.kind ?? null,
            onclick: () => {
              result = button.value;
              dialog.close();
            },
          },
          button.label,
        ),
      );
    }
    dialog.addEventListener('close', () => {
      dialog.remove();
      // a keeper event may have repainted the page meanwhile: then the same button, by its id
      const back = returnTo?.isConnected ? returnTo : returnTo?.id ? document.getElementById(returnTo.id) : null;
      (back ?? document.getElementById('page-title'))?.focus();
      resolve(result);
    });
    document.body.append(dialog);
    dialog.showModal();
    // the first button that does no harm: a dangerous choice is never the one Enter presses
    const safe = [...actions.querySelectorAll('button')].find((b) => !b.classList.contains('danger'));
    (safe ?? actions.querySelector('button'))?.focus();
  });
}

/** A question with a dangerous yes: "Remove…" → true only when the keeper confirms. */
export function confirmDialog(title: string, body: (Node | string)[], yes: string, no = 'Cancel'): Promise<boolean> {
  return showDialog(title, body, [
    { label: no, value: false },
    { label: yes, value: true, kind: 'danger' },
  ], false);
}

/** Something went wrong where the keeper acted: the reason, and OK. */
export function messageDialog(title: string, text: string): Promise<void> {
  return showDialog(title, [text], [{ label: 'OK', value: undefined, kind: 'primary' }], undefined);
}
