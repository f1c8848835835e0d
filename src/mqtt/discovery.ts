import type { PduConfig, SocketConfig } from '../config/schema.js';
import type { BoardStatus, SocketInfo } from '../pdu/types.js';
import type { Topics } from './topics.js';

/** One Home Assistant discovery message: its retained config topic and the config. */
export interface DiscoveryMessage {
  topic: string;
  config: Record<string, unknown>;
}

export interface DiscoveryContext {
  config: PduConfig;
  topics: Topics;
  prefix: string;
  board: BoardStatus;
  sockets: SocketInfo[];
  /** PiPDU's version, for the device's sw_version and the origin. */
  version: string;
  /** The web dashboard or API, for the device's configuration_url; null for none. */
  dashboardUrl: string | null;
  /** The daemon keeps alarms (the energy part runs): problem sensors per socket and for the PDU. */
  alarms: boolean;
}

/**
 * Home Assistant MQTT discovery (its per-entity form, full key names): one
 * device per PDU and, per socket, a switch (state from the board, never
 * optimistic), power and current sensors, a cycle button (and an energy
 * sensor where the socket reports energy); a connectivity binary sensor for
 * the board.
 *
 * Rules:
 * - Availability of socket entities is the daemon *and* the board
 *   (`availability_mode: all`): with the board offline they show
 *   unavailable, not a stale state. The board's connectivity sensor needs the
 *   daemon only.
 * - Object ids carry the socket's name (`s5_nas_switch`), so a renamed socket
 *   is a new entity and its old one is removed (an empty retained config).
 * - unique_ids start with the node id (the base topic), so PDUs on one broker
 *   never share one.
 */
export function discoveryMessages(context: DiscoveryContext): DiscoveryMessage[] {
  const { config, topics, prefix, board } = context;
  const device: Record<string, unknown> = {
    identifiers: [`pipdu_${topics.nodeId}`],
    name: config.name,
    manufacturer: 'PiPDU',
    model: `PiPDU 16-socket PDU (${board.driver} board)`,
    sw_version: context.version,
  };
  if (board.identity?.serial) device.serial_number = board.identity.serial;
  if (board.identity?.firmware) device.hw_version = board.identity.firmware;
  if (context.dashboardUrl) device.configuration_url = context.dashboardUrl;
  const origin = { name: 'PiPDU', sw_version: context.version };
  const both = {
    availability: [{ topic: topics.availability }, { topic: topics.boardAvailability }],
    availability_mode: 'all',
  };
  const entity = (component: string, objectId: string, body: Record<string, unknown>): DiscoveryMessage => ({
    topic: `${prefix}/${component}/${topics.nodeId}/${objectId}/config`,
    config: {
      ...body,
      unique_id: `${topics.nodeId}_${objectId}`,
      // The entity id Home Assistant gives it first (its successor of the deprecated object_id).
      default_entity_id: `${component}.${`${config.name}_${objectId}`.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}`,
      device,
      origin,
    },
  });

  const messages: DiscoveryMessage[] = [
    entity('binary_sensor', 'board_connectivity', {
      name: 'Relay board',
      device_class: 'connectivity',
      entity_category: 'diagnostic',
      state_topic: topics.boardAvailability,
      payload_on: 'online',
      payload_off: 'offline',
      availability_topic: topics.availability,
      json_attributes_topic: topics.board,
    }),
  ];
  if (context.alarms) {
    messages.push(
      entity('binary_sensor', 'pdu_alarm', {
        name: 'PDU current alarm',
        device_class: 'problem',
        state_topic: topics.alarm,
        payload_on: 'ON',
        payload_off: 'OFF',
        availability_topic: topics.availability,
        json_attributes_topic: topics.alarmAttributes,
      }),
    );
  }
  for (const socket of context.sockets) {
    const socketConfig = config.sockets[socket.number - 1] as SocketConfig;
    const key = objectKey(socket);
    const label = socket.name ? `${socket.name} (socket ${socket.number})` : `Socket ${socket.number}`;
    messages.push(
      entity('switch', `${key}_switch`, {
        ...both,
        name: label,
        device_class: 'outlet',
        command_topic: topics.socket(socket.number, 'set'),
        state_topic: topics.socket(socket.number, 'state'),
        payload_on: 'ON',
        payload_off: 'OFF',
        state_on: 'ON',
        state_off: 'OFF',
        optimistic: false,
        retain: false,
        qos: 1,
        json_attributes_topic: topics.socket(socket.number, 'attributes'),
      }),
      entity('sensor', `${key}_power`, {
        ...both,
        name: `${label} power`,
        ...powerClass(socketConfig),
        state_class: 'measurement',
        suggested_display_precision: 1,
        state_topic: topics.socket(socket.number, 'power'),
      }),
      entity('sensor', `${key}_current`, {
        ...both,
        name: `${label} current`,
        device_class: 'current',
        unit_of_measurement: 'A',
        state_class: 'measurement',
        suggested_display_precision: 2,
        state_topic: topics.socket(socket.number, 'current'),
      }),
      entity('button', `${key}_cycle`, {
        ...both,
        name: `${label} cycle`,
        device_class: 'restart',
        command_topic: topics.socket(socket.number, 'cycle'),
        payload_press: 'PRESS',
        retain: false,
        qos: 1,
      }),
    );
    if (context.alarms) {
      messages.push(
        entity('binary_sensor', `${key}_alarm`, {
          name: `${label} alarm`,
          device_class: 'problem',
          state_topic: topics.socket(socket.number, 'alarm'),
          payload_on: 'ON',
          payload_off: 'OFF',
          availability_topic: topics.availability,
          json_attributes_topic: topics.socket(socket.number, 'alarm/attributes'),
        }),
      );
    }
    if (energyKwh(socket) !== null) {
      messages.push(
        entity('sensor', `${key}_energy`, {
          ...both,
          name: `${label} energy`,
          device_class: 'energy',
          unit_of_measurement: 'kWh',
          state_class: 'total_increasing',
          suggested_display_precision: 3,
          state_topic: topics.socket(socket.number, 'energy'),
        }),
      );
    }
  }
  return messages;
}

/** `s5_nas`, or `s12` for a socket without a name: a rename makes new entities. */
function objectKey(socket: Pick<SocketInfo, 'number' | 'name'>): string {
  return socket.name ? `s${socket.number}_${socket.name.replace(/-/g, '_')}` : `s${socket.number}`;
}

/**
 * Apparent power in VA unless the socket sets a power factor below 1, then
 * real power in W (docs/decisions.md #16; `powerFactor` defaults to 1, the
 * apparent power).
 */
function powerClass(socket: SocketConfig): { device_class: string; unit_of_measurement: string } {
  return socket.powerFactor < 1
    ? { device_class: 'power', unit_of_measurement: 'W' }
    : { device_class: 'apparent_power', unit_of_measurement: 'VA' };
}

/**
 * The socket's energy counter in kWh, when the daemon meters energy (the
 * energy part adds `energy` to SocketInfo); null otherwise. This is the one
 * place the MQTT bridge reads energy from: the energy topic and the energy
 * sensor follow it.
 */
export function energyKwh(socket: SocketInfo): number | null {
  const value = socket.energy?.totalKwh;
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}
