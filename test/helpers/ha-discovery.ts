/**
 * Home Assistant's MQTT discovery schemas, as its source documents them
 * (homeassistant/components/mqtt/{schemas,switch,sensor,button,binary_sensor}.py
 * and the sensor component's DEVICE_CLASS_UNITS / DEVICE_CLASS_STATE_CLASSES),
 * for the entity types PiPDU announces. Stricter than Home Assistant in one
 * way: an unknown key is an error here (HA drops it silently, hiding typos).
 * Full key names only (HA also takes abbreviations such as `stat_t`).
 */

const TOPIC_LEVEL = /^[A-Za-z0-9_-]+$/;

/** Keys every entity may carry (MQTT_ENTITY_COMMON_SCHEMA, availability, attributes). */
const COMMON = new Set([
  'name',
  'unique_id',
  'default_entity_id',
  'device',
  'origin',
  'availability',
  'availability_mode',
  'availability_topic',
  'payload_available',
  'payload_not_available',
  'entity_category',
  'enabled_by_default',
  'icon',
  'json_attributes_topic',
  'qos',
  'encoding',
]);

interface EntitySchema {
  required: string[];
  optional: string[];
  deviceClasses: string[];
}

const SCHEMAS: Record<string, EntitySchema> = {
  switch: {
    required: ['command_topic'],
    optional: [
      'state_topic',
      'payload_on',
      'payload_off',
      'state_on',
      'state_off',
      'optimistic',
      'retain',
      'device_class',
      'value_template',
      'command_template',
    ],
    deviceClasses: ['outlet', 'switch'],
  },
  sensor: {
    required: ['state_topic'],
    optional: [
      'device_class',
      'unit_of_measurement',
      'state_class',
      'suggested_display_precision',
      'expire_after',
      'force_update',
      'value_template',
    ],
    deviceClasses: ['apparent_power', 'power', 'current', 'energy', 'voltage'],
  },
  button: {
    required: ['command_topic'],
    optional: ['payload_press', 'retain', 'device_class', 'command_template'],
    deviceClasses: ['identify', 'restart', 'update'],
  },
  binary_sensor: {
    required: ['state_topic'],
    optional: [
      'payload_on',
      'payload_off',
      'device_class',
      'expire_after',
      'force_update',
      'off_delay',
      'value_template',
    ],
    deviceClasses: ['connectivity', 'problem', 'power', 'running'],
  },
};

/** DEVICE_CLASS_UNITS for the sensor classes PiPDU uses. */
const UNITS: Record<string, string[]> = {
  apparent_power: ['mVA', 'VA', 'kVA'],
  power: ['mW', 'W', 'kW', 'MW', 'GW', 'TW'],
  current: ['mA', 'A'],
  energy: ['J', 'kJ', 'MJ', 'GJ', 'mWh', 'Wh', 'kWh', 'MWh', 'GWh', 'TWh', 'cal', 'kcal', 'Mcal', 'Gcal'],
  voltage: ['µV', 'mV', 'V', 'kV', 'MV'],
};

/** DEVICE_CLASS_STATE_CLASSES for the same classes. */
const STATE_CLASSES: Record<string, string[]> = {
  apparent_power: ['measurement'],
  power: ['measurement'],
  current: ['measurement'],
  energy: ['total', 'total_increasing'],
  voltage: ['measurement'],
};

