import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Client, Events, GatewayIntentBits } from 'discord.js';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';

/**
 * A fake Discord on 127.0.0.1 for driving the REAL discord.js client (and the
 * bot built on it) in tests: REST and the gateway WebSocket on one port.
 *
 *   const fake = await startFakeDiscord();              // a guild with roles Admins, Homelab and
 *                                                       // channels general, pdu-status, pdu-audit
 *   const client = await loggedInClient(fake);          // the real client, ready (or makeClient())
 *   const olive = fake.user('olive', ['Homelab']);      // role names or ids
 *   const i = fake.command({ user: olive, name: 'socket', subcommand: 'off',
 *                            options: [{ name: 'socket', type: 3, value: '5' }] });
 *   const cb = await i.callback();                      // { type: 4, data: { content, flags }, at }
 *   await i.waitForOriginal((m) => m.content.includes('off'));
 *   await client.destroy(); await fake.close();
 *
 * REST (`/api/v10/...`; every request is recorded in `requests`, decoded path
 * without the `/api/v10` prefix, also unknown routes, which get 404
 * `{ message: '404: Not Found', code: 0 }`):
 * - `GET /gateway`, `GET /gateway/bot`, `GET /users/@me`, `GET /users/:id`,
 *   `GET /applications/@me`, `GET /oauth2/applications/@me`.
 * - Application commands, global and for the guild: GET/PUT/POST on
 *   `/applications/:app[/guilds/:guild]/commands`, GET/PATCH/DELETE on `.../commands/:id`.
 *   PUT replaces the list, keeping the id of a command with the same name and
 *   type; commands are returned as sent, plus id, application_id, version (and guild_id).
 * - `GET /guilds/:id`, `.../roles`, `.../channels`, `.../members`, `.../members/:user`
 *   (members: the bot, and every user made by `user()` or seen in an interaction).
 * - `GET /channels/:id`; messages: `GET|POST /channels/:id/messages`,
 *   `GET|PATCH|DELETE /channels/:id/messages/:mid`; `POST /channels/:id/typing`.
 * - `POST /interactions/:id/:token/callback` (types 4, 5, 6, 7, 8, 9; 204, or
 *   200 `{ interaction, resource }` with `?with_response=true`), the webhook
 *   routes of an interaction token: `POST /webhooks/:app/:token` (follow-up),
 *   `GET|PATCH|DELETE /webhooks/:app/:token/messages/(@original|:id)`.
 * - Authorization `Bot <token>` is required except on callbacks, webhooks and
 *   `GET /gateway`: a wrong one gets 401 (discord.js then reports TokenInvalid).
 *
 * Discord's rules that the fake enforces, so the bot meets them here first:
 * - An interaction must be acknowledged (callback) within `ackDeadlineMs`
 *   (3 s) of being sent, and only once: later → 404 code 10062 "Unknown
 *   interaction", twice → 400 code 40060. Commands accept callback types 4, 5
 *   and 9; components 4–7 and 9; autocomplete only 8. Follow-ups and
 *   `@original` need an acknowledged interaction (else 404 10015 / 10008).
 * - Message limits (400 code 50035 "Invalid Form Body" with Discord's `errors`
 *   tree, code 50006 for an empty message): content ≤ 2000, ≤ 10 embeds
 *   (title 256, description 4096, ≤ 25 fields of name 256 / value 1024, footer
 *   2048, author 256, 6000 in all), ≤ 5 action rows of ≤ 5 components,
 *   custom_id ≤ 100 and unique in the message, label ≤ 80; autocomplete
 *   ≤ 25 choices, names 1–100. Unknown or deleted message → 404 code 10008;
 *   unknown channel → 404 10003.
 *
 * Messages: one store. Channel messages, and non-ephemeral interaction
 * responses, are in their channel (`channelMessages`, oldest first, deleted
 * ones left out). Every create or edit makes a new `FakeMessage` object (a
 * snapshot; `originalVersions()` keeps the history of an interaction's `@original`).
 * An interaction's `@original` is: after callback 4/5 the new reply; for a
 * component after 6/7 the message the component is on (7 edits it). Deferred
 * replies (type 5) have flags 128 (loading) until their first edit.
 *
 * Gateway (`ws`, JSON text frames, no compression; one client at a time: a
 * new IDENTIFY closes the previous connection): HELLO (heartbeat 41.25 s);
 * IDENTIFY with the right token → READY + GUILD_CREATE (roles incl.
 * `@everyone` with the guild's id, text channels (type 0), the bot as
 * member); a wrong token → close 4004 "Authentication failed". HEARTBEAT →
 * ACK. RESUME of the current session → the missed dispatches, then RESUMED;
 * of an unknown session → op 9 (false). `disconnectGateway(4000)` makes
 * discord.js resume (~0.5 s later); a close with 1000 makes it IDENTIFY again
 * (~5.7 s later: its identify throttle). Dispatches sent while the client is
 * disconnected are kept (the latest 1000) and replayed on resume, as
 * Discord does. MESSAGE_DELETE is dispatched for `deleteMessage` when the
 * client identified with the GuildMessages intent. Request Guild Members
 * (op 8) → one GUILD_MEMBERS_CHUNK.
 *
 * Faults: `failNext` makes the next request(s) matching answer a status
 * instead: 5xx (discord.js retries 3 times at once, then throws HTTPError),
 * 429 with `Retry-After` and `retry_after` (discord.js waits and retries),
 * or any 4xx with a body.
 *
 * Waiting: every `waitFor...` checks the current state first, then every
 * change, and rejects after `timeoutMs` (default 5000) with what it waited
 * for, or when the fake closes. No polling, no sleeps; `close()` leaves no
 * timers or sockets behind. Everything (requests, interactions, messages) is
 * kept in memory for the fake's lifetime: run it in another process than the
 * one whose memory a benchmark measures.
 *
 * Only primitive option types (3 string, 4 integer, 5 boolean, 10 number)
 * are supported in interactions: no `resolved` users/roles/channels.
 */

/** A JSON payload as Discord sends it, for tests to inspect freely. */
// biome-ignore lint/suspicious/noExplicitAny: JSON from the wire; tests inspect it without ceremony
export type Json = any;

export interface FakeRole {
  id: string;
  name: string;
  /** Permission bit set as a decimal string; default '0'. */
  permissions?: string;
}
export interface FakeChannel {
  id: string;
  name: string;
}
export interface FakeGuild {
  id: string;
  name: string;
  /** `@everyone` (id = guild id) is added first when absent. */
  roles: FakeRole[];
  /** Text channels. */
  channels: FakeChannel[];
}
export interface FakeUser {
  id: string;
  username: string;
  /** Role ids of the guild (without @everyone). */
  roles: string[];
}

export interface StartFakeDiscordOptions {
  /** The only token accepted; default a realistic one built from `botUserId`. */
  token?: string;
  /** Default: `botUserId` (as for applications created since 2018). */
  applicationId?: string;
  botUserId?: string;
  botUsername?: string;
  guild?: FakeGuild;
  /** Time an interaction may go unacknowledged; default 3000 ms as on Discord. */
  ackDeadlineMs?: number;
}

