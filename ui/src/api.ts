// The window's only way to the app: typed wrappers around the Tauri commands that
// capabilities/main-window.json grants. What comes back are names, states, times and history:
// never a token. Secrets go one way only (client secret, API token typed by the keeper).
import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';

export type State =
  | 'working'
  | 'refreshing'
  | 'retrying'
  | 'expiring-soon'
  | 'needs-sign-in'
  | 'offline'
  | 'paused'
  | 'unreadable';

export type NextAction =
  | { action: 'renew'; at: number }
  | { action: 'check'; at: number }
  | { action: 'retry'; at: number }
  | { action: 'wait-for-keeper' };

/** What the keeper should do about it (the engine's `Todo`). */
export type Todo =
  | 'sign-in'
  | 'sign-in-again'
  | 'sign-in-again-soon'
  | 'enter-new-token'
  | 'enter-new-token-soon'
  | 'enter-token'
  | 'ask-administrator'
  | 'check-network'
  | 'unlock-keychain'
  | 'wait';

export interface IntegrationView {
  name: string;
  provider: string;
  kind: 'oauth' | 'api-token';
  /** The service as keepers know it (engines before the phrase table leave it out). */
  service?: string;
  state: State;
  /** The state in the engine's words ("Not signed in yet"). */
  state_label?: string;
  severity?: 'fine' | 'attention' | 'broken';
  todo?: Todo | null;
  /** "renews", "checks again", "retries"; null when it waits for the keeper. */
  next_verb?: string | null;
  detail?: string | null;
  /** The reason in the service's own terms (codes), for "Technical details" only. */
  detail_technical?: string | null;
  access_expires_at: number | null;
  refresh_expires_at: number | null;
  next: NextAction;
  signin_pending: boolean;
  /** Kept in the team vault, with the other Token Keepers connected there (engines before
   * shared integrations leave it out). */
  shared?: boolean;
}

export type HistoryEntry = { at: number } & (
  | { event: 'added' }
  | { event: 'signed-in' }
  | { event: 'sign-in-failed'; reason: string }
  | { event: 'refreshed'; expires_at: number | null }
  | { event: 'refresh-failed'; reason: string; transient: boolean }
  | { event: 'checked'; accepted: boolean; reason: string | null }
  | { event: 'state-changed'; from: State; to: State }
  | { event: 'notified'; summary: string }
  | { event: 'keychain-write-failed'; reason: string }
  | { event: 'vault-write-failed'; reason: string }
  | { event: 'signed-in-elsewhere' }
  | { event: 'paused'; paused: boolean }
  | { event: 'sites-not-listed'; reason: string }
);

/** `history_text`: each entry in the engine's words, in the same order. */
export type IntegrationStatus = IntegrationView & { history: HistoryEntry[]; history_text?: string[] };

export interface Endpoints {
  issuer: string;
  authorizeUrl: string;
  tokenUrl: string;
  revocationUrl: string | null;
  probeUrl: string | null;
}

/** One input of a preset's form: `key` is the profile file's key (instance_url, client_id, …). */
export interface PresetInput {
  key: string;
  label: string;
  hint: string;
  input: 'url' | 'text' | 'email' | 'password' | 'date' | 'number' | 'checkbox';
  required: boolean;
  default: string | null;
}

/** A provider preset, from the engine's profiles. */
export interface Preset {
  id: string;
  name: string;
  kind: 'oauth' | 'api-token';
  needsAddresses: boolean;
  registerUrl: string | null;
  inputs: PresetInput[];
}

export interface PresetForm {
  provider: string;
  name: string;
  /** By the inputs' keys. */
  values: Record<string, string>;
  clientSecret?: string;
  /** "Share with my team": kept in the team vault (offered only while connected to one). */
  shared?: boolean;
}

/** Whether this Token Keeper is connected to a team vault now (then the add forms offer to
 * share what is added). */
export interface SharedStatus {
  connected: boolean;
}

/** The team vault page: this Token Keeper's connection (nothing secret). */
export interface TeamVault {
  /** A connection was made and not undone. */
  configured: boolean;
  /** Shared integrations are kept now. */
  connected: boolean;
  address: string | null;
  /** The team's place in the vault, as typed ("tokenkeeper/shared"). */
  path: string | null;
  /** The storage area that holds it ("secret"). */
  mount: string | null;
  /** The place as shown. */
  place: string | null;
  integrations: number;
  /** Seconds left of this Token Keeper's access; null when it does not end. */
  accessRemainingSecs: number | null;
  accessRenewed: boolean;
  /** The last problem in plain words; its technical words apart. */
  problem: string | null;
  problemTechnical: string | null;
}

/** The team vault page's form (the token goes to the keychain, never back). */
export interface TeamVaultForm {
  address: string;
  path: string;
  mount: string;
  token: string;
}

export interface Imported {
  view: IntegrationView;
  hadClientSecret: boolean;
}

/** One host an integration talks to, and what it gets (the engine's words). */
export interface SecretHost {
  host: string;
  receivesSecret: boolean;
  /** On another site than the sign-in page. */
  otherSite: boolean;
  /** "login.example.com: you sign in there …; receives …". */
  sentence: string;
}

/** What a form would add: its hosts, and whether the keeper must confirm them first. */
export interface PresetPreview {
  name: string;
  needsConfirmation: boolean;
  hosts: SecretHost[];
}

