import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Role } from '../src/config/schema.js';
import {
  type Caller,
  type Check,
  canAdminister,
  canCancel,
  canForce,
  canRead,
  canSwitch,
  canSwitchAll,
  forbiddenError,
  hasRole,
  mayEndOff,
  needsConfirmation,
  type PermissionId,
  type RoleMapping,
  roleFromGroups,
  type SocketRules,
  type SwitchKind,
} from '../src/pdu/permissions.js';

// ------------------------------------------------------------------ fixtures

const open: SocketRules = { number: 3, name: 'printer', protected: false, roles: [] };
const nas: SocketRules = {
  number: 5,
  name: 'nas',
  protected: false,
  roles: ['Homelab', '112233445566778899'],
};
const piSelf: SocketRules = { number: 1, name: 'pi-self', protected: true, roles: [] };
const core: SocketRules = { number: 2, name: 'core-switch', protected: true, roles: ['NetOps'] };
const unnamed: SocketRules = { number: 9, protected: false, roles: [] };

const admin: Caller = { role: 'admin', groups: ['Admins'] };
const operator: Caller = { role: 'operator', groups: ['Operators'] };
const homelabOperator: Caller = { role: 'operator', groups: ['Operators', 'HOMELAB'] };
const idOperator: Caller = { role: 'operator', groups: ['Operators', '112233445566778899'] };
const netopsOperator: Caller = { role: 'operator', groups: ['netops'] };
const viewer: Caller = { role: 'viewer', groups: ['@everyone', 'Homelab'] };
const nobody: Caller = { role: null, groups: ['Homelab'] };

function expectCheck(check: Check, expected: true | PermissionId, contains?: RegExp): void {
  if (expected === true) {
    assert.deepEqual(check, { ok: true });
    return;
  }
  assert.equal(check.ok, false, `expected a refusal (${expected})`);
  if (check.ok) return;
  assert.equal(check.id, expected);
  if (contains) assert.match(check.message, contains);
}

// ------------------------------------------------------------------ tests

describe('canSwitch: every rule and edge', () => {
  type Row = [
    name: string,
    caller: Caller,
    socket: SocketRules,
    action: SwitchKind,
    isOn: boolean | null,
    expected: true | PermissionId,
    message?: RegExp,
  ];
  const cases: Row[] = [
    // no role, viewers
    ['no role at all', nobody, open, 'on', false, 'noRole', /no PiPDU role.*viewer.*operator/],
    [
      'viewer on an open socket',
      viewer,
      open,
      'on',
      false,
      'notOperator',
      /socket 3 \(printer\) needs the operator role; you are a viewer/,
    ],
    ['viewer holding a socket role still reads only', viewer, nas, 'on', false, 'notOperator'],
    // operators on open sockets
    ['operator on an open socket: on', operator, open, 'on', false, true],
    ['operator on an open socket: off', operator, open, 'off', true, true],
    ['operator on an open socket: toggle', operator, open, 'toggle', true, true],
    ['operator on an open socket: cycle', operator, open, 'cycle', null, true],
    ['operator on an unnamed socket', operator, unnamed, 'off', true, true],
    // sockets with roles
    [
      'operator without the socket role',
      operator,
      nas,
      'off',
      true,
      'socketRoles',
      /socket 5 \(nas\).*one of its roles \(Homelab, 112233445566778899\)/,
    ],
    ['operator with the role name in another case', homelabOperator, nas, 'off', true, true],
    ['operator with the role given by id', idOperator, nas, 'cycle', true, true],
    ['operator without the role, switching on', operator, nas, 'on', false, 'socketRoles'],
    // protected sockets, no roles
    [
      'operator: protected socket off',
      operator,
      piSelf,
      'off',
      true,
      'protectedOff',
      /^socket 1 \(pi-self\) is protected: switching it off needs the admin role$/,
    ],
    [
      'operator: protected socket off while it is already off',
      operator,
      piSelf,
      'off',
      false,
      'protectedOff',
    ],
    [
      'operator: protected socket cycle',
      operator,
      piSelf,
      'cycle',
      true,
      'protectedOff',
      /cycling it switches it off/,
    ],
    [
      'operator: protected toggle while on',
      operator,
      piSelf,
      'toggle',
      true,
      'protectedOff',
      /toggling it while it is on/,
    ],
    ['operator: protected toggle, state unknown', operator, piSelf, 'toggle', null, 'protectedOff'],
    [
      'operator: protected socket without roles, on',
      operator,
      piSelf,
      'on',
      false,
      'protectedSocket',
      /is protected: switching it needs the admin role$/,
    ],
    [
      'operator: protected socket without roles, toggle while off',
      operator,
      piSelf,
      'toggle',
      false,
      'protectedSocket',
    ],
    // protected sockets with roles
    ['operator with the role: protected on', netopsOperator, core, 'on', false, true],
    ['operator with the role: protected toggle while off', netopsOperator, core, 'toggle', false, true],
    [
      'operator with the role: protected toggle while on',
      netopsOperator,
      core,
      'toggle',
      true,
      'protectedOff',
    ],
    ['operator with the role: protected off', netopsOperator, core, 'off', true, 'protectedOff'],
    ['operator with the role: protected cycle', netopsOperator, core, 'cycle', false, 'protectedOff'],
    [
      'operator without the role: protected on',
      operator,
      core,
      'on',
      false,
      'protectedSocket',
      /admin role or one of its roles \(NetOps\)/,
    ],
    // admins
    // admins
    ...(['on', 'off', 'toggle', 'cycle'] as const).flatMap((action) =>
      [open, nas, piSelf, core, unnamed].flatMap((socket) =>
        [true, false, null].map(
          (isOn): Row => [
            `admin: ${action} socket ${socket.number} (on: ${isOn})`,
            admin,
            socket,
            action,
            isOn,
            true,
          ],
        ),
      ),
    ),
  ];
  for (const [name, caller, socket, action, isOn, expected, message] of cases) {
    test(name, () => expectCheck(canSwitch(caller, socket, action, isOn), expected, message));
  }

  test('a socket without a name is named by its number', () => {
    expectCheck(canSwitch(viewer, unnamed, 'on', false), 'notOperator', /switching socket 9 needs/);
  });

  test('@everyone in a socket role list admits every operator', () => {
    const everyone: SocketRules = { number: 7, name: 'lamp', protected: false, roles: ['@everyone'] };
    expectCheck(canSwitch(operator, everyone, 'off', true), true);
    expectCheck(canSwitch(viewer, everyone, 'off', true), 'notOperator');
  });

  test('a long role list is shortened in the message', () => {
    const many: SocketRules = {
      number: 8,
      name: 'lab',
      protected: false,
      roles: ['a', 'b', 'c', 'd', 'e', 'f', 'g'],
    };
    expectCheck(canSwitch(operator, many, 'on', false), 'socketRoles', /\(a, b, c, d, e, …\)/);
  });
});

