// The far side of the benchmark's pty pair: one process that echoes `ECHO …`
// lines straight back (the raw floor) and hands every other line to the PRP/1
// simulator, so both measurements cross the same link and the same process.
import { SerialPort } from 'serialport';
import { SimulatedBoard } from '../hardware/simulated-board.js';

const path = process.argv[2];
if (!path) throw new Error('usage: far-side.ts <pty path>');
const port = new SerialPort({ path, baudRate: 115200, hupcl: false });
port.on('error', (error) => {
  process.stderr.write(`far side: ${error.message}\n`);
});
const board = new SimulatedBoard({ telemetryIntervalMs: 0 });
board.on('output', (text) => port.write(text));
let buffer = '';
port.on('data', (chunk: Buffer) => {
  buffer += chunk.toString('latin1');
  for (let end = buffer.indexOf('\n'); end !== -1; end = buffer.indexOf('\n')) {
    const line = buffer.slice(0, end + 1);
    buffer = buffer.slice(end + 1);
    if (line.startsWith('ECHO')) port.write(line);
    else board.receive(line);
  }
});
port.on('open', () => {
  board.start();
  process.stdout.write('ready\n');
});
process.on('SIGTERM', () => {
  board.stop();
  port.close(() => process.exit(0));
});
