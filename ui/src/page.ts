// Navigation between the window's pages, and what a page may ask of the router. Its own module so
// that pages and shared widgets reach the router without importing main.ts (which imports them).

export interface Page {
  /** Whether this page is still the one shown (a late answer must not paint over another page). */
  alive: () => boolean;
  refresh: () => void;
  go: (route: string) => void;
  setStable: (stable: boolean) => void;
}

let rerender: () => void = () => undefined;

/** main.ts hands in its renderer once, at start. */
export function setRenderer(render: () => void): void {
  rerender = render;
}

/** Shows `route` ("" the list, "add", "detail/NAME", …): a new hash, or the same page again. */
export function go(route: string): void {
  const hash = `#/${route}`;
  if (location.hash !== hash) location.hash = hash;
  else rerender();
}

/** Re-renders the page shown. */
export function refresh(): void {
  rerender();
}

/** The route of an integration's page, its name encoded. */
export function routeOf(page: 'detail' | 'token', name: string): string {
  return `${page}/${encodeURIComponent(name)}`;
}
