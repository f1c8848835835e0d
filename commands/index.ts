import pdu from './pdu.js';
import socket from './socket.js';
import sockets from './sockets.js';
import status from './status.js';
import type { Command } from './types.js';

export type { Command, CommandContext } from './types.js';

/** Every slash command, for the bot and for deploy-commands.ts. */
export const commands: readonly Command[] = [socket, sockets, status, pdu];
