// A tiny DOM helper instead of a framework: h('button', { onclick }, 'Refresh now').
// Text is always set as text (never innerHTML), so names and engine messages cannot inject markup.

type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | ((ev: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') {
      el.addEventListener(key.replace(/^on/, ''), value as EventListener);
    } else if (value === true) {
      el.setAttribute(key, '');
    } else {
      el.setAttribute(key, String(value));
    }
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return el;
}

let announcer: HTMLElement | null = null;

/** Says `text` to screen readers (and shows nothing). */
export function announce(text: string): void {
  announcer ??= document.getElementById('announce');
  if (announcer) {
    announcer.textContent = '';
    window.setTimeout(() => announcer && (announcer.textContent = text), 50);
  }
}