function validPublishTopic(topic: unknown): boolean {
  return typeof topic === 'string' && topic.length > 0 && !/[+#\0]/.test(topic);
}

/** valid_subscribe_topic: `+` and `#` only as whole levels, `#` last. */
function validSubscribeTopic(topic: unknown): boolean {
  if (typeof topic !== 'string' || topic.length === 0 || topic.includes('\0')) return false;
  const levels = topic.split('/');
  return levels.every(
    (level, i) =>
      (!level.includes('+') || level === '+') &&
      (!level.includes('#') || (level === '#' && i === levels.length - 1)),
  );
}

/** Every problem with one discovery message (empty: valid). */
export function checkDiscovery(
  topic: string,
  config: Record<string, unknown>,
  prefix = 'homeassistant',
): string[] {
  const problems: string[] = [];
  const parts = topic.split('/');
  const component = parts[1] ?? '';
  const schema = SCHEMAS[component];
  if (parts[0] !== prefix || parts.at(-1) !== 'config' || !(parts.length === 4 || parts.length === 5)) {
    problems.push(`topic ${topic} is not <prefix>/<component>/[<node_id>/]<object_id>/config`);
  }
  if (!parts.slice(2, -1).every((level) => TOPIC_LEVEL.test(level)))
    problems.push(`node or object id in ${topic}`);
  if (!schema) return [...problems, `unknown component ${component}`];
  for (const key of schema.required) if (!(key in config)) problems.push(`${component}: ${key} is required`);
  for (const key of Object.keys(config)) {
    if (!COMMON.has(key) && !schema.required.includes(key) && !schema.optional.includes(key)) {
      problems.push(`${component}: unknown key ${key}`);
    }
  }
  for (const key of ['command_topic']) {
    if (key in config && !validPublishTopic(config[key])) problems.push(`${key} is not a publish topic`);
  }
  for (const key of ['state_topic', 'json_attributes_topic', 'availability_topic']) {
    if (key in config && !validSubscribeTopic(config[key])) problems.push(`${key} is not a subscribe topic`);
  }
  if (typeof config.unique_id !== 'string' || config.unique_id === '')
    problems.push('unique_id must be a string');
  if (
    'default_entity_id' in config &&
    !new RegExp(`^${component}\\.[a-z0-9_]+$`).test(String(config.default_entity_id))
  ) {
    problems.push(`default_entity_id must be ${component}.<slug>`);
  }
  if (config.device_class !== undefined && !schema.deviceClasses.includes(String(config.device_class))) {
    problems.push(`${component}: device_class ${String(config.device_class)} is not one of HA's`);
  }
  if ('qos' in config && ![0, 1, 2].includes(config.qos as number)) problems.push('qos must be 0, 1 or 2');
  for (const key of ['optimistic', 'retain']) {
    if (key in config && typeof config[key] !== 'boolean') problems.push(`${key} must be a boolean`);
  }
  // Availability: a single topic or a list, not both (vol.Exclusive).
  if ('availability' in config && 'availability_topic' in config) {
    problems.push('availability and availability_topic are exclusive');
  }
  if ('availability' in config) {
    const list = config.availability;
    if (!Array.isArray(list) || list.length === 0) problems.push('availability must be a non-empty list');
    else
      for (const entry of list as Array<Record<string, unknown>>) {
        if (!validSubscribeTopic(entry.topic)) problems.push('availability entries need a topic');
        for (const key of Object.keys(entry)) {
          if (!['topic', 'payload_available', 'payload_not_available', 'value_template'].includes(key)) {
            problems.push(`availability: unknown key ${key}`);
          }
        }
      }
  }
  if ('availability_mode' in config && !['all', 'any', 'latest'].includes(String(config.availability_mode))) {
    problems.push('availability_mode must be all, any or latest');
  }
  // The device needs at least one identifier or connection (validate_device_has_at_least_one_identifier).
  const device = config.device as Record<string, unknown> | undefined;
  if (device) {
    const ids = device.identifiers;
    const connections = device.connections;
    if (!(Array.isArray(ids) && ids.length > 0) && !(Array.isArray(connections) && connections.length > 0)) {
      problems.push('device needs identifiers or connections');
    }
    const known = [
      'identifiers',
      'connections',
      'manufacturer',
      'model',
      'model_id',
      'name',
      'hw_version',
      'serial_number',
      'sw_version',
      'via_device',
      'suggested_area',
      'configuration_url',
    ];
    for (const key of Object.keys(device))
      if (!known.includes(key)) problems.push(`device: unknown key ${key}`);
    if (
      device.configuration_url !== undefined &&
      !/^(https?:\/\/|homeassistant:\/\/)/.test(String(device.configuration_url))
    ) {
      problems.push('device.configuration_url must be an http(s) URL');
    }
  }
  const origin = config.origin as Record<string, unknown> | undefined;
  if (origin !== undefined && typeof origin.name !== 'string') problems.push('origin.name is required');
  if (component === 'sensor') {
    const deviceClass = config.device_class as string | undefined;
    const unit = config.unit_of_measurement as string | undefined;
    const stateClass = config.state_class as string | undefined;
    if (deviceClass && UNITS[deviceClass] && (unit === undefined || !UNITS[deviceClass].includes(unit))) {
      problems.push(`sensor: unit ${String(unit)} is not valid for device_class ${deviceClass}`);
    }
    if (deviceClass && stateClass && !(STATE_CLASSES[deviceClass] ?? []).includes(stateClass)) {
      problems.push(`sensor: state_class ${stateClass} is not valid for device_class ${deviceClass}`);
    }
    if ('suggested_display_precision' in config) {
      const precision = config.suggested_display_precision;
      if (!Number.isInteger(precision) || (precision as number) < 0)
        problems.push('suggested_display_precision');
    }
  }
  return problems;
}
