import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import type Bottleneck from 'bottleneck/light.js';
import type { IClientOptions, IPublishPacket, MqttClient } from 'mqtt';
import type { AuditEntry } from '../audit/audit-log.js';
import { isLoopbackHost, parseListen } from '../config/listen.js';
import type { MqttConfig, PduConfig } from '../config/schema.js';
import type { Energy } from '../energy/energy.js';
import { PduError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Actor, Requester } from '../pdu/actor.js';
import type { PduService } from '../pdu/pdu-service.js';
import type { RequestOutcome } from '../pdu/request.js';
import type { SocketInfo } from '../pdu/types.js';
import { MAX_COMMAND_BYTES, parseCommand } from './command.js';
import { type DiscoveryMessage, discoveryMessages, energyKwh } from './discovery.js';
import { loadMqtt } from './load-mqtt.js';
import { moved, type Readings } from './readings.js';
import { Topics } from './topics.js';

/** Timings; the defaults suit a PDU, tests and benchmarks shorten them. */
export interface MqttTiming {
  /** Least time between two telemetry messages of one socket (bottleneck's minTime). */
  throttleMs: number;
  /** Every socket's state and readings are published again this often. */
  refreshMs: number;
  /** Reconnect back-off: first wait, doubled at each failure up to maxMs. */
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** After the broker refused the credentials: the next try, this much later. */
  authRetryMs: number;
}

const DEFAULT_TIMING: MqttTiming = {
  throttleMs: 5000,
  refreshMs: 300_000,
  backoffInitialMs: 1000,
  backoffMaxMs: 60_000,
  authRetryMs: 600_000,
};

/** How long stop() waits for the `offline` message and the disconnect. */
const STOP_WAIT_MS = 2000;
/** CONNACK reason codes that mean the credentials (or this client) are refused: retrying soon cannot help. */
const REFUSED_CODES = new Map<number, string>([
  [4, 'bad user name or password'],
  [5, 'not authorized'],
  [134, 'bad user name or password'],
  [135, 'not authorized'],
  [138, 'banned'],
  [140, 'bad authentication method'],
]);

export interface MqttBridgeDeps {
  service: PduService;
  logger: Logger;
  /**
   * The energy part: each socket's kWh (its energy topic and `total_increasing`
   * sensor) and the alarms raised (problem sensors); absent: neither.
   */
  energy?: Pick<Energy, 'withEnergy' | 'activeAlarms'>;
  /** Where `passwordEnv` is looked up; default process.env. */
  env?: NodeJS.ProcessEnv;
  timing?: Partial<MqttTiming>;
}

/** What the bridge tells its owner (and tests) about the broker connection. */
export interface MqttBridgeEvents {
  /** Connected, state and discovery published, commands subscribed. */
  ready: [];
  /** The connection is gone; reconnecting after `retryInMs`. */
  disconnected: [event: { retryInMs: number; refused: boolean }];
}

/**
 * The PDU on an MQTT broker, for Home Assistant and every other
 * home-automation system: one more interface on the service's entry point.
 * The topic layout is in topics.ts, the Home Assistant discovery in
 * discovery.ts.
 *
 * Rules:
 * - State out, retained: availability (`online`, and a last will saying
 *   `offline`), the board (online, driver, identity), per socket its state
 *   from the board, attributes, pending work, power and current (and energy
 *   where metered). State changes go out at once; readings go out when they
 *   move beyond a deadband, at most every `throttleMs` per socket (a
 *   bottleneck limiter per socket), and everything again every `refreshMs`.
 *   Audit entries go to a non-retained topic.
 * - Commands in (`set` ON/OFF/TOGGLE, `cycle` with an optional off-time)
 *   become one `service.submit()` each, acting as `mqtt.role`; the service
 *   decides and audits, and the result or refusal is published on the
 *   socket's `result` topic. A command carrying the retain flag is never
 *   executed (docs/decisions.md #15): it is refused, audited and logged. The
 *   commands are subscribed only after the state is published at each
 *   connect (a clean session, no queued messages), with MQTT 5's
 *   retain-as-published so a retained command stays recognisable.
 * - Broker faults: the connection is retried with back-off (1 s doubling to
 *   60 s), state and discovery are published again, nothing is switched.
 *   Refused credentials are one clear error and a retry only after
 *   `authRetryMs` (10 min), never a storm. Nothing is queued while
 *   disconnected: the reconnect publishes the state as it is then.
 * - `start()` never waits for the broker, and a broker fault never reaches
 *   the rest of the daemon. `stop()` publishes `offline`, disconnects, and
 *   leaves no timer or limiter behind.
 * - The config in force is read from `service.config` when it is needed
 *   (role, commands, discovery, socket names follow a reload); what needs a
 *   new connection (url, credentials, client id, base topic) needs a restart.
 */