export interface RecordedRequest {
  method: string;
  /** Decoded, without `/api/v10`: '/webhooks/1/tok/messages/@original'. */
  path: string;
  query: Record<string, string>;
  /** Parsed JSON, or a multipart request's `payload_json`; undefined when empty. */
  body: Json;
  /** Names of the files of a multipart request. */
  files: string[];
  /** Whether it carried `Authorization: Bot <the token>`. */
  authorized: boolean;
  /** performance.now() when it arrived. */
  at: number;
  /** The status the fake answered, and its JSON body (undefined for 204). */
  status: number;
  response: Json;
  /** Answered by a `failNext` fault. */
  fault: boolean;
}

export interface FakeMessage {
  readonly id: string;
  readonly channelId: string;
  readonly content: string;
  readonly embeds: Json[];
  readonly components: Json[];
  /** 64 ephemeral, 128 loading (a deferred reply not yet edited). */
  readonly flags: number;
  /** The interaction whose response or follow-up this is, else null. */
  readonly interactionId: string | null;
  readonly createdAt: number;
  /** performance.now() of the edit that made this version; null for the first. */
  readonly editedAt: number | null;
  readonly deleted: boolean;
}

export interface InteractionCallback {
  type: number;
  data: Json;
  /** performance.now() when it arrived. */
  at: number;
}

export interface FakeInteraction {
  readonly id: string;
  readonly token: string;
  /** 2 command, 3 component, 4 autocomplete. */
  readonly type: number;
  /** performance.now() when it was dispatched. */
  readonly sentAt: number;
  /** The gateway payload sent. */
  readonly payload: Json;
  /** Accepted callbacks (at most one; refused ones are only in `requests`). */
  readonly callbacks: readonly InteractionCallback[];
  /** The callback, when it arrives. */
  callback(timeoutMs?: number): Promise<InteractionCallback>;
  /** The latest version of `@original`, or undefined before there is one. */
  original(): FakeMessage | undefined;
  /** Every version of `@original`, oldest first. */
  originalVersions(): FakeMessage[];
  /** Resolves with the first version of `@original`, current or future, that matches. */
  waitForOriginal(predicate: (m: FakeMessage) => boolean, timeoutMs?: number): Promise<FakeMessage>;
  /** The latest version of each follow-up, in order of creation. */
  followUps(): FakeMessage[];
  waitForFollowUp(predicate: (m: FakeMessage) => boolean, timeoutMs?: number): Promise<FakeMessage>;
}

export interface CommandOption {
  name: string;
  /** 3 string, 4 integer, 5 boolean, 10 number. */
  type: number;
  value: string | number | boolean;
}

export interface CommandInput {
  user: FakeUser;
  name: string;
  subcommandGroup?: string;
  subcommand?: string;
  options?: CommandOption[];
  /** Default: the guild's first channel. */
  channelId?: string;
}

export interface AutocompleteInput extends CommandInput {
  /** The option being typed in. */
  focused: string;
  /** What has been typed so far. */
  value: string;
  /** The focused option's type; default 3 (string). */
  focusedType?: number;
}

export interface ButtonInput {
  user: FakeUser;
  customId: string;
  /** A message the fake knows (a FakeMessage will do). */
  message: { id: string };
}

export interface FaultMatch {
  method?: string;
  /** Tested against the decoded path without `/api/v10`. */
  path: RegExp;
}

export interface FaultResponse {
  status: number;
  /** For 429: Retry-After header (seconds) and JSON retry_after. Default 10 ms. */
  retryAfterMs?: number;
  /** Default: `{ message, code: 0 }` (for 429 Discord's rate-limit body). */
  body?: Json;
  /** How many matching requests get it; default 1. */
  times?: number;
}

export interface FakeDiscord {
  /** The value for discord.js `rest.api` (and the bot's `discord.api`): 'http://127.0.0.1:<port>/api'. */
  readonly api: string;
  readonly token: string;
  readonly applicationId: string;
  readonly botUserId: string;
  /** With `@everyone` first. */
  readonly guild: FakeGuild;
  readonly requests: readonly RecordedRequest[];
  /** Resolves with the first request, recorded at or after performance.now() `since` (default 0), that matches. */
  waitForRequest(
    predicate: (r: RecordedRequest) => boolean,
    timeoutMs?: number,
    since?: number,
  ): Promise<RecordedRequest>;

  /** A guild member with the given role names or ids (unknown ones throw); the same username gives the same id. */
  user(username: string, roles?: string[]): FakeUser;
  /** Dispatch a chat-input command (throws when no client ever logged in). */
  command(input: CommandInput): FakeInteraction;
  autocomplete(input: AutocompleteInput): FakeInteraction;
  button(input: ButtonInput): FakeInteraction;

  /** Messages in the channel now, oldest first, deleted ones left out. */
  channelMessages(channelId: string): FakeMessage[];
  /** The latest version of any message the fake holds (also ephemeral and deleted ones). */
  message(messageId: string): FakeMessage | undefined;
  waitForChannelMessage(
    channelId: string,
    predicate: (m: FakeMessage) => boolean,
    timeoutMs?: number,
  ): Promise<FakeMessage>;
  /** Delete a message as a user would: further edits of it get 404 code 10008. */
  deleteMessage(channelId: string, messageId: string): void;

  /** Application commands registered: for the guild, or global ones when guildId is null. */
  commands(guildId: string | null): Json[];

  failNext(match: FaultMatch, response: FaultResponse): void;

  /**
   * Close the client's gateway connection with this code (default 4000: discord.js resumes after
   * ~0.5 s; 1000: it identifies again after ~5.7 s). 1006 drops the TCP connection without a close frame.
   */
  disconnectGateway(code?: number): void;
  /** Resolves when a client is connected and has identified or resumed. */
  waitForGateway(timeoutMs?: number): Promise<void>;
  readonly identifies: number;
  readonly resumes: number;

  /** Closes the gateway and HTTP server, all connections; pending waits reject. Idempotent. */
  close(): Promise<void>;
}

const DISCORD_EPOCH = 1420070400000n;
const DEFAULT_TIMEOUT = 5000;
const REPLAY_LIMIT = 1000;
const GUILD_MESSAGES_INTENT = 1 << 9;
const EPHEMERAL = 64;
const LOADING = 128;

interface Reply {
  status: number;
  body?: Json;
  headers?: Record<string, string>;
}

interface Ctx {
  body: Json;
  query: Record<string, string>;
  at: number;
}

interface InteractionState {
  id: string;
  token: string;
  type: number;
  sentAt: number;
  payload: Json;
  user: FakeUser;
  channelId: string;
  componentMessageId: string | null;
  callbacks: InteractionCallback[];
  originalId: string | null;
  originalFrom: number;
  followUpIds: string[];
}

interface StoredMessage {
  versions: FakeMessage[];
  author: Json;
  type: number;
  interaction: InteractionState | null;
  inChannel: boolean;
}

interface Fault {
  match: FaultMatch;
  response: FaultResponse;
  left: number;
}

