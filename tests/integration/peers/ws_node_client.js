#!/usr/bin/env node
// A WebSocket client from Node's ws library (Debian's node-ws; run with
// NODE_PATH=/usr/share/nodejs) for an echo server's /ws: plain, or with --ca FILE over TLS
// verified for localhost.
//
//   ws_node_client.js many --port P --count N    N small text messages, all sent at once; checks
//                                                each echo, in order
//   ws_node_client.js big --port P --bytes N     one binary message of N bytes
//   ws_node_client.js fragmented --port P --parts K
//                                                a text message sent in K fragments (fin: false)
//   ws_node_client.js ping --port P              a ping with a payload; waits for its pong
//   ws_node_client.js close --port P --code C --reason R
//                                                closes with C and R; prints the code and reason
//                                                of the server's answering close
//   ws_node_client.js too-big --port P --bytes N one message of N bytes; prints the server's
//                                                close code
//
// Prints "ok: ..." or "closed CODE REASON"; exits 0, or 1 with "ws_node_client: FAIL: ..." on
// stderr.
'use strict';
const fs = require('fs');
const WebSocket = require('ws');

function fail(message) {
  process.stderr.write(`ws_node_client: FAIL: ${message}\n`);
  process.exit(1);
}

const argv = process.argv.slice(2);
const mode = argv[0];
const option = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : fallback;
};
const port = option('port');
const ca = option('ca');
const timeout = Number(option('timeout', '40')) * 1000;
setTimeout(() => fail(`${mode}: no result within the timeout`), timeout).unref();

const url = `${ca ? 'wss' : 'ws'}://localhost:${port}/ws`;
const ws = new WebSocket(url, ca ? {ca: fs.readFileSync(ca)} : {});
ws.on('error', (e) => fail(`${mode}: ${e.message}`));

const modes = {
  many() {
    const count = Number(option('count', '10000'));
    let next = 0;
    ws.on('message', (data, isBinary) => {
      if (isBinary || data.toString() !== `message ${next}`)
        fail(`echo ${next} was ${data.toString().slice(0, 40)}`);
      if (++next === count) {
        console.log(`ok: ${count} messages echoed in order`);
        ws.close(1000);
      }
    });
    for (let i = 0; i < count; ++i) ws.send(`message ${i}`);
  },
  big() {
    const bytes = Number(option('bytes'));
    const data = Buffer.alloc(bytes);
    for (let i = 0; i < bytes; ++i) data[i] = (i * 7 + 3) % 251;
    ws.on('message', (echo, isBinary) => {
      if (!isBinary || !data.equals(echo)) fail(`echo of ${bytes} bytes differs`);
      console.log(`ok: one message of ${bytes} bytes echoed`);
      ws.close(1000);
    });
    ws.send(data);
  },
  fragmented() {
    const parts = Number(option('parts', '5'));
    let whole = '';
    for (let i = 0; i < parts; ++i) {
      const part = `part ${i};`;
      whole += part;
      ws.send(part, {fin: i === parts - 1});
    }
    ws.on('message', (echo) => {
      if (echo.toString() !== whole) fail(`fragmented echo was ${echo.toString()}`);
      console.log(`ok: a text message of ${parts} fragments echoed whole`);
      ws.close(1000);
    });
  },
  ping() {
    ws.on('pong', (payload) => {
      if (payload.toString() !== 'ping payload') fail(`pong carried ${payload.toString()}`);
      console.log('ok: pong');
      ws.close(1000);
    });
    ws.ping('ping payload');
  },
  close() {
    ws.close(Number(option('code')), option('reason', ''));
  },
  'too-big'() {
    ws.on('message', () => fail('the server echoed a message over its limit'));
    ws.send(Buffer.alloc(Number(option('bytes'))));
  },
};

if (!(mode in modes)) fail(`unknown mode ${mode}`);
ws.on('open', () => modes[mode]());
ws.on('close', (code, reason) => {
  if (mode === 'close' || mode === 'too-big') console.log(`closed ${code} ${reason.toString()}`);
  process.exit(0);
});