export class MqttBridge {
  readonly events = new EventEmitter<MqttBridgeEvents>();
  private readonly service: PduService;
  private readonly energy: Pick<Energy, 'withEnergy' | 'activeAlarms'> | null;
  private readonly logger: Logger;
  private readonly env: NodeJS.ProcessEnv;
  private readonly timing: MqttTiming;
  /** The section the connection was made with. */
  private config!: MqttConfig;
  private topics!: Topics;
  private actor!: Actor;
  private client: MqttClient | null = null;
  private limiters: Bottleneck[] = [];
  /** A telemetry message of this socket waits in its limiter: later readings ride along. */
  private readonly waiting = new Set<number>();
  /** Retained payloads as last published, by topic: unchanged ones are not sent again. */
  private readonly published = new Map<string, string>();
  /** The readings last published per socket (the deadband's reference). */
  private readonly sentReadings = new Map<number, Readings>();
  /** Discovery config topics published in this run (what a rename or reload must clear). */
  private discoveryTopics = new Set<string>();
  private reconnectTimer: NodeJS.Timeout | null = null;
  private refreshTimer: NodeJS.Timeout | null = null;
  private backoffMs = 0;
  /** The broker refused the credentials at the last attempt. */
  private refused = false;
  /** Counts connections: work started for an older one stops when it sees a newer one. */
  private session = 0;
  private running = false;
  private failures = 0;
  private version = 'unknown';

  constructor(deps: MqttBridgeDeps) {
    this.service = deps.service;
    this.energy = deps.energy ?? null;
    this.logger = deps.logger.child({ component: 'mqtt' });
    this.env = deps.env ?? process.env;
    this.timing = { ...DEFAULT_TIMING, ...deps.timing };
  }

