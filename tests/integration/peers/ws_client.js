// A WebSocket client on Node's `ws` module (Debian's node-ws: run with NODE_PATH=/usr/share/nodejs),
// a second client implementation for the proxy tests. It does not verify the server's
// certificate.
//
//   node ws_client.js URL N BYTES CODE
//     On one connection to URL: N small text messages then their echoes in order, one binary
//     message of BYTES echoed, a ping answered by a pong, then a close with CODE. Prints
//     "many: N in order", "big: BYTES echoed", "ping: pong", "close: CODE" (the code the
//     server's close frame carried back). Exits 1 with "ws_client: FAIL: ..." otherwise.
'use strict';
const crypto = require('crypto');
const WebSocket = require('ws');

const [url, countText, bytesText, codeText] = process.argv.slice(2);
const count = Number(countText);
const bytes = Number(bytesText);
const code = Number(codeText);

function fail(message) {
  console.error('ws_client: FAIL: ' + message);
  process.exit(1);
}

setTimeout(() => fail('timed out'), 60000).unref();

const ws = new WebSocket(url, { rejectUnauthorized: false, maxPayload: 0, perMessageDeflate: false });
const big = crypto.randomBytes(bytes);
let received = 0;
let phase = 'many';

ws.on('error', (e) => fail('error: ' + e.message));
ws.on('open', () => {
  for (let i = 0; i < count; i++) ws.send('message ' + i);
});
ws.on('message', (data, isBinary) => {
  if (phase === 'many') {
    const text = data.toString();
    if (isBinary || text !== 'message ' + received) fail('echo ' + received + ' was ' + text.slice(0, 40));
    received += 1;
    if (received === count) {
      console.log('many: ' + count + ' in order');
      phase = 'big';
      ws.send(big);
    }
  } else if (phase === 'big') {
    if (!isBinary || !big.equals(data)) fail('big: the echo differs (' + data.length + ' bytes back)');
    console.log('big: ' + bytes + ' echoed');
    phase = 'ping';
    ws.ping(Buffer.from('are you there'));
  }
});
ws.on('pong', () => {
  console.log('ping: pong');
  phase = 'close';
  ws.close(code, 'node closes');
});
ws.on('close', (closeCode) => {
  if (phase !== 'close') fail('closed early with ' + closeCode);
  console.log('close: ' + closeCode);
  process.exit(0);
});
