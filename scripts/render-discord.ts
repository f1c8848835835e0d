// `node --import tsx scripts/render-discord.ts [--readme] [payloads.json] [out-dir]`: draws the bot's
// messages the way Discord's dark theme shows them, at desktop and phone widths, to PNG
// (Debian's chromium through playwright-core), so that a change can be looked at.
//
// - With a payloads file (written by `PIPDU_DISCORD_CAPTURE=<file> node --import tsx --test
//   test/bot-glance.test.ts`: what the real bot sent the fake Discord), each payload is drawn.
// - Without one, a sample homelab's messages are made with the bot's own embed functions.
//
// Writes <out-dir>/<name>.png (desktop, 720 px) and <name>-phone.png (390 px) per message
// (out-dir: /tmp/pipdu-discord by default), and discord-desktop.png and discord-phone.png: a
// few messages together; with --readme those two go to docs/ (the README shows them).
// Emoji need Debian's fonts-noto-color-emoji.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { samplePayloads } from './discord-samples.js';

// biome-ignore lint/suspicious/noExplicitAny: JSON payloads as Discord receives them
type Json = any;

interface Captured {
  name: string;
  message: { content?: string; embeds?: Json[]; components?: Json[] };
}

const DESKTOP = 720;
const PHONE = 390;

/** Discord's dark theme, near enough to judge layout, wrapping and colour. */
const CSS = `
  body { margin: 0; background: #313338; color: #dbdee1; font: 16px/1.375 "gg sans", "Noto Sans", "DejaVu Sans", "Noto Color Emoji"; }
  .msg { display: flex; gap: 12px; padding: 10px 12px 10px 12px; }
  .avatar { width: 40px; height: 40px; border-radius: 50%; background: #5865f2; flex: none; display: grid; place-items: center; color: #fff; font-weight: 700; }
  .body { min-width: 0; flex: 1; }
  .name { color: #f2f3f5; font-weight: 600; } .bot { background: #5865f2; color: #fff; font-size: 10px; border-radius: 3px; padding: 1px 4px; margin-left: 4px; vertical-align: 2px; }
  .when { color: #949ba4; font-size: 12px; margin-left: 6px; }
  .content { white-space: pre-wrap; overflow-wrap: anywhere; }
  .embed { margin-top: 4px; max-width: 520px; background: #2b2d31; border-left: 4px solid; border-radius: 4px; padding: 8px 16px 16px 12px; }
  .etitle { color: #f2f3f5; font-weight: 600; margin-top: 8px; overflow-wrap: anywhere; }
  .edesc { font-size: 14px; margin-top: 8px; white-space: pre-wrap; overflow-wrap: anywhere; }
  .fields { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 8px; margin-top: 8px; font-size: 14px; }
  .field { grid-column: 1 / -1; } .field.inline { grid-column: auto; }
  .fname { color: #f2f3f5; font-weight: 600; } .fvalue { white-space: pre-wrap; overflow-wrap: anywhere; }
  .footer { color: #b5bac1; font-size: 12px; margin-top: 8px; }
  pre { background: #1e1f22; border: 1px solid #1e1f22; border-radius: 4px; padding: 7px; margin: 6px 0; font: 13.5px/1.3 "Noto Sans Mono", "DejaVu Sans Mono", "Noto Color Emoji"; white-space: pre-wrap; overflow-wrap: anywhere; }
  code { background: #1e1f22; border-radius: 3px; padding: 0 3px; font: 13.5px "Noto Sans Mono", "DejaVu Sans Mono", "Noto Color Emoji"; }
  .sub { color: #949ba4; font-size: 12px; }
  .time { background: #3f4147; border-radius: 3px; padding: 0 2px; }
  .role { background: rgba(88,101,242,.3); color: #c9cdfb; border-radius: 3px; padding: 0 2px; }
  a { color: #00a8fc; text-decoration: none; }
  .row { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 8px; }
  .button { color: #fff; border-radius: 8px; padding: 2px 16px; height: 32px; display: inline-flex; align-items: center; font-size: 14px; font-weight: 500; }
  .s1 { background: #5865f2; } .s2 { background: #4e5058; } .s3 { background: #248046; } .s4 { background: #da373c; }
  .gap { height: 8px; }
`;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

/** `<t:…:R>` as Discord shows it, relative to `now`. */
function timestamp(seconds: number, style: string, now: number): string {
  const date = new Date(seconds * 1000);
  if (style === 'R') {
    const diff = Math.round((seconds * 1000 - now) / 1000);
    const abs = Math.abs(diff);
    const [n, unit] =
      abs < 60
        ? [abs, 'second']
        : abs < 3600
          ? [Math.round(abs / 60), 'minute']
          : [Math.round(abs / 3600), 'hour'];
    const words = `${n} ${unit}${n === 1 ? '' : 's'}`;
    return diff >= 0 ? `in ${words}` : `${words} ago`;
  }
  if (style === 't') return date.toISOString().slice(11, 16);
  if (style === 'd') return date.toISOString().slice(0, 10);
  return date.toISOString().slice(0, 16).replace('T', ' ');
}