  /** Whether the broker connection is up. */
  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /**
   * Reads the mqtt section, loads the mqtt package and starts connecting;
   * resolves before the broker answers. Rejects (changing nothing) when the
   * section is missing, the password variable is not set or a TLS file
   * cannot be read.
   */
  async start(): Promise<void> {
    if (this.running) return;
    const config = this.service.config.mqtt;
    if (!config) throw new PduError('BAD_CONFIG', 'the config has no mqtt section');
    const options = await this.clientOptions(config);
    // Loaded only for a daemon that runs MQTT: both cost memory the others keep.
    const [{ connect }, { default: BottleneckClass }] = await Promise.all([
      loadMqtt(),
      import('bottleneck/light.js'),
    ]);
    this.version = await packageVersion();
    this.config = config;
    this.topics = Topics.for(this.service.config);
    this.actor = { kind: 'mqtt', id: options.clientId as string };
    this.limiters = this.service
      .list()
      .map(() => new BottleneckClass({ maxConcurrent: 1, minTime: this.timing.throttleMs }));
    this.running = true;
    this.backoffMs = this.timing.backoffInitialMs;
    const { events } = this.service;
    events.on('socketChanged', this.onSocket);
    events.on('pending', this.onSocket);
    events.on('telemetry', this.onTelemetry);
    events.on('boardOnline', this.onBoard);
    events.on('boardOffline', this.onBoard);
    events.on('action', this.onAction);
    events.on('reloaded', this.onReloaded);
    events.on('alarm', this.onAlarm);
    this.refreshTimer = setInterval(() => {
      if (this.connected) void this.publishState(this.session, true);
    }, this.timing.refreshMs);
    this.refreshTimer.unref();
    const client = connect(config.url, options);
    this.client = client;
    client.on('connect', () => void this.onConnect());
    client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet));
    client.on('error', (error) => this.onError(error));
    client.on('disconnect', (packet) => {
      this.logger.warn(
        { reasonCode: packet.reasonCode, reason: packet.properties?.reasonString },
        'the MQTT broker closed the connection',
      );
    });
    client.on('close', () => this.onClose());
    this.logger.info(
      { url: redact(config.url), clientId: options.clientId, base: this.topics.base },
      'MQTT connecting',
    );
  }

  /** Publishes `offline`, disconnects and removes every timer, limiter and listener. Never rejects. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.session++;
    const { events } = this.service;
    events.off('socketChanged', this.onSocket);
    events.off('pending', this.onSocket);
    events.off('telemetry', this.onTelemetry);
    events.off('boardOnline', this.onBoard);
    events.off('boardOffline', this.onBoard);
    events.off('action', this.onAction);
    events.off('reloaded', this.onReloaded);
    events.off('alarm', this.onAlarm);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.reconnectTimer = null;
    this.refreshTimer = null;
    const limiters = this.limiters;
    this.limiters = [];
    this.waiting.clear();
    const client = this.client;
    this.client = null;
    let bound: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      bound = setTimeout(resolve, STOP_WAIT_MS);
    });
    await Promise.race([
      (async () => {
        await Promise.all(
          limiters.map((limiter) =>
            limiter
              .stop({ dropWaitingJobs: true })
              .then(() => limiter.disconnect())
              .catch(() => {}),
          ),
        );
        if (!client) return;
        if (client.connected) {
          // A clean disconnect does not fire the will: say offline ourselves.
          await client
            .publishAsync(this.topics.availability, 'offline', { qos: 1, retain: true })
            .catch(() => {});
          await client.endAsync().catch(() => {});
        } else {
          await client.endAsync(true).catch(() => {});
        }
      })(),
      deadline,
    ]);
    clearTimeout(bound);
    if (client && !client.disconnected) client.end(true);
  }

  // --- the connection -----------------------------------------------------------

  private async clientOptions(config: MqttConfig): Promise<IClientOptions> {
    const options: IClientOptions = {
      clientId: config.clientId ?? `pipdu-${this.service.config.name}`,
      protocolVersion: 5,
      clean: true,
      properties: { sessionExpiryInterval: 0 },
      // The bridge reconnects itself, with back-off, and subscribes itself after publishing the state.
      reconnectPeriod: 0,
      resubscribe: false,
      connectTimeout: 10_000,
      keepalive: 30,
      queueQoSZero: false,
      // mqtt-packet otherwise pre-builds a 2-byte Buffer for each of the 65536
      // numbers (~6 MB kept for good); a few messages a second build their own.
      writeCache: false,
      will: {
        topic: Topics.for(this.service.config).availability,
        payload: Buffer.from('offline'),
        qos: 1,
        retain: true,
      },
    };
    if (config.username !== undefined) options.username = config.username;
    if (config.passwordEnv !== undefined) {
      const password = this.env[config.passwordEnv];
      if (password === undefined || password === '') {
        throw new PduError(
          'BAD_CONFIG',
          `mqtt.passwordEnv names ${config.passwordEnv}, which is not set: MQTT is off`,
        );
      }
      options.password = password;
    }
    if (config.tls) {
      const read = async (key: 'ca' | 'cert' | 'key'): Promise<Buffer | undefined> => {
        const path = config.tls?.[key];
        if (path === undefined) return undefined;
        try {
          return await readFile(path);
        } catch (error) {
          throw new PduError(
            'BAD_CONFIG',
            `mqtt.tls.${key}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}): MQTT is off`,
          );
        }
      };
      const [ca, cert, key] = await Promise.all([read('ca'), read('cert'), read('key')]);
      if (ca) options.ca = ca;
      if (cert) options.cert = cert;
      if (key) options.key = key;
    }
    return options;
  }

  /**
   * Connected: the state first (retained, so a subscriber sees it at once),
   * then discovery, then `online`, and only then the commands, so nothing
   * that waited at the broker is taken for a command (docs/decisions.md #15).
   */
  private async onConnect(): Promise<void> {
    const session = ++this.session;
    const client = this.client;
    if (!client) return;
    // Small messages at once: Nagle's algorithm against delayed ACKs costs ~40 ms a command.
    (client.stream as { setNoDelay?: (noDelay: boolean) => void }).setNoDelay?.(true);
    this.refused = false;
    this.backoffMs = this.timing.backoffInitialMs;
    this.published.clear();
    this.sentReadings.clear();
    try {
      await this.publishState(session, true);
      await this.publishDiscovery(session);
      await this.publish(this.topics.availability, 'online', { force: true });
      if (session !== this.session) return;
      const prefix = this.service.config.mqtt?.discovery.prefix ?? this.config.discovery.prefix;
      const subscriptions: Record<string, { qos: 1; rap?: boolean }> = {
        [`${prefix}/status`]: { qos: 1 },
        [`${prefix}/+/${this.topics.nodeId}/+/config`]: { qos: 1 },
      };
      if (this.service.config.mqtt?.commands ?? this.config.commands) {
        for (const filter of this.topics.commandFilters) subscriptions[filter] = { qos: 1, rap: true };
      }
      await client.subscribeAsync(subscriptions);
      if (session !== this.session) return;
      this.logger.info(
        { base: this.topics.base, failures: this.failures },
        this.failures > 0 ? 'MQTT connected again; state published' : 'MQTT connected; state published',
      );
      this.failures = 0;
      this.events.emit('ready');
    } catch (error) {
      // The connection went away meanwhile: the reconnect publishes everything again.
      this.logger.debug({ err: describe(error) }, 'MQTT publishing after connect failed');
    }
  }

  private onError(error: Error & { code?: unknown }): void {
    const code = typeof error.code === 'number' ? error.code : null;
    const refusal = code === null ? undefined : REFUSED_CODES.get(code);
    if (refusal) {
      this.refused = true;
      this.logger.error(
        {
          url: redact(this.config.url),
          username: this.config.username ?? null,
          passwordEnv: this.config.passwordEnv ?? null,
        },
        `the MQTT broker refused the connection (${refusal}): check mqtt.username and the password in mqtt.passwordEnv, and the broker's ACL; trying again in ${Math.round(this.timing.authRetryMs / 1000)} s`,
      );
      return;
    }
    const fields = { err: describe(error), url: redact(this.config.url) };
    if (this.failures === 0) this.logger.warn(fields, 'MQTT connection failed');
    else this.logger.debug(fields, 'MQTT connection failed');
  }

  private onClose(): void {
    if (!this.running || this.reconnectTimer) return;
    this.session++;
    this.failures++;
    const retryInMs = this.refused ? this.timing.authRetryMs : this.backoffMs;
    if (!this.refused) this.backoffMs = Math.min(this.backoffMs * 2, this.timing.backoffMaxMs);
    if (this.failures === 1 && !this.refused) {
      this.logger.warn({ retryInMs }, 'MQTT broker connection lost: reconnecting (nothing is switched)');
    }
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.running) this.client?.reconnect();
    }, retryInMs);
    this.events.emit('disconnected', { retryInMs, refused: this.refused });
  }

  /** Publishes when connected (nothing is queued while not); retained topics skip an unchanged payload. */
  private async publish(
    topic: string,
    payload: string,
    options: { retain?: boolean; qos?: 0 | 1; force?: boolean } = {},
  ): Promise<void> {
    const client = this.client;
    if (!client?.connected) return;
    const retain = options.retain ?? true;
    if (retain) {
      if (!options.force && this.published.get(topic) === payload) return;
      this.published.set(topic, payload);
    }
    try {
      await client.publishAsync(topic, payload, { qos: options.qos ?? 1, retain });
    } catch (error) {
      // Sent again at the next connect.
      if (retain) this.published.delete(topic);
      this.logger.debug({ err: describe(error), topic }, 'MQTT publish failed');
    }
  }

  // --- state out --------------------------------------------------------------

  /** The board and every socket; `force` sends even what did not change (connect, refresh). */
  private async publishState(session: number, force: boolean): Promise<void> {
    const status = this.service.status();
    await this.publishBoard(force);
    for (const socket of status.sockets) {
      if (session !== this.session) return;
      await this.publishSocket(socket, force);
      await this.publishReadings(socket, force);
    }
    await this.publishAlarms(force);
  }

  private async publishBoard(force = false): Promise<void> {
    const { board } = this.service.status();
    await Promise.all([
      this.publish(this.topics.boardAvailability, board.online ? 'online' : 'offline', { force }),
      this.publish(
        this.topics.board,
        JSON.stringify({
          online: board.online,
          driver: board.driver,
          reportsState: board.reportsState,
          identity: board.identity,
        }),
        { force },
      ),
    ]);
  }

  /**
   * The alarms as retained ON/OFF per socket and for the PDU, each with the
   * raised alarms as JSON attributes (nothing where the energy part does not run).
   */
  private async publishAlarms(force = false): Promise<void> {
    if (!this.energy) return;
    const raised = this.energy.activeAlarms();
    const publishOne = (state: string, attributes: string, list: typeof raised) =>
      Promise.all([
        this.publish(state, list.length > 0 ? 'ON' : 'OFF', { force }),
        this.publish(attributes, JSON.stringify({ alarms: list }), { force }),
      ]);
    const pdu = raised.filter((alarm) => alarm.socket === null);
    await Promise.all([
      publishOne(this.topics.alarm, this.topics.alarmAttributes, pdu),
      ...this.service.list().map((socket) =>
        publishOne(
          this.topics.socket(socket.number, 'alarm'),
          this.topics.socket(socket.number, 'alarm/attributes'),
          raised.filter((alarm) => alarm.socket === socket.number),
        ),
      ),
    ]);
  }

  private readonly onAlarm = (): void => {
    void this.publishAlarms();
  };

  /** The socket with its energy figures, where the energy part runs. */
  private metered(socket: SocketInfo): SocketInfo {
    return this.energy ? this.energy.withEnergy(socket) : socket;
  }

  private async publishSocket(socket: SocketInfo, force = false): Promise<void> {
    const n = socket.number;
    await Promise.all([
      this.publish(this.topics.socket(n, 'state'), socket.on === null ? 'None' : socket.on ? 'ON' : 'OFF', {
        force,
      }),
      this.publish(this.topics.socket(n, 'pending'), JSON.stringify(socket.pending), { force }),
      this.publish(
        this.topics.socket(n, 'attributes'),
        JSON.stringify({
          number: n,
          name: socket.name,
          channel: socket.channel,
          protected: socket.protected,
          restore: socket.restore,
          assumed: socket.assumed,
          changedAt: socket.changedAt,
          pending: socket.pending ? (socket.pending.direction ?? socket.pending.action) : null,
        }),
        { force },
      ),
    ]);
  }

  /** Power, current and (where metered) energy of one socket; the deadband's reference moves with them. */
  private async publishReadings(reported: SocketInfo, force = false): Promise<void> {
    const socket = this.metered(reported);
    const n = socket.number;
    this.sentReadings.set(n, { va: socket.watts, currentMa: socket.currentMa });
    // VA, or W for a socket with a power factor below 1 (as its discovery config announces).
    const power = socket.powerFactor < 1 ? socket.realWatts : socket.apparentVa;
    const readings = [
      this.publish(this.topics.socket(n, 'power'), power === null ? 'None' : power.toFixed(1), {
        qos: 0,
        force,
      }),
      this.publish(
        this.topics.socket(n, 'current'),
        socket.currentMa === null ? 'None' : (socket.currentMa / 1000).toFixed(3),
        { qos: 0, force },
      ),
    ];
    const energy = energyKwh(socket);
    if (energy !== null) {
      readings.push(this.publish(this.topics.socket(n, 'energy'), energy.toFixed(4), { qos: 0, force }));
    }
    await Promise.all(readings);
  }

  private readonly onSocket = (event: { socket: SocketInfo }): void => {
    void this.publishSocket(event.socket);
  };

  private readonly onBoard = (): void => {
    void this.publishBoard().then(() => {
      // The board's identity (serial, firmware) is part of the device in Home Assistant.
      if (this.service.boardOnline) return this.publishDiscovery(this.session);
    });
  };

  /** Readings that moved beyond the deadband go out through the socket's limiter (at most one waits). */
  private readonly onTelemetry = (event: { sockets: SocketInfo[] }): void => {
    if (!this.connected) return;
    for (const socket of event.sockets) {
      const n = socket.number;
      if (this.waiting.has(n)) continue;
      const sent = this.sentReadings.get(n);
      if (sent && !moved(sent, socket)) continue;
      const limiter = this.limiters[n - 1];
      if (!limiter) continue;
      this.waiting.add(n);
      limiter
        .schedule(() => {
          this.waiting.delete(n);
          if (!this.running) return Promise.resolve();
          // The reading as it is now: what arrived while this waited rides along.
          return this.publishReadings(this.service.info(n));
        })
        .catch(() => {}); // dropped by stop()
    }
  };

  private readonly onAction = (entry: AuditEntry): void => {
    void this.publish(this.topics.audit, JSON.stringify(entry), { retain: false, qos: 0 });
  };

  private readonly onReloaded = (event: { config: PduConfig }): void => {
    const next = event.config.mqtt;
    if (!next) {
      this.logger.warn('the reloaded config has no mqtt section: restart PiPDU to stop MQTT');
      return;
    }
    const connection = (c: MqttConfig) =>
      JSON.stringify([c.url, c.tls, c.username, c.passwordEnv, c.clientId, c.baseTopic]);
    if (connection(next) !== connection(this.config) || Topics.for(event.config).base !== this.topics.base) {
      this.logger.warn(
        'restart PiPDU to apply the new MQTT connection settings (url, tls, credentials, clientId, baseTopic)',
      );
    }
    const session = this.session;
    const client = this.client;
    void (async () => {
      await this.publishState(session, false);
      await this.publishDiscovery(session);
      if (!client?.connected || session !== this.session) return;
      // Commands switched on or off by the reload.
      if (next.commands) {
        await client
          .subscribeAsync(
            Object.fromEntries(this.topics.commandFilters.map((f) => [f, { qos: 1, rap: true }])),
          )
          .catch(() => {});
      } else {
        await client.unsubscribeAsync(this.topics.commandFilters).catch(() => {});
      }
    })();
  };

  // --- Home Assistant discovery -----------------------------------------------

  /**
   * Publishes the discovery configs (retained) and clears the ones this run
   * published before that are no longer wanted (a renamed socket, discovery
   * switched off, another prefix). Ones left by an earlier run are cleared
   * when the broker hands them back (onMessage).
   */
  private async publishDiscovery(session: number): Promise<void> {
    const mqtt = this.service.config.mqtt ?? this.config;
    const wanted: DiscoveryMessage[] = mqtt.discovery.enabled
      ? discoveryMessages({
          config: this.service.config,
          topics: this.topics,
          prefix: mqtt.discovery.prefix,
          board: this.service.status().board,
          sockets: this.service.list().map((socket) => this.metered(socket)),
          version: this.version,
          dashboardUrl: dashboardUrl(this.service.config),
          alarms: this.energy !== null,
        })
      : [];
    const topics = new Set(wanted.map((message) => message.topic));
    const stale = [...this.discoveryTopics].filter((topic) => !topics.has(topic));
    this.discoveryTopics = topics;
    for (const topic of stale) {
      if (session !== this.session) return;
      this.published.delete(topic);
      await this.clear(topic);
    }
    for (const message of wanted) {
      if (session !== this.session) return;
      await this.publish(message.topic, JSON.stringify(message.config));
    }
  }

  private async clear(topic: string): Promise<void> {
    const client = this.client;
    if (!client?.connected) return;
    await client.publishAsync(topic, '', { qos: 1, retain: true }).catch(() => {});
  }

  // --- commands in ----------------------------------------------------------------

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const prefix = (this.service.config.mqtt ?? this.config).discovery.prefix;
    if (topic === `${prefix}/status`) {
      // Home Assistant (re)started: it forgot what it was told.
      if (!packet.retain && payload.toString() === 'online') {
        this.published.clear();
        void this.publishDiscovery(this.session).then(() => this.publishState(this.session, true));
      }
      return;
    }
    if (topic.startsWith(`${prefix}/`) && topic.endsWith('/config')) {
      // A config an earlier run left (a socket renamed while the daemon was down): removed.
      if (packet.retain && payload.length > 0 && !this.discoveryTopics.has(topic)) {
        this.logger.info({ topic }, 'removing a Home Assistant entity this PDU no longer has');
        void this.clear(topic);
      }
      return;
    }
    const command = this.topics.parseCommand(topic);
    if (command) void this.runCommand(command.socket, command.verb, payload, packet.retain);
  }

  /** One command: refused when retained or malformed (command.ts), else submitted; the outcome is published. */
  private async runCommand(
    socketText: string,
    verb: 'set' | 'cycle',
    payload: Buffer,
    retained: boolean,
  ): Promise<void> {
    const text = payload.length > MAX_COMMAND_BYTES ? null : payload.toString('utf8');
    const number = /^\d{1,2}$/.test(socketText) ? Number(socketText) : Number.NaN;
    const known = number >= 1 && number <= this.service.list().length;
    const resultTopic = `${this.topics.base}/socket/${socketText}/result`;
    const report = (body: Record<string, unknown>) =>
      this.publish(
        resultTopic,
        JSON.stringify({ command: verb, payload: text, ...body, at: new Date().toISOString() }),
        {
          retain: false,
        },
      );
    const refuse = async (error: PduError, audit: boolean) => {
      if (audit) this.service.recordRefusal(this.actor, verb, known ? number : null, error);
      await report({ ok: false, code: error.code, message: error.message });
    };

    if (!known) {
      return refuse(new PduError('UNKNOWN_SOCKET', `there is no socket "${socketText}": use 1..16`), false);
    }
    if (retained) {
      this.logger.warn(
        { topic: `${this.topics.base}/socket/${socketText}/${verb}` },
        'a retained MQTT command was ignored (retained commands are never executed); clear it with an empty retained message',
      );
      return refuse(
        new PduError(
          'BAD_REQUEST',
          'a retained command is never executed (docs/decisions.md #15); nothing was switched: publish commands without the retain flag, and clear this one with an empty retained message',
        ),
        true,
      );
    }
    const command = parseCommand(verb, payload);
    if (!command.ok) return refuse(command.error, true);
    const { action, offTimeMs } = command;
    const mqtt = this.service.config.mqtt ?? this.config;
    const by: Requester = { actor: this.actor, role: mqtt.role, groups: ['mqtt'], confirms: false };
    try {
      const outcome = await this.service.submit({
        socket: number,
        action,
        by,
        options: offTimeMs === undefined ? {} : { offTimeMs },
      });
      await report(describeOutcome(outcome));
    } catch (error) {
      const failure =
        error instanceof PduError
          ? error
          : new PduError('BOARD_ERROR', error instanceof Error ? error.message : String(error));
      // The service audited it.
      await refuse(failure, false);
    }
  }
}

