import { SlashCommandBuilder } from 'discord.js';
import { statusEmbed } from '../src/bot/embeds.js';
import { canRead } from '../src/pdu/permissions.js';
import type { Command } from './types.js';

const data = new SlashCommandBuilder()
  .setName('status')
  .setDescription('Every socket: state, power, pending work; the board')
  .setDMPermission(false);

const command: Command = {
  data,
  async execute(_interaction, context) {
    const check = canRead(context.by);
    if (!check.ok) return context.refuse(check, 'status', null);
    await context.respond({
      embeds: [statusEmbed(context.service.status(), { time: new Date().toISOString() })],
    });
  },
};

export default command;
