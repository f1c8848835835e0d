import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PermissionFlagsBits } from 'discord.js';
import { commands } from '../commands/index.js';

// What Discord registers: who sees which command, where it can be used, and the options.

const json = Object.fromEntries(commands.map((command) => [command.data.name, command.data.toJSON()]));

test('admin commands carry default_member_permissions, so Discord hides them from everyone else', () => {
  const manageGuild = PermissionFlagsBits.ManageGuild.toString();
  assert.equal(json.pdu?.default_member_permissions, manageGuild);
  assert.equal(json.sockets?.default_member_permissions, manageGuild);
  assert.equal(
    json.socket?.default_member_permissions ?? null,
    null,
    '/socket is for everyone (the service checks)',
  );
  assert.equal(json.status?.default_member_permissions ?? null, null);
});

test('every command is for the server only: contexts and integration types, no deprecated dm_permission', () => {
  for (const [name, command] of Object.entries(json)) {
    assert.deepEqual(command.contexts, [0], `${name}: guild only`);
    assert.deepEqual(command.integration_types, [0], `${name}: installed in a guild`);
    assert.equal(
      JSON.parse(JSON.stringify(command)).dm_permission,
      undefined,
      `${name}: no dm_permission sent`,
    );
  }
});

test('/socket toggle and cycle take force like off (and the CLI); /socket cancel is there for operators', () => {
  const subs = Object.fromEntries(
    (json.socket?.options ?? []).map((sub) => [
      sub.name,
      sub as { options?: Array<{ name: string; type: number }> },
    ]),
  );
  for (const name of ['off', 'toggle', 'cycle']) {
    const force = subs[name]?.options?.find((option) => option.name === 'force');
    assert.equal(force?.type, 5, `${name} has a boolean force`);
  }
  assert.ok(subs.cancel, '/socket cancel');
  for (const sub of Object.values(subs)) {
    for (const option of sub.options ?? []) assert.ok(option.name.length <= 32);
  }
});
