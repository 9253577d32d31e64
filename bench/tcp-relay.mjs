// A bare TCP relay in Node.js, a reference path for bench/pgbench.ts: bytes are copied both ways and nothing is
// parsed, checked or recorded — what any relay on the JavaScript event loop costs at least.
//   node bench/tcp-relay.mjs LISTEN_PORT TARGET_PORT     (prints "ready" once it listens on 127.0.0.1)
import net from 'node:net';

const [listenPort, targetPort] = process.argv.slice(2).map(Number);
net
  .createServer((client) => {
    client.setNoDelay(true);
    const target = net.connect(targetPort, '127.0.0.1', () => target.setNoDelay(true));
    client.pipe(target).pipe(client);
    const close = () => {
      client.destroy();
      target.destroy();
    };
    for (const s of [client, target]) {
      s.on('error', close);
      s.on('close', close);
    }
  })
  .listen(listenPort, '127.0.0.1', () => process.stdout.write('ready\n'));