describe('canSwitchAll, canForce, canAdminister', () => {
  const callers: [string, Caller, true | PermissionId][] = [
    ['admin', admin, true],
    ['operator', homelabOperator, 'adminOnly'],
    ['viewer', viewer, 'adminOnly'],
    ['no role', nobody, 'noRole'],
  ];
  for (const [who, caller, expected] of callers) {
    test(`${who}: all-on, all-off without and with protected`, () => {
      expectCheck(canSwitchAll(caller, 'on', false), expected);
      expectCheck(canSwitchAll(caller, 'off', false), expected);
      expectCheck(canSwitchAll(caller, 'off', true), expected);
    });
    test(`${who}: force, reload, log`, () => {
      expectCheck(canForce(caller, nas), expected);
      expectCheck(canForce(caller), expected);
      expectCheck(canAdminister(caller, 'reloading the config'), expected);
      expectCheck(canAdminister(caller), expected);
    });
  }

  test('messages say what needs the admin role and what the caller is', () => {
    expectCheck(
      canSwitchAll(operator, 'off', false),
      'adminOnly',
      /^switching every socket off needs the admin role; you are an operator$/,
    );
    expectCheck(canSwitchAll(viewer, 'off', true), 'adminOnly', /protected ones included.*you are a viewer/);
    expectCheck(canSwitchAll(operator, 'on', true), 'adminOnly', /^switching every socket on needs/);
    expectCheck(
      canForce(operator, nas),
      'adminOnly',
      /forcing socket 5 \(nas\) off \(skipping its shutdown hooks\)/,
    );
    expectCheck(
      canAdminister(operator, 'reloading the config'),
      'adminOnly',
      /^reloading the config needs the admin role/,
    );
  });
});

describe('canRead', () => {
  for (const [who, caller] of [
    ['admin', admin],
    ['operator', operator],
    ['viewer', viewer],
  ] as const) {
    test(`${who} reads`, () => expectCheck(canRead(caller), true));
  }
  test('no role reads nothing', () => expectCheck(canRead(nobody), 'noRole'));
});

