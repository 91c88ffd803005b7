'use strict';
// WebSocket echo load client for the benchmark harness (benchmarks/run.py).
//
// Opens N connections to a WebSocket echo endpoint; each connection sends one binary message,
// waits for its echo, and sends the next, for a warm-up period and then a measured period.
// Prints one JSON object: messages per second, latency percentiles (ms), errors, and the
// client's own CPU use over the measured period so a reader can tell whether the client,
// not the server, was the limit (100% means one core saturated).
//
//   node ws_client.cjs --url ws://127.0.0.1:8000/ws --connections 16 --size 16 \
//                      --warmup 2 --duration 10
//
// Needs the npm package ws (and optionally bufferutil) on NODE_PATH.

const { performance } = require('node:perf_hooks');
const WebSocket = require('ws');

function parseArgs(argv) {
  const options = { url: '', connections: 16, size: 16, warmup: 2, duration: 10 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in options)) throw new Error(`unknown option ${argv[i]}`);
    options[key] = key === 'url' ? argv[i + 1] : Number(argv[i + 1]);
  }
  if (!options.url) throw new Error('--url is required');
  return options;
}

function percentile(sorted, fraction) {
  if (sorted.length === 0) return null;
  const index = Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1);
  return sorted[Math.max(0, index)];
}

const options = parseArgs(process.argv.slice(2));
const payload = Buffer.alloc(options.size, 0x78);
const sockets = [];
const latencies = [];
let phase = 'connecting'; // then 'warmup', 'measure', 'done'
let opened = 0;
let messages = 0;
let errors = 0;
let closedEarly = 0;
let wrongLength = 0;
let cpuAtStart = null;
let measureStartedAt = 0;

// Bounded: whatever happens, the client exits.
const hardDeadline = setTimeout(() => {
  console.log(JSON.stringify({ error: 'hard deadline passed', opened }));
  process.exit(2);
}, (options.warmup + options.duration + 30) * 1000);

function startPhases() {
  if (phase !== 'connecting') return;
  phase = 'warmup';
  setTimeout(() => {
    phase = 'measure';
    messages = 0;
    cpuAtStart = process.cpuUsage();
    measureStartedAt = performance.now();
    setTimeout(finish, options.duration * 1000);
  }, options.warmup * 1000);
}

function finish() {
  const seconds = (performance.now() - measureStartedAt) / 1000;
  const cpu = process.cpuUsage(cpuAtStart);
  phase = 'done';
  latencies.sort((a, b) => a - b);
  const result = {
    connections: options.connections,
    opened,
    size: options.size,
    seconds,
    messages,
    msgs_per_s: messages / seconds,
    p50_ms: percentile(latencies, 0.5),
    p99_ms: percentile(latencies, 0.99),
    errors,
    closed_early: closedEarly,
    wrong_length: wrongLength,
    cpu_percent: (100 * (cpu.user + cpu.system)) / 1e6 / seconds,
  };
  console.log(JSON.stringify(result));
  for (const socket of sockets) socket.terminate();
  clearTimeout(hardDeadline);
  setImmediate(() => process.exit(0));
}

function connect() {
  const socket = new WebSocket(options.url, { perMessageDeflate: false });
  let sentAt = 0;
  const sendOne = () => {
    sentAt = performance.now();
    socket.send(payload, { binary: true, compress: false });
  };
  socket.binaryType = 'nodebuffer';
  socket.on('open', () => {
    opened += 1;
    if (opened === options.connections) startPhases();
    sendOne();
  });
  socket.on('message', (data) => {
    if (data.length !== options.size) wrongLength += 1;
    if (phase === 'measure') {
      messages += 1;
      latencies.push(performance.now() - sentAt);
    }
    if (phase !== 'done') sendOne();
  });
  socket.on('error', () => {
    errors += 1;
  });
  socket.on('close', () => {
    if (phase !== 'done') closedEarly += 1;
  });
  sockets.push(socket);
}

for (let i = 0; i < options.connections; i += 1) connect();
// If some connections never open, measure with those that did rather than wait forever.
setTimeout(startPhases, 10000);