/** The markdown the bot uses: code blocks, subtext, bold, inline code, strike, links, timestamps, role mentions, escapes. */
function markdown(text: string, now: number): string {
  const blocks = text.split(/```\n?/);
  return blocks
    .map((part, i) => {
      if (i % 2 === 1) return `<pre>${escapeHtml(part.replace(/\n$/, ''))}</pre>`;
      return part
        .split('\n')
        .map((line) => {
          const sub = line.startsWith('-# ');
          let html = escapeHtml(sub ? line.slice(3) : line);
          html = html
            .replace(/\\([\\*_`~|[\]()#>-])/g, (_, c: string) => `&#${c.charCodeAt(0)};`)
            .replace(/\*\*(.+?)\*\*/g, '<b>$1</b>')
            .replace(/`([^`]+)`/g, '<code>$1</code>')
            .replace(/~~(.+?)~~/g, '<s>$1</s>')
            .replace(/\[([^\]]+)\]\(&lt;(.+?)&gt;\)/g, '<a>$1</a>')
            .replace(
              /&lt;t:(\d+):([RtTdDfF])&gt;/g,
              (_, s: string, style: string) =>
                `<span class="time">${timestamp(Number(s), style, now)}</span>`,
            )
            .replace(/&lt;@&amp;\d+&gt;/g, '<span class="role">@Homelab</span>')
            .replace(/\u200b/g, '');
          return sub ? `<span class="sub">${html}</span>` : html;
        })
        .join('\n');
    })
    .join('');
}

function embedHtml(embed: Json, now: number): string {
  const color = `#${(embed.color ?? 0x1e1f22).toString(16).padStart(6, '0')}`;
  const fields = (embed.fields ?? [])
    .map(
      (field: Json) =>
        `<div class="field${field.inline ? ' inline' : ''}"><div class="fname">${markdown(field.name, now)}</div><div class="fvalue">${markdown(field.value, now)}</div></div>`,
    )
    .join('');
  const footer = [
    embed.footer?.text ? escapeHtml(embed.footer.text) : null,
    embed.timestamp ? 'Today at 12:00' : null,
  ]
    .filter(Boolean)
    .join(' • ');
  return `<div class="embed" style="border-color:${color}">
    ${embed.title ? `<div class="etitle">${markdown(embed.title, now)}</div>` : ''}
    ${embed.description ? `<div class="edesc">${markdown(embed.description, now)}</div>` : ''}
    ${fields ? `<div class="fields">${fields}</div>` : ''}
    ${footer ? `<div class="footer">${footer}</div>` : ''}
  </div>`;
}

function messageHtml(message: Captured['message'], now: number): string {
  const rows = (message.components ?? [])
    .map(
      (row: Json) =>
        `<div class="row">${row.components.map((b: Json) => `<span class="button s${b.style}">${escapeHtml(b.label ?? '')}</span>`).join('')}</div>`,
    )
    .join('');
  return `<div class="msg"><div class="avatar">P</div><div class="body">
    <div><span class="name">PiPDU</span><span class="bot">APP</span><span class="when">Today at 12:00</span></div>
    ${message.content ? `<div class="content">${markdown(message.content, now)}</div>` : ''}
    ${(message.embeds ?? []).map((embed) => embedHtml(embed, now)).join('')}
    ${rows}
  </div></div>`;
}

function page(messages: Captured['message'][], now: number): string {
  return `<!doctype html><meta charset="utf-8"><style>${CSS}</style><body>${messages
    .map((message) => messageHtml(message, now))
    .join('<div class="gap"></div>')}</body>`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const readme = args.includes('--readme');
  const [input, outDir = '/tmp/pipdu-discord'] = args.filter((arg) => arg !== '--readme');
  await mkdir(outDir, { recursive: true });
  const pictures = readme ? 'docs' : outDir;
  const now = Date.now();
  const payloads: Captured[] =
    input && input !== '-' ? JSON.parse(await readFile(input, 'utf8')) : samplePayloads(now);
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
  try {
    const shoot = async (html: string, width: number, file: string) => {
      const tab = await browser.newPage({ viewport: { width, height: 200 }, deviceScaleFactor: 1 });
      try {
        await tab.setContent(html);
        await tab.screenshot({ path: file, fullPage: true });
      } finally {
        await tab.close();
      }
    };
    for (const { name, message } of payloads) {
      await shoot(page([message], now), DESKTOP, join(outDir, `${name}.png`));
      await shoot(page([message], now), PHONE, join(outDir, `${name}-phone.png`));
    }
    const pick = (names: string[]) =>
      names.map((name) => payloads.find((p) => p.name === name)?.message).filter((m) => m !== undefined);
    await shoot(page(pick(['status', 'failure']), now), DESKTOP, join(pictures, 'discord-desktop.png'));
    await shoot(
      page(pick(['progress-running', 'status-offline']), now),
      PHONE,
      join(pictures, 'discord-phone.png'),
    );
  } finally {
    await browser.close();
  }
}

await main();