interface Waiter {
  check: () => boolean;
  fail: (error: Error) => void;
}

function snowflakes(): () => string {
  let last = 0n;
  return () => {
    const now = (BigInt(Date.now()) - DISCORD_EPOCH) << 22n;
    last = now > last ? now : last + 1n;
    return last.toString();
  };
}

function apiError(status: number, code: number, message: string, errors?: Json): Reply {
  return { status, body: errors ? { message, code, errors } : { message, code } };
}

function latest(m: StoredMessage): FakeMessage {
  return m.versions[m.versions.length - 1]!;
}

/** Discord's message limits; returns the `errors` tree of a 50035, or null. */
function formErrors(body: Json, creating: boolean): Json | null {
  const errors: Json = {};
  const put = (path: (string | number)[], code: string, message: string) => {
    let node = errors;
    for (const key of path) {
      node[key] ??= {};
      node = node[key];
    }
    node._errors ??= [];
    node._errors.push({ code, message });
  };
  const max = (path: (string | number)[], value: unknown, limit: number) => {
    if (typeof value === 'string' && value.length > limit) {
      put(path, 'BASE_TYPE_MAX_LENGTH', `Must be ${limit} or fewer in length.`);
    }
  };
  max(['content'], body.content, 2000);
  if (Array.isArray(body.embeds)) {
    if (body.embeds.length > 10) put(['embeds'], 'BASE_TYPE_MAX_LENGTH', 'Must be 10 or fewer in length.');
    let total = 0;
    body.embeds.forEach((e: Json, i: number) => {
      const p = ['embeds', i];
      max([...p, 'title'], e.title, 256);
      max([...p, 'description'], e.description, 4096);
      max([...p, 'footer', 'text'], e.footer?.text, 2048);
      max([...p, 'author', 'name'], e.author?.name, 256);
      const fields: Json[] = Array.isArray(e.fields) ? e.fields : [];
      if (fields.length > 25) put([...p, 'fields'], 'BASE_TYPE_MAX_LENGTH', 'Must be 25 or fewer in length.');
      fields.forEach((f, j) => {
        max([...p, 'fields', j, 'name'], f.name, 256);
        max([...p, 'fields', j, 'value'], f.value, 1024);
        total += String(f.name ?? '').length + String(f.value ?? '').length;
      });
      for (const s of [e.title, e.description, e.footer?.text, e.author?.name])
        total += s ? String(s).length : 0;
    });
    if (total > 6000) put(['embeds'], 'MAX_EMBED_SIZE_EXCEEDED', 'Embed size exceeds maximum size of 6000');
  }
  if (Array.isArray(body.components)) {
    if (body.components.length > 5)
      put(['components'], 'BASE_TYPE_MAX_LENGTH', 'Must be 5 or fewer in length.');
    const ids = new Set<string>();
    body.components.forEach((row: Json, i: number) => {
      const inner: Json[] = Array.isArray(row.components) ? row.components : [];
      if (inner.length > 5) {
        put(['components', i, 'components'], 'BASE_TYPE_MAX_LENGTH', 'Must be 5 or fewer in length.');
      }
      inner.forEach((c, j) => {
        const p = ['components', i, 'components', j];
        max([...p, 'custom_id'], c.custom_id, 100);
        max([...p, 'label'], c.label, 80);
        if (typeof c.custom_id === 'string') {
          if (ids.has(c.custom_id)) put([...p, 'custom_id'], 'COMPONENT_CUSTOM_ID_DUPLICATED', 'Duplicate');
          ids.add(c.custom_id);
        }
      });
    });
  }
  if (Object.keys(errors).length > 0) return errors;
  if (creating) {
    const empty =
      !body.content &&
      !(Array.isArray(body.embeds) && body.embeds.length) &&
      !(Array.isArray(body.components) && body.components.length) &&
      !(Array.isArray(body.attachments) && body.attachments.length) &&
      !body.sticker_ids?.length &&
      !body.poll;
    if (empty) return 'empty';
  }
  return null;
}

function validate(body: Json, creating: boolean): Reply | null {
  const errors = formErrors(body ?? {}, creating);
  if (errors === 'empty') return apiError(400, 50006, 'Cannot send an empty message');
  return errors ? apiError(400, 50035, 'Invalid Form Body', errors) : null;
}

const DEFAULT_GUILD: FakeGuild = {
  id: '1180000000000000001',
  name: 'Homelab',
  roles: [
    { id: '1180000000000000011', name: 'Admins', permissions: '8' },
    { id: '1180000000000000012', name: 'Homelab' },
  ],
  channels: [
    { id: '1180000000000000021', name: 'general' },
    { id: '1180000000000000022', name: 'pdu-status' },
    { id: '1180000000000000023', name: 'pdu-audit' },
  ],
};

/** A real discord.js client pointed at `fake` (not logged in). */
export function makeClient(fake: FakeDiscord): Client {
  return new Client({
    intents: [GatewayIntentBits.Guilds],
    rest: { api: fake.api, globalRequestsPerSecond: 1000 },
  });
}

/** A real discord.js client logged in to `fake`; resolves once it is ready. */
export async function loggedInClient(fake: FakeDiscord): Promise<Client> {
  const client = makeClient(fake);
  const ready = once(client, Events.ClientReady);
  await client.login(fake.token);
  await ready;
  return client;
}

export async function startFakeDiscord(options: StartFakeDiscordOptions = {}): Promise<FakeDiscord> {
  const fake = new Fake(options);
  await fake.listen();
  return fake;
}

class Fake implements FakeDiscord {
  readonly token: string;
  readonly applicationId: string;
  readonly botUserId: string;
  readonly guild: FakeGuild;
  readonly requests: RecordedRequest[] = [];
  identifies = 0;
  resumes = 0;
  api = '';

  private readonly nextId = snowflakes();
  private readonly botUser: Json;
  private readonly ackDeadlineMs: number;
  private readonly server = http.createServer((req, res) => this.onRequest(req, res));
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly messages = new Map<string, StoredMessage>();
  private readonly byChannel = new Map<string, StoredMessage[]>(); // messages shown in a channel
  private readonly interactionsById = new Map<string, InteractionState>();
  private readonly interactionsByToken = new Map<string, InteractionState>();
  private readonly users = new Map<string, FakeUser>();
  private readonly userIds = new Map<string, string>();
  private readonly commandStore = new Map<string, Json[]>(); // 'global' or guild id
  private readonly faults: Fault[] = [];
  private readonly waiters = new Set<Waiter>();
  private session: { id: string; seq: number; log: { s: number; frame: string }[]; intents: number } | null =
    null;
  private live: WebSocket | null = null;
  private gatewayUrl = '';
  private closed = false;