describe('canCancel', () => {
  const cases: [string, Caller, SocketRules, true | PermissionId][] = [
    ['admin, any socket', admin, piSelf, true],
    ['operator, open socket', operator, open, true],
    ['operator with the socket role (case differs)', homelabOperator, nas, true],
    ['operator without the socket role', operator, nas, 'socketRoles'],
    ['operator with the role of a protected socket', netopsOperator, core, true],
    ['operator, protected socket without roles', operator, piSelf, 'protectedSocket'],
    ['viewer', viewer, open, 'notOperator'],
    ['no role', nobody, open, 'noRole'],
  ];
  for (const [name, caller, socket, expected] of cases) {
    test(name, () => expectCheck(canCancel(caller, socket), expected));
  }
  test('a viewer is told cancelling needs the operator role', () => {
    expectCheck(
      canCancel(viewer, nas),
      'notOperator',
      /cancelling work on socket 5 \(nas\) needs the operator role/,
    );
  });
});

describe('needsConfirmation and mayEndOff', () => {
  const cases: [SocketRules | 'all', SwitchKind, boolean | null, boolean][] = [
    [piSelf, 'off', true, true],
    [piSelf, 'off', false, true],
    [piSelf, 'cycle', true, true],
    [piSelf, 'cycle', false, true],
    [piSelf, 'toggle', true, true],
    [piSelf, 'toggle', null, true],
    [piSelf, 'toggle', false, false],
    [piSelf, 'on', false, false],
    [piSelf, 'on', true, false],
    [open, 'off', true, false],
    [open, 'cycle', true, false],
    [open, 'toggle', true, false],
    ['all', 'on', null, true],
    ['all', 'off', null, true],
  ];
  for (const [socket, action, isOn, expected] of cases) {
    const where = socket === 'all' ? 'all sockets' : `${socket.protected ? 'protected' : 'open'} socket`;
    test(`${where}: ${action} while ${isOn === null ? 'unknown' : isOn ? 'on' : 'off'} → ${expected}`, () => {
      assert.equal(needsConfirmation(socket, action, isOn), expected);
    });
  }
  test('mayEndOff', () => {
    assert.equal(mayEndOff('on', true), false);
    assert.equal(mayEndOff('off', false), true);
    assert.equal(mayEndOff('cycle', false), true);
    assert.equal(mayEndOff('toggle', true), true);
    assert.equal(mayEndOff('toggle', false), false);
    assert.equal(mayEndOff('toggle', null), true);
  });
  test('whatever needs a confirmation on one socket needs an admin', () => {
    for (const socket of [open, nas, piSelf, core]) {
      for (const action of ['on', 'off', 'toggle', 'cycle'] as const) {
        for (const isOn of [true, false, null]) {
          if (!needsConfirmation(socket, action, isOn)) continue;
          for (const caller of [operator, homelabOperator, netopsOperator, idOperator]) {
            assert.equal(canSwitch(caller, socket, action, isOn).ok, false);
          }
        }
      }
    }
  });
});

describe('roleFromGroups', () => {
  const mapping: RoleMapping = {
    admin: ['Admins', '900000000000000001'],
    operator: ['Homelab'],
    viewer: ['Guests'],
  };
  const cases: [string, string[], RoleMapping, Role | null][] = [
    ['an admin role by name', ['Admins'], mapping, 'admin'],
    ['an admin role by id', ['someone', '900000000000000001'], mapping, 'admin'],
    ['names match in any case', ['hOMELAB'], mapping, 'operator'],
    ['surrounding blanks are ignored', [' homelab '], mapping, 'operator'],
    ['the highest role wins', ['Guests', 'Homelab', 'ADMINS'], mapping, 'admin'],
    ['a viewer role', ['guests'], mapping, 'viewer'],
    ['no matching role', ['Strangers'], mapping, null],
    ['no roles at all', [], mapping, null],
    ['@everyone as viewer admits every member', [], { ...mapping, viewer: ['@everyone'] }, 'viewer'],
    [
      '@everyone as viewer does not lower an operator',
      ['Homelab'],
      { ...mapping, viewer: ['@everyone'] },
      'operator',
    ],
    ['@everyone in any case', ['x'], { admin: [], operator: ['@Everyone'], viewer: [] }, 'operator'],
    ['empty mapping', ['Admins'], { admin: [], operator: [], viewer: [] }, null],
  ];
  for (const [name, groups, map, expected] of cases) {
    test(name, () => assert.equal(roleFromGroups(groups, map), expected));
  }
});

describe('hasRole and forbiddenError', () => {
  test('role order', () => {
    assert.equal(hasRole('admin', 'operator'), true);
    assert.equal(hasRole('operator', 'operator'), true);
    assert.equal(hasRole('viewer', 'operator'), false);
    assert.equal(hasRole(null, 'viewer'), false);
  });
  test('a refusal becomes a FORBIDDEN PduError with its message', () => {
    const check = canSwitch(operator, piSelf, 'off', true);
    assert.equal(check.ok, false);
    if (check.ok) return;
    const error = forbiddenError(check);
    assert.equal(error.code, 'FORBIDDEN');
    assert.equal(error.message, check.message);
  });
});
