// The services behind the "Connect a service" door, in the keeper's words: what each is for, and
// for each value its form asks, what it is called there and who or what gives it. The values
// themselves (which exist, which the service needs) come from the engine's field table through
// the `presets` command; this table only words them for one service. A service's own screen
// labels are quoted in “…”.

export interface FieldWords {
  label?: string;
  hint?: string;
  /** The service cannot work without it (the form says "required" and insists). */
  required?: boolean;
  /** The service ignores it: not asked. */
  hidden?: boolean;
}

export interface Service {
  /** The route's id: add/service/<id>. */
  id: string;
  /** The engine's preset. */
  preset: string;
  title: string;
  blurb: string;
  /** "such as “HighQ reporting”" for the name's hint. */
  example: string;
  /** Who sets it up, said above the form. */
  intro: string;
  fields: Record<string, FieldWords>;
}

const SECRET_KEPT = 'It is kept in your keychain, never in a file.';

export const SERVICES: Service[] = [
  {
    id: 'highq',
    preset: 'highq',
    title: 'HighQ Collaborate',
    blurb: 'Sign in once to your HighQ site; reports and syncs keep working.',
    example: 'HighQ reporting',
    intro: 'Your HighQ administrator registers Token Keeper at your HighQ site and gives you the three values below.',
    fields: {
      instance_url: {
        label: 'Your HighQ site',
        hint: 'The address you open HighQ at, with your site’s name, such as https://acme.highq.com/acme. Your HighQ administrator gives you this.',
      },
      client_id: {
        label: 'App ID',
        hint: 'Your HighQ administrator gives you this when they register Token Keeper (HighQ calls it “Client ID”).',
        required: true,
      },
      client_secret: {
        label: 'App secret',
        hint: `Your HighQ administrator gives you this with the app ID (HighQ calls it “Client secret”). ${SECRET_KEPT}`,
        // HighQ's token requests carry it ("API access mechanism using OAuth2")
        required: true,
      },
    },
  },
  {
    id: 'atlassian-token',
    preset: 'atlassian-api-token',
    title: 'Jira or Confluence (API token)',
    blurb: 'Paste an API token you create in your Atlassian account.',
    example: 'Jira sync',
    intro: 'You create the token yourself in your Atlassian account; Token Keeper checks it and reminds you before it ends.',
    fields: {
      site: {
        label: 'Your Atlassian site',
        hint: 'The address you open Jira or Confluence at, such as https://acme.atlassian.net.',
      },
      username: {
        label: 'Your Atlassian e-mail',
        hint: 'The e-mail address you sign in to Atlassian with. Atlassian accepts the token only together with it.',
      },
      // asked with the token itself, on the next page
      expires: { hidden: true },
    },
  },
  {
    id: 'atlassian',
    preset: 'atlassian',
    title: 'Atlassian (sign in with your account)',
    blurb: 'Sign in once with your Atlassian account, through an app your organisation registered.',
    example: 'Jira reports',
    intro: 'Whoever registered the app in Atlassian’s developer console gives you its values.',
    fields: {
      client_id: {
        label: 'App ID',
        hint: 'On the app’s “Settings” page in Atlassian’s developer console (Atlassian calls it “Client ID”).',
      },
      client_secret: {
        label: 'App secret',
        hint: `On the same page, under “Secret”. ${SECRET_KEPT}`,
        required: true,
      },
      scopes: {
        label: 'Permissions',
        hint: 'What the app may do, separated by spaces, exactly as listed on the app’s “Permissions” page, such as read:jira-work read:jira-user.',
        required: true,
      },
    },
  },
  {
    id: 'github',
    preset: 'github',
    title: 'GitHub',
    blurb: 'Sign in once with your GitHub account, through a GitHub App.',
    example: 'GitHub sync',
    intro: 'Whoever created the GitHub App gives you its values (on the app’s page in GitHub’s developer settings).',
    fields: {
      client_id: { label: 'App ID', hint: 'The value GitHub shows as “Client ID” on the app’s page (not the number shown as “App ID”).' },
      client_secret: { label: 'App secret', hint: `Made on the same page with “Generate a new client secret”. ${SECRET_KEPT}`, required: true },
      // a GitHub App's own permissions decide what it may do
      scopes: { hidden: true },
    },
  },
  {
    id: 'google',
    preset: 'google',
    title: 'Google',
    blurb: 'Sign in once with your Google account (Sheets, Drive and other Google services).',
    example: 'Sheets export',
    intro: 'Whoever set up the script registered it in the Google Cloud console and gives you these values.',
    fields: {
      client_id: { label: 'App ID', hint: 'In the Google Cloud console under “APIs & Services” › “Credentials” (Google calls it “Client ID”).' },
      client_secret: { label: 'App secret', hint: `Shown next to it (Google calls it “Client secret”). ${SECRET_KEPT}`, required: true },
      scopes: {
        label: 'Permissions (optional)',
        hint: 'The Google permissions the script needs, separated by spaces, such as https://www.googleapis.com/auth/spreadsheets.readonly. Whoever set up the script knows them.',
      },
    },
  },
  {
    id: 'microsoft',
    preset: 'microsoft',
    title: 'Microsoft 365',
    blurb: 'Sign in once with your work or personal Microsoft account.',
    example: 'SharePoint export',
    intro: 'Whoever registered the app in Microsoft Entra gives you these values (on the app’s “Overview” page).',
    fields: {
      probe_url: {
        label: 'Check address',
        hint: 'An address of the service your script uses that answers only when signed in, so Token Keeper can check the sign-in. Whoever registered the app knows it; leave it empty if you do not.',
      },
      tenant: {
        label: 'Organisation',
        hint: 'Leave “common” for any account, or give your organisation’s domain (acme.com) or the app’s “Directory (tenant) ID”.',
      },
      client_id: { label: 'App ID', hint: 'Microsoft shows it as “Application (client) ID”.' },
      client_secret: { label: 'App secret (optional)', hint: `Only if the app has one, under “Certificates & secrets”. ${SECRET_KEPT}` },
      scopes: {
        label: 'Permissions',
        hint: 'What the script may do, separated by spaces, such as https://graph.microsoft.com/Files.Read. Whoever registered the app knows them.',
        required: true,
      },
    },
  },
];

export function serviceById(id: string): Service | undefined {
  return SERVICES.find((s) => s.id === id);
}
