import { SlashCommandBuilder } from 'discord.js';
import { statusEmbed } from '../src/bot/embeds.js';
import { canRead } from '../src/pdu/permissions.js';
import { inGuilds } from './options.js';
import type { Command } from './types.js';

const data = inGuilds(new SlashCommandBuilder())
  .setName('status')
  .setDescription('Every socket: state, power, pending work; the board; energy and the last 24 h');

const command: Command = {
  data,
  async execute(_interaction, context) {
    const check = canRead(context.by);
    if (!check.ok) return context.refuse(check, 'status', null);
    const { energy } = context;
    const options = energy
      ? { energy: energy.figures(null), history: energy.lastDay(null), alarms: energy.activeAlarms() }
      : {};
    await context.respond({
      embeds: [
        statusEmbed(context.service.status(), {
          time: new Date().toISOString(),
          ...options,
          ...context.boardTimes(),
        }),
      ],
    });
  },
};

export default command;
