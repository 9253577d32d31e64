import net from 'node:net';

/**
 * Ask the kernel for a currently unused TCP port on the loopback interface.
 * There is an unavoidable (small) race between closing the probe socket and
 * the real server binding the port; callers that spawn servers retry on
 * "address in use".
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ host, port: 0, exclusive: true }, () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('freePort: unexpected server address'));
        return;
      }
      const { port } = addr;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}