/** An administrator's profile file, read and waiting for the keeper's confirmation. */
export interface ProfilePreview {
  id: number;
  fileName: string;
  /** The name the file suggests. */
  name: string;
  service: string;
  kind: 'oauth' | 'api-token';
  /** Where the browser goes to sign in (a host). */
  signInHost: string | null;
  /** Every host it will talk to, the sign-in page's first, with what each receives. */
  hosts: SecretHost[];
  /** An integration of that name exists: the keeper chooses another. */
  nameTaken: boolean;
  hasClientSecret: boolean;
}

/** What an integration is, and the commands a script uses it with. */
export interface About {
  service: string;
  site: string | null;
  account: string | null;
  token_command: string;
  exec_command: string;
}

export interface Settings {
  startAtLogin: boolean;
  warningDays: number[];
  settingsFile: string;
  /** How Token Keeper writes dates (from the locale): "December 7, 2026" or "7 December 2026". */
  dateStyle?: 'united-states' | 'day-first';
  /** The keeper's time zone, when it has a name. */
  timeZone?: string | null;
}

/** A device sign-in's code and where to type it (sign-in with a code). */
export interface DeviceCode {
  name: string;
  userCode: string;
  url: string;
  expiresInSecs: number;
}

export type KeeperEvent =
  | { event: 'changed'; view: IntegrationView }
  | { event: 'removed'; name: string }
  | { event: 'notified'; notice: { summary: string; body: string } };

/** A command's failure, in the engine's plain words. */
export function message(e: unknown): string {
  const text = e && typeof e === 'object' && 'message' in e ? String((e as { message: unknown }).message) : String(e);
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export const api = {
  list: () => invoke<IntegrationView[]>('list'),
  status: (name: string) => invoke<IntegrationStatus>('status', { name }),
  refresh: (name: string) => invoke<IntegrationView>('refresh', { name }),
  pause: (name: string, paused: boolean) => invoke<IntegrationView>('pause', { name, paused }),
  remove: (name: string, revoke: boolean) => invoke<void>('remove', { name, revoke }),
  signIn: (name: string) => invoke<IntegrationView>('sign_in', { name }),
  /** Sign-in with a code typed on another device; the code arrives through `onDeviceCode`. */
  signInWithCode: (name: string) => invoke<IntegrationView>('sign_in_with_code', { name }),
  onDeviceCode: (f: (c: DeviceCode) => void): Promise<UnlistenFn> => listen<DeviceCode>('device-code', (e) => f(e.payload)),
  discover: (issuer: string) => invoke<Endpoints>('discover', { issuer }),
  presets: () => invoke<Preset[]>('presets'),
  /** Opens the preset's own page for registering an app in the system browser. */
  openRegisterPage: (provider: string) => invoke<void>('open_register_page', { provider }),
  addPreset: (form: PresetForm) => invoke<IntegrationView>('add_preset', { form }),
  /** Checks a form as `addPreset` would and says every host it will talk to; adds nothing. */
  previewPreset: (form: PresetForm) => invoke<PresetPreview>('preview_preset', { form }),
  /** A profile file's text, read and kept waiting (its client secret stays in the app). */
  readProfile: (fileName: string, text: string) => invoke<ProfilePreview>('read_profile', { fileName, text }),
  /** The profile file a launch brought (double-click), once; null when there is none. */
  openedProfile: () => invoke<ProfilePreview | null>('opened_profile'),
  /** Whether a team vault is connected now (the add forms offer "Share with my team" then). */
  sharedStatus: () => invoke<SharedStatus>('shared_status'),
  /** The team vault page: connected or not, where, for how long, the last problem. */
  teamVault: () => invoke<TeamVault>('team_vault'),
  /** Connects to a team vault; the engine's plain sentence when it cannot. */
  teamVaultConnect: (form: TeamVaultForm) => invoke<TeamVault>('team_vault_connect', { form }),
  /** Disconnects this Token Keeper; the shared integrations stay in the vault for the others. */
  teamVaultDisconnect: () => invoke<TeamVault>('team_vault_disconnect'),
  /** Adds the waiting file's integration as `name`; its client secret goes to the keychain, or
   * with `shared` to the team vault. */
  addProfile: (id: number, name: string, shared = false) => invoke<Imported>('add_profile', { id, name, shared }),
  forgetProfile: (id: number) => invoke<void>('forget_profile', { id }),
  /** `expires` is a date (2027-03-31) or null when the keeper does not know it. */
  saveApiToken: (name: string, token: string, expires: string | null) =>
    invoke<IntegrationView>('save_api_token', { name, token, expires }),
  about: (name: string) => invoke<About>('about', { name }),
  signInWays: (name: string) => invoke<{ withCode: boolean }>('sign_in_ways', { name }),
  settings: () => invoke<Settings>('settings'),
  /** `text` as typed ("14, 3, 1"); the keeper checks, saves and applies it. */
  setWarningDays: (text: string) => invoke<Settings>('set_warning_days', { text }),
  setAutostart: (enabled: boolean) => invoke<boolean>('set_autostart', { enabled }),
  onKeeperEvent: (f: (e: KeeperEvent) => void): Promise<UnlistenFn> =>
    listen<KeeperEvent>('keeper-event', (e) => f(e.payload)),
  onNavigate: (f: (route: string) => void): Promise<UnlistenFn> => listen<string>('navigate', (e) => f(e.payload)),
};