  constructor(options: StartFakeDiscordOptions) {
    this.botUserId = options.botUserId ?? '1190000000000000001';
    this.applicationId = options.applicationId ?? this.botUserId;
    const idPart = Buffer.from(this.botUserId).toString('base64').replace(/=+$/, '');
    this.token =
      options.token ??
      `${idPart}.${randomBytes(4).toString('base64url')}.${randomBytes(20).toString('base64url')}`;
    this.ackDeadlineMs = options.ackDeadlineMs ?? 3000;
    const g = options.guild ?? DEFAULT_GUILD;
    const roles = g.roles.some((r) => r.id === g.id)
      ? g.roles
      : [{ id: g.id, name: '@everyone', permissions: '0' }, ...g.roles];
    this.guild = {
      id: g.id,
      name: g.name,
      roles: roles.map((r) => ({ ...r })),
      channels: g.channels.map((c) => ({ ...c })),
    };
    this.botUser = {
      id: this.botUserId,
      username: options.botUsername ?? 'PiPDU',
      global_name: null,
      discriminator: '0',
      avatar: null,
      bot: true,
      public_flags: 0,
    };
    this.commandStore.set('global', []);
    this.commandStore.set(this.guild.id, []);
  }

  async listen(): Promise<void> {
    this.server.on('upgrade', (req, socket, head) => {
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onGateway(ws));
    });
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = this.server.address() as AddressInfo;
    this.api = `http://127.0.0.1:${port}/api`;
    this.gatewayUrl = `ws://127.0.0.1:${port}/gateway`;
  }

  // ---- waiting ----

  private changed(): void {
    for (const w of [...this.waiters]) w.check();
  }

  private waitFor<T>(
    probe: () => T | undefined,
    timeoutMs: number,
    what: string | (() => string),
  ): Promise<T> {
    const describe = () => (typeof what === 'string' ? what : what());
    return new Promise<T>((resolve, reject) => {
      if (this.closed) {
        reject(new Error(`fake Discord is closed (waiting for ${describe()})`));
        return;
      }
      const first = probe();
      if (first !== undefined) {
        resolve(first);
        return;
      }
      const waiter: Waiter = {
        check: () => {
          const value = probe();
          if (value === undefined) return false;
          done();
          resolve(value);
          return true;
        },
        fail: (error) => {
          done();
          reject(error);
        },
      };
      const timer = setTimeout(
        () =>
          waiter.fail(new Error(`fake Discord: timed out after ${timeoutMs} ms waiting for ${describe()}`)),
        timeoutMs,
      );
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      this.waiters.add(waiter);
    });
  }

  waitForRequest(predicate: (r: RecordedRequest) => boolean, timeoutMs = DEFAULT_TIMEOUT, since = 0) {
    let from = 0;
    return this.waitFor(
      () => {
        for (; from < this.requests.length; from++) {
          const r = this.requests[from]!;
          if (r.at >= since && predicate(r)) return r;
        }
        return undefined;
      },
      timeoutMs,
      'a matching request',
    );
  }

  waitForGateway(timeoutMs = DEFAULT_TIMEOUT): Promise<void> {
    return this.waitFor(() => (this.live ? true : undefined), timeoutMs, 'a gateway session').then(() => {});
  }

  // ---- users and interactions ----

  user(username: string, roles: string[] = []): FakeUser {
    const roleIds = roles.map((wanted) => {
      const role = this.guild.roles.find(
        (r) => r.id === wanted || r.name.toLowerCase() === wanted.toLowerCase(),
      );
      if (!role) throw new Error(`fake Discord: no role ${wanted} in guild ${this.guild.name}`);
      return role.id;
    });
    let id = this.userIds.get(username);
    if (!id) {
      id = this.nextId();
      this.userIds.set(username, id);
    }
    const user = { id, username, roles: roleIds.filter((r) => r !== this.guild.id) };
    this.users.set(id, user);
    return user;
  }

  private apiUser(u: FakeUser): Json {
    return {
      id: u.id,
      username: u.username,
      global_name: u.username,
      discriminator: '0',
      avatar: null,
      public_flags: 0,
    };
  }

  private apiMember(u: FakeUser): Json {
    let perms = 0n;
    for (const role of this.guild.roles) {
      if (role.id === this.guild.id || u.roles.includes(role.id)) perms |= BigInt(role.permissions ?? '0');
    }
    return {
      user: this.apiUser(u),
      roles: [...u.roles],
      permissions: perms.toString(),
      nick: null,
      avatar: null,
      joined_at: '2024-01-01T00:00:00.000Z',
      premium_since: null,
      deaf: false,
      mute: false,
      pending: false,
      flags: 0,
      communication_disabled_until: null,
    };
  }

  private channel(channelId: string) {
    return this.guild.channels.find((c) => c.id === channelId);
  }

  private apiChannel(channelId: string): Json {
    const index = this.guild.channels.findIndex((c) => c.id === channelId);
    const c = this.guild.channels[index]!;
    return {
      id: c.id,
      type: 0,
      guild_id: this.guild.id,
      name: c.name,
      position: index,
      permission_overwrites: [],
      parent_id: null,
      nsfw: false,
      topic: null,
      last_message_id: null,
      rate_limit_per_user: 0,
      flags: 0,
    };
  }

  private dispatchInteraction(
    type: number,
    user: FakeUser,
    channelId: string | undefined,
    data: Json,
    message: StoredMessage | null,
  ): FakeInteraction {
    if (!this.session)
      throw new Error('fake Discord: no client has logged in; an interaction would go nowhere');
    const cid = channelId ?? message?.versions[0]?.channelId ?? this.guild.channels[0]?.id;
    if (!cid || !this.channel(cid)) throw new Error(`fake Discord: unknown channel ${cid}`);
    this.users.set(user.id, user);
    const id = this.nextId();
    const token = `aW50ZXJhY3Rpb246${id}:${randomBytes(24).toString('base64url')}`;
    const payload: Json = {
      id,
      application_id: this.applicationId,
      type,
      token,
      version: 1,
      guild_id: this.guild.id,
      guild: { id: this.guild.id, locale: 'en-US', features: [] },
      channel_id: cid,
      channel: { id: cid, type: 0, guild_id: this.guild.id, name: this.channel(cid)!.name, flags: 0 },
      member: this.apiMember(user),
      app_permissions: '8',
      locale: 'en-US',
      guild_locale: 'en-US',
      entitlements: [],
      authorizing_integration_owners: { '0': this.guild.id },
      context: 0,
      attachment_size_limit: 10485760,
      data,
    };
    if (message) payload.message = this.apiMessage(message);
    const state: InteractionState = {
      id,
      token,
      type,
      sentAt: performance.now(),
      payload,
      user,
      channelId: cid,
      componentMessageId: message ? latest(message).id : null,
      callbacks: [],
      originalId: null,
      originalFrom: 0,
      followUpIds: [],
    };
    this.interactionsById.set(id, state);
    this.interactionsByToken.set(token, state);
    this.dispatch('INTERACTION_CREATE', payload);
    return this.view(state);
  }

  private view(s: InteractionState): FakeInteraction {
    const original = () => {
      const m = s.originalId ? this.messages.get(s.originalId) : undefined;
      return m ? latest(m) : undefined;
    };
    const versions = () =>
      s.originalId ? this.messages.get(s.originalId)!.versions.slice(s.originalFrom) : [];
    const followUps = () => s.followUpIds.map((id) => latest(this.messages.get(id)!));
    return {
      id: s.id,
      token: s.token,
      type: s.type,
      sentAt: s.sentAt,
      payload: s.payload,
      callbacks: s.callbacks,
      callback: (timeoutMs = DEFAULT_TIMEOUT) =>
        this.waitFor(
          () => s.callbacks[0],
          timeoutMs,
          () => {
            const refused = this.requests
              .filter((r) => r.path.startsWith(`/interactions/${s.id}/`))
              .map((r) => `${r.status} ${JSON.stringify(r.response)}`);
            return `the callback of interaction ${s.id}${refused.length ? ` (refused: ${refused.join('; ')})` : ''}`;
          },
        ),
      original,
      originalVersions: versions,
      waitForOriginal: (predicate, timeoutMs = DEFAULT_TIMEOUT) => {
        let seen = -1;
        return this.waitFor(
          () => {
            const all = versions();
            const start = seen < 0 ? Math.max(all.length - 1, 0) : seen;
            for (let i = start; i < all.length; i++) if (predicate(all[i]!)) return all[i];
            seen = all.length;
            return undefined;
          },
          timeoutMs,
          `@original of interaction ${s.id} to match`,
        );
      },
      followUps,
      waitForFollowUp: (predicate, timeoutMs = DEFAULT_TIMEOUT) =>
        this.waitFor(() => followUps().find(predicate), timeoutMs, `a follow-up of interaction ${s.id}`),
    };
  }

  private commandData(input: CommandInput, options: Json[]): Json {
    let opts: Json[] = options;
    if (input.subcommand) opts = [{ type: 1, name: input.subcommand, options: opts }];
    if (input.subcommandGroup) opts = [{ type: 2, name: input.subcommandGroup, options: opts }];
    const registered =
      this.commandStore.get(this.guild.id)!.find((c) => c.name === input.name && (c.type ?? 1) === 1) ??
      this.commandStore.get('global')!.find((c) => c.name === input.name && (c.type ?? 1) === 1);
    const data: Json = {
      id: registered?.id ?? this.commandId(input.name),
      name: input.name,
      type: 1,
      options: opts,
    };
    if (registered?.guild_id) data.guild_id = registered.guild_id;
    return data;
  }

  private readonly unregisteredIds = new Map<string, string>();
  private commandId(name: string): string {
    let id = this.unregisteredIds.get(name);
    if (!id) {
      id = this.nextId();
      this.unregisteredIds.set(name, id);
    }
    return id;
  }

  command(input: CommandInput): FakeInteraction {
    const options = (input.options ?? []).map((o) => ({ name: o.name, type: o.type, value: o.value }));
    return this.dispatchInteraction(2, input.user, input.channelId, this.commandData(input, options), null);
  }

  autocomplete(input: AutocompleteInput): FakeInteraction {
    const options: Json[] = (input.options ?? [])
      .filter((o) => o.name !== input.focused)
      .map((o) => ({ name: o.name, type: o.type, value: o.value }));
    options.push({ name: input.focused, type: input.focusedType ?? 3, value: input.value, focused: true });
    return this.dispatchInteraction(4, input.user, input.channelId, this.commandData(input, options), null);
  }

  button(input: ButtonInput): FakeInteraction {
    const message = this.messages.get(input.message.id);
    if (!message) throw new Error(`fake Discord: no message ${input.message.id} to press a button on`);
    if (latest(message).deleted) throw new Error(`fake Discord: message ${input.message.id} is deleted`);
    const data = { custom_id: input.customId, component_type: 2 };
    return this.dispatchInteraction(3, input.user, undefined, data, message);
  }

  // ---- messages ----

  private apiMessage(m: StoredMessage): Json {
    const v = latest(m);
    const msg: Json = {
      id: v.id,
      channel_id: v.channelId,
      type: m.type,
      content: v.content,
      embeds: v.embeds,
      components: v.components,
      flags: v.flags,
      author: m.author,
      attachments: [],
      mentions: [],
      mention_roles: [],
      mention_everyone: false,
      pinned: false,
      tts: false,
      timestamp: new Date(performance.timeOrigin + v.createdAt).toISOString(),
      edited_timestamp:
        v.editedAt === null ? null : new Date(performance.timeOrigin + v.editedAt).toISOString(),
    };
    if (m.interaction) {
      msg.webhook_id = this.applicationId;
      msg.application_id = this.applicationId;
      msg.interaction_metadata = {
        id: m.interaction.id,
        type: m.interaction.type,
        user: this.apiUser(m.interaction.user),
        authorizing_integration_owners: { '0': this.guild.id },
      };
    }
    return msg;
  }

  private createMessage(
    channelId: string,
    body: Json,
    interaction: InteractionState | null,
    type: number,
    flags = 0,
  ): StoredMessage {
    const now = performance.now();
    const v: FakeMessage = {
      id: this.nextId(),
      channelId,
      content: typeof body.content === 'string' ? body.content : '',
      embeds: Array.isArray(body.embeds) ? body.embeds : [],
      components: Array.isArray(body.components) ? body.components : [],
      flags: (Number(body.flags ?? 0) & EPHEMERAL) | flags,
      interactionId: interaction?.id ?? null,
      createdAt: now,
      editedAt: null,
      deleted: false,
    };
    const stored: StoredMessage = {
      versions: [v],
      author: this.botUser,
      type,
      interaction,
      inChannel: (v.flags & EPHEMERAL) === 0,
    };
    this.messages.set(v.id, stored);
    if (stored.inChannel) {
      const list = this.byChannel.get(channelId);
      if (list) list.push(stored);
      else this.byChannel.set(channelId, [stored]);
    }
    return stored;
  }

  private editMessage(m: StoredMessage, patch: Json): void {
    const body = patch ?? {};
    const v = latest(m);
    const next: FakeMessage = {
      ...v,
      content: 'content' in body ? (body.content ?? '') : v.content,
      embeds: 'embeds' in body ? (body.embeds ?? []) : v.embeds,
      components: 'components' in body ? (body.components ?? []) : v.components,
      flags: v.flags & ~LOADING,
      editedAt: performance.now(),
    };
    m.versions.push(next);
  }

  private removeMessage(m: StoredMessage): void {
    const v = latest(m);
    m.versions.push({ ...v, deleted: true });
    if (m.inChannel && this.session && this.session.intents & GUILD_MESSAGES_INTENT) {
      this.dispatch('MESSAGE_DELETE', { id: v.id, channel_id: v.channelId, guild_id: this.guild.id });
    }
  }

  private existing(id: string): StoredMessage | undefined {
    const m = this.messages.get(id);
    return m && !latest(m).deleted ? m : undefined;
  }

  channelMessages(channelId: string): FakeMessage[] {
    return (this.byChannel.get(channelId) ?? []).map(latest).filter((v) => !v.deleted);
  }

  message(messageId: string): FakeMessage | undefined {
    const m = this.messages.get(messageId);
    return m ? latest(m) : undefined;
  }

  waitForChannelMessage(
    channelId: string,
    predicate: (m: FakeMessage) => boolean,
    timeoutMs = DEFAULT_TIMEOUT,
  ) {
    return this.waitFor(
      () => this.channelMessages(channelId).find(predicate),
      timeoutMs,
      `a matching message in channel ${channelId}`,
    );
  }

  deleteMessage(channelId: string, messageId: string): void {
    const m = this.existing(messageId);
    if (!m || latest(m).channelId !== channelId) {
      throw new Error(`fake Discord: no message ${messageId} in channel ${channelId}`);
    }
    this.removeMessage(m);
    this.changed();
  }

  commands(guildId: string | null): Json[] {
    return [...(this.commandStore.get(guildId ?? 'global') ?? [])];
  }

  failNext(match: FaultMatch, response: FaultResponse): void {
    this.faults.push({ match, response, left: response.times ?? 1 });
  }

  // ---- gateway ----

  private onGateway(ws: WebSocket): void {
    ws.send(JSON.stringify({ op: 10, d: { heartbeat_interval: 41250 }, s: null, t: null }));
    ws.on('message', (raw: RawData) => {
      let msg: Json;
      try {
        msg = JSON.parse(raw.toString());
      } catch {
        ws.close(4002, 'Error while decoding payload.');
        return;
      }
      this.onGatewayMessage(ws, msg);
    });
    ws.on('close', () => {
      if (this.live === ws) this.live = null;
    });
    ws.on('error', () => {});
  }

  private tokenOk(token: unknown): boolean {
    return typeof token === 'string' && token.replace(/^Bot\s+/i, '') === this.token;
  }

  private onGatewayMessage(ws: WebSocket, msg: Json): void {
    switch (msg?.op) {
      case 1:
        ws.send(JSON.stringify({ op: 11, d: null, s: null, t: null }));
        return;
      case 2: {
        if (!this.tokenOk(msg.d?.token)) {
          ws.close(4004, 'Authentication failed.');
          return;
        }
        this.identifies++;
        this.live?.close(4000, 'Superseded');
        this.session = {
          id: randomBytes(16).toString('hex'),
          seq: 0,
          log: [],
          intents: Number(msg.d.intents ?? 0),
        };
        this.live = ws;
        this.dispatch('READY', {
          v: 10,
          user: this.botUser,
          guilds: [{ id: this.guild.id, unavailable: true }],
          session_id: this.session.id,
          resume_gateway_url: this.gatewayUrl,
          shard: [0, 1],
          application: { id: this.applicationId, flags: 0 },
          private_channels: [],
          relationships: [],
          user_settings: {},
          presences: [],
          guild_join_requests: [],
          geo_ordered_rtc_regions: [],
          auth: {},
        });
        this.dispatch('GUILD_CREATE', this.apiGuildCreate());
        this.changed();
        return;
      }
      case 6: {
        if (!this.tokenOk(msg.d?.token)) {
          ws.close(4004, 'Authentication failed.');
          return;
        }
        const s = this.session;
        const seq = Number(msg.d?.seq ?? 0);
        const oldest = s?.log[0]?.s ?? (s ? s.seq + 1 : 0);
        if (!s || msg.d?.session_id !== s.id || seq + 1 < oldest) {
          ws.send(JSON.stringify({ op: 9, d: false, s: null, t: null }));
          return;
        }
        this.resumes++;
        this.live?.close(4000, 'Superseded');
        this.live = ws;
        for (const e of s.log) if (e.s > seq) ws.send(e.frame);
        this.dispatch('RESUMED', null);
        this.changed();
        return;
      }
      case 8: {
        const members = [this.botMember(), ...[...this.users.values()].map((u) => this.apiMember(u))];
        this.dispatch('GUILD_MEMBERS_CHUNK', {
          guild_id: this.guild.id,
          members,
          chunk_index: 0,
          chunk_count: 1,
          not_found: [],
          nonce: msg.d?.nonce,
        });
        return;
      }
      default:
        return;
    }
  }

  private dispatch(t: string, d: Json): void {
    const s = this.session!;
    const seq = ++s.seq;
    const frame = JSON.stringify({ op: 0, t, s: seq, d });
    s.log.push({ s: seq, frame });
    if (s.log.length > REPLAY_LIMIT) s.log.shift();
    this.live?.send(frame);
  }

  private botMember(): Json {
    return {
      ...this.apiMember({ id: this.botUserId, username: this.botUser.username, roles: [] }),
      user: this.botUser,
    };
  }

  private apiRoles(): Json[] {
    return this.guild.roles.map((r, i) => ({
      id: r.id,
      name: r.name,
      permissions: r.permissions ?? '0',
      position: i,
      color: 0,
      colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
      hoist: false,
      managed: false,
      mentionable: false,
      icon: null,
      unicode_emoji: null,
      flags: 0,
    }));
  }

  private apiGuild(): Json {
    return {
      id: this.guild.id,
      name: this.guild.name,
      icon: null,
      splash: null,
      discovery_splash: null,
      banner: null,
      description: null,
      owner_id: '1170000000000000001',
      features: [],
      roles: this.apiRoles(),
      emojis: [],
      stickers: [],
      preferred_locale: 'en-US',
      premium_tier: 0,
      premium_subscription_count: 0,
      premium_progress_bar_enabled: false,
      mfa_level: 0,
      nsfw_level: 0,
      verification_level: 0,
      explicit_content_filter: 0,
      default_message_notifications: 0,
      system_channel_id: null,
      system_channel_flags: 0,
      rules_channel_id: null,
      public_updates_channel_id: null,
      safety_alerts_channel_id: null,
      afk_channel_id: null,
      afk_timeout: 300,
      application_id: null,
      vanity_url_code: null,
      max_members: 500000,
      max_video_channel_users: 25,
      max_stage_video_channel_users: 50,
      widget_enabled: false,
      widget_channel_id: null,
      nsfw: false,
    };
  }

  private apiGuildCreate(): Json {
    return {
      ...this.apiGuild(),
      unavailable: false,
      large: false,
      lazy: true,
      joined_at: '2024-01-01T00:00:00.000Z',
      member_count: 1 + this.users.size,
      channels: this.guild.channels.map((c) => {
        const { guild_id: _, ...channel } = this.apiChannel(c.id);
        return channel;
      }),
      threads: [],
      members: [this.botMember()],
      presences: [],
      voice_states: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
    };
  }

  disconnectGateway(code = 4000): void {
    const ws = this.live;
    this.live = null;
    if (code === 1006) ws?.terminate();
    else ws?.close(code, 'Disconnected by the test');
  }

  // ---- REST ----

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const at = performance.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void this.onRequestBody(req, Buffer.concat(chunks), at).then(
        ({ record, reply }) => {
          record.status = reply.status;
          record.response = reply.body;
          this.requests.push(record);
          const headers: Record<string, string> = { ...reply.headers };
          let payload: string | undefined;
          if (reply.body !== undefined) {
            payload = JSON.stringify(reply.body);
            headers['content-type'] = 'application/json';
          }
          res.writeHead(reply.status, headers);
          res.end(payload);
          this.changed();
        },
        (error: unknown) => {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ message: `fake Discord bug: ${String(error)}`, code: 0 }));
        },
      );
    });
  }

  private async onRequestBody(
    req: http.IncomingMessage,
    raw: Buffer,
    at: number,
  ): Promise<{ record: RecordedRequest; reply: Reply }> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    const prefixed = url.pathname.startsWith('/api/v10/');
    let path = prefixed ? url.pathname.slice('/api/v10'.length) : url.pathname;
    try {
      path = decodeURIComponent(path);
    } catch {}
    const query = Object.fromEntries(url.searchParams);
    const contentType = req.headers['content-type'] ?? '';
    let body: Json;
    const files: string[] = [];
    if (raw.length > 0 && contentType.startsWith('multipart/form-data')) {
      const form = await new Response(raw, { headers: { 'content-type': contentType } }).formData();
      for (const [name, value] of form) {
        if (name === 'payload_json' && typeof value === 'string') body = JSON.parse(value);
        else if (typeof value !== 'string') files.push(value.name);
      }
    } else if (raw.length > 0) {
      const text = raw.toString('utf8');
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    const authorized = this.tokenOk(req.headers.authorization);
    const record: RecordedRequest = {
      method,
      path,
      query,
      body,
      files,
      authorized,
      at,
      status: 0,
      response: undefined,
      fault: false,
    };
    const fault = this.takeFault(method, path);
    if (fault) {
      record.fault = true;
      return { record, reply: fault };
    }
    if (!prefixed) return { record, reply: apiError(404, 0, '404: Not Found') };
    return { record, reply: this.route(method, path, { body, query, at }, authorized) };
  }

  private takeFault(method: string, path: string): Reply | null {
    const i = this.faults.findIndex(
      (f) => (!f.match.method || f.match.method.toUpperCase() === method) && f.match.path.test(path),
    );
    if (i < 0) return null;
    const f = this.faults[i]!;
    if (--f.left <= 0) this.faults.splice(i, 1);
    const { status } = f.response;
    if (status === 429) {
      const seconds = (f.response.retryAfterMs ?? 10) / 1000;
      return {
        status,
        headers: { 'retry-after': String(seconds), 'x-ratelimit-scope': 'user' },
        body: f.response.body ?? {
          message: 'You are being rate limited.',
          retry_after: seconds,
          global: false,
        },
      };
    }
    return { status, body: f.response.body ?? { message: `${status}: fault injected by the test`, code: 0 } };
  }

  private route(method: string, path: string, ctx: Ctx, authorized: boolean): Reply {
    const seg = path.split('/').slice(1);
    const [a, b, c, d, e, f] = seg;
    const n = seg.length;
    const is = (m: string) => method === m;

    // Routes without Authorization: interaction callbacks and webhooks of interaction tokens.
    if (a === 'interactions' && n === 4 && d === 'callback' && is('POST'))
      return this.onCallback(b!, c!, ctx);
    if (a === 'webhooks' && n >= 3) return this.onWebhook(method, b!, c!, seg.slice(3), ctx);
    if (a === 'gateway' && n === 1 && is('GET')) return { status: 200, body: { url: this.gatewayUrl } };

    if (!authorized) return apiError(401, 0, '401: Unauthorized');

    if (a === 'gateway' && b === 'bot' && n === 2 && is('GET')) {
      return {
        status: 200,
        body: {
          url: this.gatewayUrl,
          shards: 1,
          session_start_limit: { total: 1000, remaining: 1000, reset_after: 0, max_concurrency: 1 },
        },
      };
    }
    if (a === 'users' && n === 2 && is('GET')) {
      if (b === '@me' || b === this.botUserId) return { status: 200, body: this.botUser };
      const u = this.users.get(b!);
      return u ? { status: 200, body: this.apiUser(u) } : apiError(404, 10013, 'Unknown User');
    }
    if (
      ((a === 'applications' && n === 2) || (a === 'oauth2' && b === 'applications' && n === 3)) &&
      is('GET')
    ) {
      if ((n === 2 ? b : c) !== '@me') return apiError(404, 0, '404: Not Found');
      return {
        status: 200,
        body: {
          id: this.applicationId,
          name: this.botUser.username,
          icon: null,
          description: '',
          bot_public: false,
          bot_require_code_grant: false,
          flags: 0,
          bot: this.botUser,
          owner: { id: '1170000000000000001', username: 'owner', discriminator: '0', avatar: null },
          verify_key: '0'.repeat(64),
          team: null,
        },
      };
    }
    if (a === 'applications' && c === 'commands' && (n === 3 || n === 4)) {
      return this.onCommands(method, b!, null, d, ctx);
    }
    if (a === 'applications' && c === 'guilds' && e === 'commands' && (n === 5 || n === 6)) {
      return this.onCommands(method, b!, d!, f, ctx);
    }
    if (a === 'guilds' && is('GET')) {
      if (b !== this.guild.id) return apiError(404, 10004, 'Unknown Guild');
      if (n === 2) return { status: 200, body: this.apiGuild() };
      if (n === 3 && c === 'roles') return { status: 200, body: this.apiRoles() };
      if (n === 3 && c === 'channels') {
        return { status: 200, body: this.guild.channels.map((ch) => this.apiChannel(ch.id)) };
      }
      if (n === 3 && c === 'members') {
        const limit = Number(ctx.query.limit ?? 1);
        const all = [this.botMember(), ...[...this.users.values()].map((u) => this.apiMember(u))];
        return { status: 200, body: all.slice(0, limit) };
      }
      if (n === 4 && c === 'members') {
        if (d === this.botUserId) return { status: 200, body: this.botMember() };
        const u = this.users.get(d!);
        return u ? { status: 200, body: this.apiMember(u) } : apiError(404, 10007, 'Unknown Member');
      }
    }
    if (a === 'channels' && n >= 2) return this.onChannel(method, b!, seg.slice(2), ctx);
    return apiError(404, 0, '404: Not Found');
  }

  private onCommands(
    method: string,
    app: string,
    guildId: string | null,
    id: string | undefined,
    ctx: Ctx,
  ): Reply {
    if (app !== this.applicationId || (guildId !== null && guildId !== this.guild.id)) {
      return apiError(403, 50001, 'Missing Access');
    }
    const key = guildId ?? 'global';
    const list = this.commandStore.get(key)!;
    const make = (body: Json, keepId?: string): Json => ({
      ...body,
      type: body.type ?? 1,
      id: keepId ?? this.nextId(),
      application_id: this.applicationId,
      ...(guildId ? { guild_id: guildId } : {}),
      version: this.nextId(),
    });
    const same = (x: Json, body: Json) => x.name === body.name && (x.type ?? 1) === (body.type ?? 1);
    if (id === undefined) {
      if (method === 'GET') return { status: 200, body: list };
      if (method === 'PUT') {
        if (!Array.isArray(ctx.body)) return apiError(400, 50035, 'Invalid Form Body');
        const next = ctx.body.map((body: Json) => make(body, list.find((x) => same(x, body))?.id));
        this.commandStore.set(key, next);
        return { status: 200, body: next };
      }
      if (method === 'POST') {
        const i = list.findIndex((x) => same(x, ctx.body));
        const cmd = make(ctx.body, i >= 0 ? list[i]!.id : undefined);
        if (i >= 0) list[i] = cmd;
        else list.push(cmd);
        return { status: i >= 0 ? 200 : 201, body: cmd };
      }
    } else {
      const i = list.findIndex((x) => x.id === id);
      if (i < 0) return apiError(404, 10063, 'Unknown application command');
      if (method === 'GET') return { status: 200, body: list[i] };
      if (method === 'PATCH') {
        list[i] = { ...list[i], ...ctx.body, id, version: this.nextId() };
        return { status: 200, body: list[i] };
      }
      if (method === 'DELETE') {
        list.splice(i, 1);
        return { status: 204 };
      }
    }
    return apiError(405, 0, '405: Method Not Allowed');
  }

  private onChannel(method: string, channelId: string, rest: string[], ctx: Ctx): Reply {
    if (!this.channel(channelId)) return apiError(404, 10003, 'Unknown Channel');
    const [what, messageId, extra] = rest;
    if (what === undefined && method === 'GET') return { status: 200, body: this.apiChannel(channelId) };
    if (what === 'typing' && rest.length === 1 && method === 'POST') return { status: 204 };
    if (what !== 'messages' || extra !== undefined) return apiError(404, 0, '404: Not Found');
    if (messageId === undefined) {
      if (method === 'GET') {
        const limit = Math.min(Number(ctx.query.limit ?? 50), 100);
        const list = (this.byChannel.get(channelId) ?? []).filter((m) => !latest(m).deleted);
        return {
          status: 200,
          body: list
            .reverse()
            .slice(0, limit)
            .map((m) => this.apiMessage(m)),
        };
      }
      if (method === 'POST') {
        const invalid = validate(ctx.body, true);
        if (invalid) return invalid;
        const m = this.createMessage(channelId, ctx.body, null, 0);
        return { status: 200, body: this.apiMessage(m) };
      }
      return apiError(405, 0, '405: Method Not Allowed');
    }
    const m = this.existing(messageId);
    if (!m?.inChannel || latest(m).channelId !== channelId) return apiError(404, 10008, 'Unknown Message');
    return this.onMessage(method, m, ctx);
  }

  /** GET, PATCH or DELETE of one message, in a channel or through an interaction's webhook. */
  private onMessage(method: string, m: StoredMessage, ctx: Ctx): Reply {
    if (method === 'GET') return { status: 200, body: this.apiMessage(m) };
    if (method === 'PATCH') {
      const invalid = validate(ctx.body, false);
      if (invalid) return invalid;
      this.editMessage(m, ctx.body);
      return { status: 200, body: this.apiMessage(m) };
    }
    if (method === 'DELETE') {
      this.removeMessage(m);
      return { status: 204 };
    }
    return apiError(405, 0, '405: Method Not Allowed');
  }

  private onCallback(id: string, token: string, ctx: Ctx): Reply {
    const s = this.interactionsById.get(id);
    if (!s || s.token !== token) return apiError(404, 10062, 'Unknown interaction');
    if (s.callbacks.length > 0) return apiError(400, 40060, 'Interaction has already been acknowledged.');
    if (ctx.at - s.sentAt > this.ackDeadlineMs) return apiError(404, 10062, 'Unknown interaction');
    const type = Number(ctx.body?.type);
    const data: Json = ctx.body?.data ?? {};
    const allowed = s.type === 2 ? [4, 5, 9] : s.type === 3 ? [4, 5, 6, 7, 9] : s.type === 4 ? [8] : [];
    if (!allowed.includes(type)) {
      return apiError(400, 50035, 'Invalid Form Body', {
        type: {
          _errors: [{ code: 'BASE_TYPE_CHOICES', message: `Value must be one of {${allowed.join(', ')}}.` }],
        },
      });
    }
    if (type === 4 || type === 7) {
      const invalid = validate(data, type === 4);
      if (invalid) return invalid;
    }
    if (type === 8) {
      const choices: Json[] = Array.isArray(data.choices) ? data.choices : [];
      const errors: Json = {};
      if (choices.length > 25) {
        errors.choices = {
          _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: 'Must be 25 or fewer in length.' }],
        };
      }
      choices.forEach((ch, i) => {
        const name = String(ch?.name ?? '');
        if (name.length < 1 || name.length > 100) {
          errors.choices ??= {};
          errors.choices[i] = {
            name: {
              _errors: [{ code: 'BASE_TYPE_BAD_LENGTH', message: 'Must be between 1 and 100 in length.' }],
            },
          };
        }
      });
      if (Object.keys(errors).length) return apiError(400, 50035, 'Invalid Form Body', { data: errors });
    }
    let message: StoredMessage | null = null;
    if (type === 4 || type === 5) {
      // A deferred reply (5) is empty and loading until its first edit.
      const body = type === 4 ? data : { flags: data.flags };
      message = this.createMessage(s.channelId, body, s, 20, type === 5 ? LOADING : 0);
      s.originalId = latest(message).id;
      s.originalFrom = 0;
    } else if (type === 6 || type === 7) {
      message = this.existing(s.componentMessageId!) ?? null;
      if (!message) return apiError(404, 10008, 'Unknown Message');
      s.originalId = latest(message).id;
      s.originalFrom = message.versions.length - 1;
      if (type === 7) this.editMessage(message, data);
    }
    s.callbacks.push({ type, data, at: ctx.at });
    if (ctx.query.with_response !== 'true') return { status: 204 };
    const v = message ? latest(message) : null;
    return {
      status: 200,
      body: {
        interaction: {
          id: s.id,
          type: s.type,
          response_message_id: v?.id,
          response_message_loading: v ? (v.flags & LOADING) !== 0 : undefined,
          response_message_ephemeral: v ? (v.flags & EPHEMERAL) !== 0 : undefined,
        },
        resource: message ? { type, message: this.apiMessage(message) } : { type },
      },
    };
  }

  private onWebhook(method: string, app: string, token: string, rest: string[], ctx: Ctx): Reply {
    const s = this.interactionsByToken.get(token);
    if (app !== this.applicationId || !s) return apiError(404, 10015, 'Unknown Webhook');
    if (rest.length === 0 && method === 'POST') {
      if (s.callbacks.length === 0) return apiError(404, 10015, 'Unknown Webhook');
      const invalid = validate(ctx.body, true);
      if (invalid) return invalid;
      const m = this.createMessage(s.channelId, ctx.body, s, 0);
      s.followUpIds.push(latest(m).id);
      return { status: 200, body: this.apiMessage(m) };
    }
    if (rest.length !== 2 || rest[0] !== 'messages') return apiError(404, 0, '404: Not Found');
    const ref = rest[1]!;
    const id =
      ref === '@original' ? s.originalId : s.followUpIds.includes(ref) || ref === s.originalId ? ref : null;
    const m = id ? this.existing(id) : undefined;
    if (!m) return apiError(404, 10008, 'Unknown Message');
    return this.onMessage(method, m, ctx);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of [...this.waiters]) w.fail(new Error('fake Discord closed while waiting'));
    for (const ws of this.wss.clients) ws.terminate();
    this.live = null;
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