function describeOutcome(outcome: RequestOutcome): Record<string, unknown> {
  if (outcome.kind !== 'switch') return { ok: true };
  const { result } = outcome;
  return {
    ok: true,
    action: result.action,
    changed: result.changed,
    state: result.socket.on === null ? 'None' : result.socket.on ? 'ON' : 'OFF',
    durationMs: result.durationMs,
    ...(result.warnings.length > 0 ? { warnings: result.warnings } : {}),
  };
}

/** The HTTPS API's address as Home Assistant's link to the PDU; null when there is none reachable. */
function dashboardUrl(config: PduConfig): string | null {
  if (!config.api) return null;
  const address = parseListen(config.api.listen);
  if (!address || isLoopbackHost(address.host)) return null;
  const host = address.host === '0.0.0.0' || address.host === '::' ? hostname() : address.host;
  const shown = host.includes(':') ? `[${host}]` : host;
  return `${config.api.tls ? 'https' : 'http'}://${shown}:${address.port}/`;
}

/** A URL without its password, for logs. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(not a URL)';
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** PiPDU's version from package.json (two levels up from src/, three from dist/src/). */
async function packageVersion(): Promise<string> {
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(await readFile(new URL(up, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'pipdu' && pkg.version) return pkg.version;
    } catch {
      // not there: the next candidate
    }
  }
  return 'unknown';
}
