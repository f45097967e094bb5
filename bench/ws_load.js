// WebSocket load for bench/proxy.sh, on Node's ws module (NODE_PATH=/usr/share/nodejs).
//
//   node ws_load.js serve
//     An echo server on an ephemeral loopback port (plain ws://); prints
//     "ws_load: listening on 127.0.0.1:PORT".
//   node ws_load.js load URL BYTES SECONDS CONNECTIONS WINDOW
//     CONNECTIONS clients (TLS not verified), each keeping WINDOW binary messages of BYTES in
//     flight and sending the next one as each echo comes back, for SECONDS; prints
//     "messages N" (echoes received) and exits.
'use strict';
const WebSocket = require('ws');

const [mode, ...args] = process.argv.slice(2);

if (mode === 'serve') {
  const server = new WebSocket.Server({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  server.on('listening', () => console.log('ws_load: listening on 127.0.0.1:' + server.address().port));
  server.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })));
} else if (mode === 'load') {
  const [url, bytes, seconds, connections, windowSize] = args;
  // Loopback only, and bounded: a load generator must never aim anywhere else.
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname) ||
      !(Number(seconds) > 0 && Number(seconds) <= 600)) {
    console.error('ws_load: loopback URLs and 1-600 s only');
    process.exit(2);
  }
  const payload = Buffer.alloc(Number(bytes), 0x61);
  let received = 0;
  let open = 0;
  let stopping = false;
  const sockets = [];
  for (let i = 0; i < Number(connections); i++) {
    const ws = new WebSocket(url, { rejectUnauthorized: false, perMessageDeflate: false });
    sockets.push(ws);
    ws.on('error', (e) => {
      console.error('ws_load: ' + e.message);
      process.exit(1);
    });
    ws.on('open', () => {
      open += 1;
      for (let k = 0; k < Number(windowSize); k++) ws.send(payload);
    });
    ws.on('message', () => {
      received += 1;
      if (!stopping) ws.send(payload);
    });
  }
  setTimeout(() => {
    stopping = true;
    console.log('messages ' + received);
    if (open !== Number(connections)) console.error('ws_load: only ' + open + ' connections opened');
    for (const ws of sockets) ws.terminate();
    process.exit(0);
  }, Number(seconds) * 1000);
} else {
  console.error('usage: ws_load.js serve | load URL BYTES SECONDS CONNECTIONS WINDOW');
  process.exit(2);
}
